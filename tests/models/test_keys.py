"""The keyring: keys by id, one current for signing and maybe one for encryption, kept private."""

import stat

import pytest

from models import envelope, keys
from models.errors import IntegrityError, KeyringError
from models.settings import ModelSettings


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_folder_is_an_empty_keyring(tmp_path):
    keyring = keys.load(tmp_path / "keys")
    assert (keyring.keys, keyring.signing, keyring.encryption) == ({}, None, None)
    with pytest.raises(KeyringError, match="raynomaly models keys new"):
        _ = keyring.signing_key
    assert not (tmp_path / "keys").exists()  # loading never writes


def test_the_signing_key_is_created_on_first_use_owner_only_whatever_the_umask(tmp_path, open_umask):
    folder = tmp_path / "home" / "keys"
    keyring = keys.with_signing_key(folder)
    assert keyring.signing is not None and keyring.encryption is None
    assert keys.with_signing_key(folder) == keyring  # created once
    assert mode(folder) == 0o700
    assert {path.name: mode(path) for path in folder.iterdir()} == {
        f"{keyring.signing}.key": 0o600,
        keys.SIGNING: 0o600,
    }


def test_a_new_key_becomes_current_and_the_old_ones_stay(tmp_path):
    folder = tmp_path / "keys"
    first = keys.with_signing_key(folder).signing
    rotated = keys.new_key(folder)
    encrypting = keys.new_key(folder, encryption=True)
    assert rotated.signing != first and set(rotated.keys) == {first, rotated.signing}
    assert encrypting.signing == rotated.signing and encrypting.encryption not in (first, rotated.signing)
    assert encrypting.encryption_key.id == encrypting.encryption
    assert len(encrypting.keys) == 3


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        pytest.param({"k1.key": "nothex"}, "k1.key is not a key", id="a-key-file-that-is-no-key"),
        pytest.param({"k1.key": "ab" * 31}, "k1.key is not a key", id="a-short-key"),
        pytest.param({keys.SIGNING: "gone"}, "names key 'gone'", id="signing-names-a-missing-key"),
        pytest.param(
            {"k1.key": "ab" * 32, keys.ENCRYPTION: "k2"},
            "names key 'k2'",
            id="encryption-names-a-missing-key",
        ),
    ],
)
def test_a_damaged_keys_folder_is_refused_naming_the_file(tmp_path, files, complaint):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(KeyringError, match=complaint):
        keys.load(tmp_path)


def test_a_mounted_secret_layout_is_read(tmp_path):
    """A Kubernetes Secret volume: files are links into a hidden, timestamped folder."""
    data = tmp_path / "..2025_01_01_00_00_00.1"
    data.mkdir()
    (data / "k1.key").write_text("ab" * 32 + "\n")
    (data / keys.SIGNING).write_text("k1")
    (tmp_path / "..data").symlink_to(data.name)
    for name in ("k1.key", keys.SIGNING):
        (tmp_path / name).symlink_to(f"..data/{name}")
    keyring = keys.load(tmp_path)
    assert keyring.signing == "k1" and keyring.signing_key.secret == bytes.fromhex("ab" * 32)


def test_the_keys_folder_follows_the_environment():
    assert ModelSettings.resolve(environ={}).keys.as_posix() == ".raynomaly/keys"
    assert ModelSettings.resolve(environ={"RAYNOMALY_HOME": "/srv/r"}).keys.as_posix() == "/srv/r/keys"
    environ = {"RAYNOMALY_HOME": "/srv/r", "RAYNOMALY_KEYS_DIR": "/etc/keys"}
    assert ModelSettings.resolve(environ=environ).keys.as_posix() == "/etc/keys"


def test_an_envelope_opens_only_in_its_place_and_with_its_key(tmp_path):
    keyring = keys.new_key(tmp_path, encryption=True)
    key = keyring.encryption_key
    sealed = envelope.seal(key, b"weights", envelope.place("fraud", 1, "params.npz"))
    assert sealed.startswith(envelope.MAGIC) and b"weights" not in sealed
    assert (
        envelope.open_envelope(sealed, keyring, key.id, envelope.place("fraud", 1, "params.npz"), "f")
        == b"weights"
    )
    for place in [("fraud", 2, "params.npz"), ("churn", 1, "params.npz"), ("fraud", 1, "model.onnx")]:
        with pytest.raises(IntegrityError, match="belongs to another version or file"):
            envelope.open_envelope(sealed, keyring, key.id, envelope.place(*place), "f")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IntegrityError, match="modified"):
        envelope.open_envelope(flipped, keyring, key.id, envelope.place("fraud", 1, "params.npz"), "f")
    with pytest.raises(IntegrityError, match="not an encrypted file"):
        envelope.open_envelope(b"weights", keyring, key.id, envelope.place("fraud", 1, "params.npz"), "f")
