"""What can go wrong talking to Kubernetes, in the project's terms (no client import needed).

A 409 (the object changed since it was read, or already exists) is `runtime.conflict.Conflict`,
the one error of every guarded write: read the object again and retry.
"""


class KubeError(Exception):
    """The Kubernetes API refused a request or could not be reached; the message says why."""


class NotFound(KubeError):
    """The object (or its kind: a CRD not installed) does not exist."""


class Invalid(KubeError):
    """The API server rejected the object; the message lists its causes."""


def pointer(*parts: str | int) -> str:
    """The JSON pointer (RFC 6901) to `parts`, escaped, for JSON patches."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


RESOURCE_VERSION = pointer("metadata", "resourceVersion")
"""Set in every JSON patch: the API server answers 409 if the object changed since it was read."""
