"""List and watch selectors: which objects a `labelSelector` or `fieldSelector` picks.

Label selectors take the whole syntax (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`);
field selectors only `metadata.name` and `metadata.namespace`, the fields every custom resource
supports, and refuse others with 400 as a real server does for a custom resource.
"""

import re
from collections.abc import Callable

from tests.kube.status import ApiError

Matcher = Callable[[dict], bool]
TERM = re.compile(
    r"^\s*(?:(?P<absent>!)\s*(?P<key0>[^\s=!(),]+)"
    r"|(?P<key1>[^\s=!(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s=!(),]*)"
    r"|(?P<key2>[^\s=!(),]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)"
    r"|(?P<key3>[^\s=!(),]+))\s*$"
)


def _terms(selector: str) -> list[str]:
    """Split on the commas that separate terms (not those inside `in (...)`)."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t for t in terms if t.strip()]


def _label_term(term: str, selector: str) -> Callable[[dict], bool]:
    m = TERM.match(term)
    if m is None:
        raise ApiError(400, f"unable to parse requirement: {term!r} in labelSelector {selector!r}")
    if m["absent"]:
        return lambda labels: m["key0"] not in labels
    if m["op"]:
        key, value = m["key1"], m["value"]
        if m["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m["setop"]:
        key, values = m["key2"], {v.strip() for v in m["values"].split(",")}
        if m["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: m["key3"] in labels


def labels(selector: str) -> Matcher:
    """The objects whose labels satisfy every term of `selector`; 400 BadRequest if it does not parse."""
    terms = [_label_term(term, selector) for term in _terms(selector)]
    return lambda obj: all(term(obj.get("metadata", {}).get("labels") or {}) for term in terms)


def fields(selector: str) -> Matcher:
    """The objects whose `metadata.name` / `metadata.namespace` satisfy `selector`."""
    tests = []
    for term in _terms(selector):
        m = re.match(r"^\s*([^\s=!]+)\s*(==|=|!=)\s*(\S*)\s*$", term)
        if m is None:
            raise ApiError(400, f"invalid field selector: {term!r}")
        field, op, value = m.groups()
        if field not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, f"field label not supported: {field}")
        key = field.split(".")[1]
        tests.append((key, op != "!=", value))
    return lambda obj: all((obj["metadata"].get(key) == value) == equal for key, equal, value in tests)


def everything(obj: dict) -> bool:
    return True
