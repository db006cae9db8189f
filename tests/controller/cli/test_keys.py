"""`raynomaly models keys` and `raynomaly models sign`: key ids only, never key material, and a version
published before signatures loads once someone vouched for it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli import app
from models import keys
from models.store import ModelStore
from tests.models.test_store import draft

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def keys_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "keys"
    monkeypatch.setenv("RAYNOMALY_KEYS_DIR", str(folder))
    return folder


@pytest.fixture
def legacy(store_uri, keys_dir) -> ModelStore:
    """A store whose fraud:1 was published before versions were signed."""
    from models.manifest import Manifest

    store = ModelStore(store_uri, keys=keys_dir)
    store.publish(draft(), {"params.npz": b"weights"})
    path = Path(store_uri) / "fraud" / "1" / "manifest.json"
    document = json.loads(path.read_text())
    document.pop("signature")
    path.write_text(Manifest.model_validate(document).sealed().to_json())
    return store


def test_keys_lists_ids_and_which_are_current_never_the_keys(keys_dir):
    assert "no keys" in invoke("models", "keys").stdout
    created = json.loads(invoke("models", "keys", "new", "--json").stdout)
    encrypting = json.loads(invoke("models", "keys", "new", "--encryption", "--json").stdout)
    assert (created["current_for"], encrypting["current_for"]) == ("signing", "encryption")
    listing = json.loads(invoke("models", "keys", "--json").stdout)
    assert sorted(listing["keys"], key=lambda k: k["id"]) == sorted(
        [
            {"id": created["id"], "signing": True, "encryption": False},
            {"id": encrypting["id"], "signing": False, "encryption": True},
        ],
        key=lambda k: k["id"],
    )
    shown = invoke("models", "keys").stdout
    assert created["id"] in shown and encrypting["id"] in shown
    for key in keys.load(keys_dir).keys.values():
        assert key.secret.hex()[:16] not in shown + json.dumps(listing)


def test_an_unsigned_version_is_refused_until_models_sign_vouches_for_it(legacy, keys_dir):
    refused = invoke("models", "show", "fraud:1", "--store", legacy.uri)
    assert refused.exit_code == 1 and "raynomaly models sign fraud:1" in refused.stderr
    signed = invoke("models", "sign", "fraud:1", "--store", legacy.uri)
    assert signed.exit_code == 0, signed.stderr
    current = keys.load(keys_dir).signing
    assert f"with key {current} (it was unsigned)" in signed.stdout
    assert "params.npz" in signed.stdout and "0.9" in signed.stdout  # the file and threshold vouched for
    shown = json.loads(invoke("models", "show", "fraud:1", "--json", "--store", legacy.uri).stdout)
    assert shown["signature"]["key"] == current


def test_sign_needs_a_version(legacy):
    refused = invoke("models", "sign", "fraud", "--store", legacy.uri)
    assert refused.exit_code == 2 and "fraud:1" in refused.stderr


def test_a_version_edited_after_signing_is_refused_by_sign(store_uri, keys_dir):
    from models.manifest import Manifest

    store = ModelStore(store_uri, keys=keys_dir)
    store.publish(draft(), {"params.npz": b"weights"})
    path = Path(store_uri) / "fraud" / "1" / "manifest.json"
    document = json.loads(path.read_text()) | {"threshold": 1e9}
    path.write_text(Manifest.model_validate(document).sealed().to_json())
    refused = invoke("models", "sign", "fraud:1", "--store", store_uri)
    assert refused.exit_code == 1 and "republish" in refused.stderr and "not signed again" in refused.stderr
