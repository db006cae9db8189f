"""ObjectMeta validation: the names and labels the API server accepts, whatever the kind.

Names follow the kind's rule (most kinds: an RFC 1123 subdomain; Services: an RFC 1035 label; RBAC
objects: a path segment); label keys are qualified names and values at most 63 characters.
"""

import re

from tests.kube.fielderrors import FieldError

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = re.compile(rf"^{DNS1123_LABEL}(\.{DNS1123_LABEL})*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com')"
)
LABEL_1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name')"
)
KEY_RULE = (
    "a label key is a name of at most 63 alphanumeric characters, '-', '_' or '.' (starting and ending "
    "with an alphanumeric one), optionally after a DNS subdomain prefix and '/'"
)
VALUE_RULE = (
    "a label value is empty or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending "
    "with an alphanumeric one"
)
NAME_RULES = {"Service": "dns1035", "Role": "segment", "RoleBinding": "segment"}


def _name_errors(name: str, kind: str) -> list[str]:
    rule = NAME_RULES.get(kind, "dns1123")
    if rule == "segment":
        bad = [s for s in ("/", "%") if s in name] or (["."] if name in (".", "..") else [])
        return [f"may not contain '{s}'" for s in bad]
    if rule == "dns1035":
        problems = [] if DNS1035_LABEL.match(name) else [LABEL_1035]
        return problems + (["must be no more than 63 characters"] if len(name) > 63 else [])
    problems = [] if DNS1123_SUBDOMAIN.match(name) else [SUBDOMAIN]
    return problems + (["must be no more than 253 characters"] if len(name) > 253 else [])


def _label_errors(labels: dict) -> list[FieldError]:
    errors = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        bad_prefix = bool(prefix) and not DNS1123_SUBDOMAIN.match(prefix)
        if not QUALIFIED_NAME.match(name) or len(name) > 63 or bad_prefix:
            errors.append(FieldError("metadata.labels", "Invalid value", KEY_RULE, key))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(FieldError(f"metadata.labels.{key}", "Invalid value", VALUE_RULE, value))
    return errors


def errors(meta: dict, kind: str) -> list[FieldError]:
    """What is wrong with an object's `metadata` (name present and well formed, labels well formed)."""
    name = meta.get("name")
    if not name:
        return [FieldError("metadata.name", "Required value", "name or generateName is required")]
    if not isinstance(name, str):
        return [FieldError("metadata.name", "type", "metadata.name in body must be of type string", name)]
    found = [
        FieldError("metadata.name", "Invalid value", problem, name) for problem in _name_errors(name, kind)
    ]
    labels = meta.get("labels")
    if isinstance(labels, dict):
        found += _label_errors(labels)
    return found
