"""Errors of the model layer: each says what happened and what to do next.

Third-party failures (PyOD, scikit-learn, ONNX Runtime, the filesystem) are translated into these
once, where they happen; the CLI maps them to exit codes and later the APIs to status codes.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.parity import ParityReport


class ModelError(Exception):
    """Base class: a model operation could not be done; the message tells the user why."""

    exit_code = 1


class InvalidInput(ModelError):
    """The data is unusable: wrong feature count, non-finite or non-numeric values, empty file."""

    exit_code = 2


class InvalidSpec(ModelError):
    """The request names an unknown detector, backend or parameter, or a value out of range."""

    exit_code = 2


class ModelNotFound(ModelError):
    """No such model or version in the store."""

    exit_code = 2


class IntegrityError(ModelError):
    """A stored version is tampered with or half-written; it is refused, never loaded."""


class UnsignedVersion(IntegrityError):
    """A stored version carries no signature (it was published before versions were signed)."""


class UnknownKey(IntegrityError):
    """A version is signed or encrypted with a key the keyring does not hold."""


class SignatureMismatch(IntegrityError):
    """A version's signature does not match it: it was modified or re-sealed without the key."""


class KeyringError(ModelError):
    """The keys folder cannot be used: a file that is no key, a pointer to a missing key, or no
    signing key where none can be created."""

    exit_code = 2


class StoreWriteFailed(ModelError):
    """The store could not take a new version (disk full, permissions); nothing was published."""


class ParityFailed(ModelError):
    """The compiled scorer disagrees with the reference beyond tolerance; nothing was published.

    `report` holds every measurement, the failing ones included.
    """

    def __init__(self, message: str, report: "ParityReport | None" = None):
        super().__init__(message)
        self.report = report


class CompileError(ModelError):
    """The fitted detector cannot be compiled by the chosen backend."""

    exit_code = 2
