"""Artifact files encrypted at rest: AES-256-GCM, one envelope per file.

An envelope is `RNYE` + format version (1 byte) + key id length (1 byte) + key id + a random
96-bit nonce + the ciphertext with its tag. The associated data binds the header and the file's
place (model, version, file name), so a file moved to another version or renamed does not open.
Files are decrypted in memory only; their plaintext is never written anywhere.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.errors import IntegrityError, UnknownKey
from models.keys import Key, Keyring

MAGIC = b"RNYE"
FORMAT = 1
_NONCE = 12


def place(model: str, version: int, name: str) -> bytes:
    """What an envelope is bound to: one file of one version of one model (pure)."""
    return f"raynomaly-artifact\0{model}\0{version}\0{name}".encode()


def seal(key: Key, plaintext: bytes, bound_to: bytes) -> bytes:
    """`plaintext` encrypted by `key` into an envelope bound to `bound_to` (see `place`)."""
    key_id = key.id.encode()
    header = MAGIC + bytes([FORMAT, len(key_id)]) + key_id + os.urandom(_NONCE)
    return header + AESGCM(key.derive("encrypt")).encrypt(header[-_NONCE:], plaintext, header + bound_to)


def seal_files(key: Key, model: str, version: int, files: dict[str, bytes]) -> dict[str, bytes]:
    """Every file of a version, each sealed in an envelope bound to its place."""
    return {name: seal(key, data, place(model, version, name)) for name, data in files.items()}


def _header(envelope: bytes, where: str) -> tuple[str, int]:
    """The key id and the header's length (pure); IntegrityError if it is no envelope."""
    if len(envelope) < len(MAGIC) + 2 or envelope[: len(MAGIC)] != MAGIC:
        raise IntegrityError(f"{where}: not an encrypted file; the version was modified, republish it")
    version, length = envelope[len(MAGIC)], envelope[len(MAGIC) + 1]
    if version != FORMAT:
        raise IntegrityError(
            f"{where}: envelope format {version}, this release reads format {FORMAT}; upgrade raynomaly"
        )
    start = len(MAGIC) + 2
    return envelope[start : start + length].decode(errors="replace"), start + length + _NONCE


def open_envelope(envelope: bytes, keyring: Keyring, key_id: str, bound_to: bytes, where: str) -> bytes:
    """The plaintext of `envelope`, which the manifest says `key_id` encrypted; UnknownKey if the
    keyring lacks that key, IntegrityError if the file was modified, encrypted by another key, or
    belongs to another version or file."""
    found, header_length = _header(envelope, where)
    if found != key_id:
        raise IntegrityError(
            f"{where}: encrypted with key {found!r}, the manifest says {key_id!r}; the version was "
            "modified, republish it"
        )
    key = keyring.get(key_id)
    if key is None:
        raise UnknownKey(
            f"{where}: encrypted with key {key_id!r}, which is not in the keyring ({keyring.folder}); "
            "add that key's file there, or republish the version"
        )
    header, ciphertext = envelope[:header_length], envelope[header_length:]
    try:
        return AESGCM(key.derive("encrypt")).decrypt(header[-_NONCE:], ciphertext, header + bound_to)
    except InvalidTag:
        raise IntegrityError(
            f"{where}: does not decrypt, it was modified or belongs to another version or file; "
            "republish the version"
        ) from None
