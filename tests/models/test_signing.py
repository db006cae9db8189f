"""Signed and encrypted versions: a version loads only if a key of the keyring signed exactly it, and
encrypted files never hold their plaintext on disk and open only in their own place."""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from models import keys
from models.errors import IntegrityError, KeyringError, SignatureMismatch, UnknownKey, UnsignedVersion
from models.store import ModelStore
from tests.models.test_store import draft


def npz() -> bytes:
    """A `params.npz` as the Numba backend writes it."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, weights=rng.normal(size=(64, 8)), offsets=rng.normal(size=8))
    return buffer.getvalue()


@pytest.fixture
def keys_dir(tmp_path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def store(store_uri, keys_dir) -> ModelStore:
    return ModelStore(store_uri, keys=keys_dir)


def manifest_path(store: ModelStore, model: str, version: int) -> Path:
    return Path(store.root) / model / str(version) / "manifest.json"


def edit_manifest(store: ModelStore, version: int, change) -> None:
    """Edit a stored manifest with `change(document)` and recompute its sha256 seal, as anyone with
    write access to the store can."""
    from models.manifest import Manifest

    path = manifest_path(store, "fraud", version)
    document = json.loads(path.read_text())
    change(document)
    resealed = Manifest.model_validate(document).sealed()
    path.write_text(resealed.to_json())


def test_a_published_version_is_signed_by_the_current_key_and_loads(store, keys_dir):
    published = store.publish(draft(), {"params.npz": npz()})
    keyring = keys.load(keys_dir)
    assert published.signature is not None and published.signature.key == keyring.signing
    manifest, files = store.read("fraud", 1)
    assert manifest == published and files == {"params.npz": npz()}


def test_a_threshold_edited_and_resealed_without_the_key_is_refused(store):
    store.publish(draft(), {"params.npz": npz()})
    edit_manifest(store, 1, lambda document: document.update(threshold=1e9))
    for load in (store.read, store.manifest):
        with pytest.raises(
            SignatureMismatch, match=r"fraud:1 .*modified or re-sealed without the signing key; republish"
        ):
            load("fraud", 1)


def test_a_version_signed_by_a_key_outside_the_keyring_is_refused_naming_the_key(store_uri, tmp_path):
    elsewhere = ModelStore(store_uri, keys=tmp_path / "other-keys")
    signed = elsewhere.publish(draft(), {"params.npz": npz()})
    here = ModelStore(store_uri, keys=tmp_path / "keys")
    keys.new_key(tmp_path / "keys")
    with pytest.raises(UnknownKey, match="the key that signed it is not in the keyring") as refused:
        here.read("fraud", 1)
    assert signed.signature.key in str(refused.value) and "fraud:1" in str(refused.value)


def test_after_a_rotation_older_versions_verify_and_decrypt(store, keys_dir):
    keys.new_key(keys_dir, encryption=True)
    first = store.publish(draft(), {"params.npz": b"first " + npz()})
    keys.new_key(keys_dir)
    keys.new_key(keys_dir, encryption=True)
    second = store.publish(draft(), {"params.npz": b"second " + npz()})
    assert first.signature.key != second.signature.key
    assert first.encrypted["params.npz"] != second.encrypted["params.npz"]
    assert store.read("fraud", 1)[1] == {"params.npz": b"first " + npz()}
    assert store.read("fraud", 2)[1] == {"params.npz": b"second " + npz()}


def test_encrypted_files_hold_no_plaintext_on_disk_and_decrypt_back_identically(store, keys_dir):
    keyring = keys.new_key(keys_dir, encryption=True)
    artifact = npz()
    published = store.publish(draft(), {"params.npz": artifact})
    on_disk = (Path(store.root) / "fraud" / "1" / "params.npz").read_bytes()
    assert published.encrypted == {"params.npz": keyring.encryption}
    assert artifact not in on_disk and artifact[:64] not in on_disk and artifact[-64:] not in on_disk
    assert published.files["params.npz"] == hashlib.sha256(artifact).hexdigest()
    assert store.read("fraud", 1)[1]["params.npz"] == artifact
    stored = json.loads(manifest_path(store, "fraud", 1).read_text())
    assert stored["threshold"] == 0.9  # the manifest stays readable


def test_without_an_encryption_key_files_are_stored_in_the_clear(store):
    published = store.publish(draft(), {"params.npz": npz()})
    assert published.encrypted == {}
    assert (Path(store.root) / "fraud" / "1" / "params.npz").read_bytes() == npz()


def test_an_encrypted_file_swapped_between_versions_is_refused(store, keys_dir):
    keys.new_key(keys_dir, encryption=True)
    store.publish(draft(), {"params.npz": npz()})
    store.publish(draft(), {"params.npz": npz()})  # the same plaintext: only the binding differs
    folder = Path(store.root) / "fraud"
    (folder / "2" / "params.npz").write_bytes((folder / "1" / "params.npz").read_bytes())
    with pytest.raises(IntegrityError, match="belongs to another version or file"):
        store.read("fraud", 2)
    assert store.read("fraud", 1)[1] == {"params.npz": npz()}


def test_an_encrypted_file_without_its_key_is_refused_naming_the_key(store_uri, tmp_path):
    writer = ModelStore(store_uri, keys=tmp_path / "writer")
    keys.new_key(tmp_path / "writer", encryption=True)
    writer.publish(draft(), {"params.npz": npz()})
    keyring = keys.load(tmp_path / "writer")
    reader = tmp_path / "reader"
    reader.mkdir(mode=0o700)
    signing = keyring.signing_key
    (reader / f"{signing.id}.key").write_text(signing.secret.hex())  # signing key only
    with pytest.raises(UnknownKey, match=keyring.encryption):
        ModelStore(store_uri, keys=reader).read("fraud", 1)


def test_an_unsigned_legacy_version_is_refused_until_signed(store, keys_dir, capsys):
    store.publish(draft(), {"params.npz": npz()})
    edit_manifest(store, 1, lambda document: document.pop("signature"))
    with pytest.raises(UnsignedVersion, match=r"raynomaly models sign fraud:1"):
        store.read("fraud", 1)
    before, after = store.sign("fraud", 1)
    assert before.signature is None and after.signature.key == keys.load(keys_dir).signing
    assert store.read("fraud", 1)[1] == {"params.npz": npz()}


def test_a_manifest_written_before_signatures_keeps_its_seal(store):
    """Manifests written by earlier releases have neither `signature` nor `encrypted`."""
    store.publish(draft(), {"params.npz": npz()})
    path = manifest_path(store, "fraud", 1)
    document = json.loads(path.read_text())
    document.pop("encrypted")
    document.pop("signature")
    path.write_text(json.dumps(document))  # the seal is the one written at publication
    with pytest.raises(UnsignedVersion):
        store.manifest("fraud", 1)


def test_a_version_modified_after_it_was_signed_is_never_signed_again(store):
    store.publish(draft(), {"params.npz": npz()})
    edit_manifest(store, 1, lambda document: document.update(threshold=1e9))
    with pytest.raises(SignatureMismatch, match="not signed again"):
        store.sign("fraud", 1)
    with pytest.raises(SignatureMismatch):
        store.read("fraud", 1)


def test_signing_checks_every_files_digest_first(store):
    store.publish(draft(), {"params.npz": npz()})
    edit_manifest(store, 1, lambda document: document.pop("signature"))
    (Path(store.root) / "fraud" / "1" / "params.npz").write_bytes(b"other weights")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        store.sign("fraud", 1)
    with pytest.raises(UnsignedVersion):
        store.read("fraud", 1)


def test_errors_and_reprs_never_show_key_material(store_uri, tmp_path):
    folder = tmp_path / "keys"
    keyring = keys.new_key(folder, encryption=True)
    secrets = [key.secret.hex() for key in keyring.keys.values()]
    store = ModelStore(store_uri, keys=folder)
    store.publish(draft(), {"params.npz": npz()})
    store.publish(draft(), {"params.npz": npz()})
    edit_manifest(store, 1, lambda document: document.update(threshold=1e9))
    (Path(store.root) / "fraud" / "2" / "params.npz").write_bytes(
        b"RNYE" + bytes([1, 3]) + b"bad" + bytes(40)
    )
    shown = [repr(keyring), str(keyring), *map(repr, keyring.keys.values())]
    for ref in (1, 2):
        with pytest.raises(IntegrityError) as refused:
            store.read("fraud", ref)
        shown += [str(refused.value), repr(refused.value)]
    (folder / "broken.key").write_text("0123" * 15 + "zzzz")
    with pytest.raises(KeyringError) as refused:
        keys.load(folder)
    shown += [str(refused.value), repr(refused.value)]
    assert "broken.key" in str(refused.value) and "0123" not in str(refused.value)
    for text in shown:
        assert not any(secret in text or secret[:16] in text for secret in secrets), text
