"""Signatures of model versions: HMAC-SHA256 of the canonical manifest under a key of the keyring.

The manifest lists every file's sha256, so its signature vouches for the whole version. It is
stored in the manifest with the id of the key that made it, so versions signed before a rotation
keep verifying while their key stays in the keyring. Anyone who can write the store can edit a
manifest and recompute its sha256 seal; only a holder of the key can sign it.
"""

import hashlib
import hmac

from models.errors import SignatureMismatch, UnknownKey, UnsignedVersion
from models.keys import Key, Keyring
from models.manifest import Manifest, Signature


def _mac(key: Key, manifest: Manifest) -> str:
    return hmac.new(key.derive("sign"), manifest.canonical(), hashlib.sha256).hexdigest()


def sign(manifest: Manifest, key: Key) -> Manifest:
    """`manifest`, sealed and signed by `key` (pure)."""
    sealed = manifest.sealed()
    return sealed.model_copy(update={"signature": Signature(key=key.id, hmac=_mac(key, sealed))})


def verify(manifest: Manifest, keyring: Keyring, where: str) -> Manifest:
    """`manifest` if a key of `keyring` signed exactly it (pure); else UnsignedVersion,
    UnknownKey or SignatureMismatch, each naming the version (`where`: its manifest's path) and
    what to do."""
    ref, signature = manifest.ref, manifest.signature
    if signature is None:
        raise UnsignedVersion(
            f"{ref} ({where}) is not signed: it was published before versions were signed. Check "
            f"where it came from, then sign it with 'raynomaly models sign {ref}'; or republish it"
        )
    key = keyring.get(signature.key)
    if key is None:
        raise UnknownKey(
            f"{ref} ({where}) is signed with key {signature.key!r}, and the key that signed it is not "
            f"in the keyring ({keyring.folder}); add that key's file there, or republish the version"
        )
    if not hmac.compare_digest(signature.hmac, _mac(key, manifest)):
        raise SignatureMismatch(
            f"{ref} ({where}): the signature does not match, the version was modified or re-sealed "
            "without the signing key; republish it"
        )
    return manifest
