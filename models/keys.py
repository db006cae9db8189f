"""The keyring: the keys that sign model versions and, when asked, encrypt their files at rest.

A keys folder holds one file per key, `<id>.key` (256 random bits as 64 hex digits), and two
pointers: `current-signing` names the key that signs new versions, `current-encryption` (absent:
files are stored in the clear) the key that encrypts their files. Every key stays usable by its id,
so a rotation (a new key made current) leaves older versions verifying and decrypting; a key is
retired by removing its file, after which versions it signed are refused.

The folder is `RAYNOMALY_KEYS_DIR`, else `keys/` in `RAYNOMALY_HOME` (default `./.raynomaly`). Its
layout is that of a Kubernetes Secret mounted as a folder (`kubectl create secret generic
raynomaly-keys --from-file=<folder>`). Locally the first publish creates a signing key; encryption
is opt-in: `raynomaly models keys new --encryption` creates a key and makes it current for
encryption, and every later publish encrypts (`rm <folder>/current-encryption` stops that; versions
already encrypted keep decrypting). Folders created here are 0700 and files 0600. Key material never
appears in a repr, a log line or an error: only key ids do.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from models.errors import KeyringError
from models.private import private_folder, write_private

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SIGNING, ENCRYPTION = "current-signing", "current-encryption"
_SECRET = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Key:
    """One key, known by its id; its secret is never shown."""

    id: str
    secret: bytes = field(repr=False)

    def derive(self, purpose: str) -> bytes:
        """A 256-bit key for one purpose (`sign`, `encrypt`): one stored key never serves two
        algorithms directly (pure)."""
        return hmac.new(self.secret, f"raynomaly/{purpose}/v1".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Keyring:
    """The keys of a keys folder by id, and which ones are current for signing and encryption."""

    folder: Path
    keys: dict[str, Key] = field(default_factory=dict)
    signing: str | None = None
    encryption: str | None = None

    def get(self, key_id: str) -> Key | None:
        """The key with this id, None if the keyring lacks it."""
        return self.keys.get(key_id)

    @property
    def signing_key(self) -> Key:
        """The current signing key; KeyringError if there is none."""
        if self.signing is None:
            raise KeyringError(
                f"no current signing key in {self.folder}; create one with 'raynomaly models keys new'"
            )
        return self.keys[self.signing]

    @property
    def encryption_key(self) -> Key | None:
        """The current encryption key, None when new versions are stored in the clear."""
        return None if self.encryption is None else self.keys[self.encryption]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not text"
        raise KeyringError(f"cannot read {path}: {reason}; fix its permissions or restore it") from e


def _pointer(folder: Path, name: str, keys: dict[str, Key]) -> str | None:
    path = folder / name
    if not path.exists():
        return None
    key_id = _read(path)
    if key_id not in keys:
        raise KeyringError(
            f"{path} names key {key_id[:64]!r}, which is not in {folder}; restore {key_id[:64]}.key "
            f"there, or make another key current with 'raynomaly models keys new'"
        )
    return key_id


def load(folder: Path) -> Keyring:
    """The keyring in `folder` (empty if the folder does not exist); KeyringError naming a file that
    is not a key or a pointer that names a missing key. Nothing is written: a read-only mount works."""
    keys = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.key")):
            if not ID.fullmatch(path.stem):
                continue
            text = _read(path).lower()
            if not _SECRET.fullmatch(text):
                raise KeyringError(
                    f"{path} is not a key (64 hex digits); restore it from where the keys are kept, "
                    "or remove it"
                )
            keys[path.stem] = Key(path.stem, bytes.fromhex(text))
    return Keyring(folder, keys, _pointer(folder, SIGNING, keys), _pointer(folder, ENCRYPTION, keys))


def new_key(folder: Path, *, encryption: bool = False) -> Keyring:
    """Create a key in `folder` (0600, in a 0700 folder) and make it current for signing, or with
    `encryption` for encrypting; the keyring after. KeyringError if the folder cannot be written."""
    key_id = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    try:
        private_folder(folder)
        write_private(folder / f"{key_id}.key", secrets.token_hex(32))
        write_private(folder / (ENCRYPTION if encryption else SIGNING), key_id)
    except OSError as e:
        raise KeyringError(
            f"cannot write a key to {folder}: {e.strerror or e}; fix its permissions, or point "
            "RAYNOMALY_KEYS_DIR at a folder you own"
        ) from e
    return load(folder)


def with_signing_key(folder: Path) -> Keyring:
    """The keyring in `folder`, with a signing key created on first use (as a local install
    needs no setup); KeyringError if there is none and none can be created there."""
    keyring = load(folder)
    return keyring if keyring.signing is not None else new_key(folder)
