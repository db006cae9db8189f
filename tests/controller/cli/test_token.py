"""`raynomaly controller token`: minting within the lifetime bound, and revoking by token id in the
local controller's store."""

import jwt
from typer.testing import CliRunner

from controller.cli import app
from controller.settings import ControllerSettings
from controller.store import open_store

runner = CliRunner()


def test_a_minted_token_shows_its_id_and_revoking_it_reaches_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYNOMALY_HOME", str(tmp_path))
    minted = runner.invoke(app, ["controller", "token", "--role", "deployer", "--ttl", "1h"])
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip().splitlines()[0]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert f"controller token revoke {jti}" in minted.stderr
    revoked = runner.invoke(app, ["controller", "token", "revoke", jti])
    assert revoked.exit_code == 0, revoked.output
    assert open_store(str(ControllerSettings.resolve().database)).revoked(jti)


def test_a_lifetime_past_the_bound_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYNOMALY_HOME", str(tmp_path))
    answer = runner.invoke(app, ["controller", "token", "--ttl", "1e12h"])
    assert answer.exit_code != 0 and "at most 90 days" in answer.output and answer.stdout.count(".") < 2
    bad = runner.invoke(app, ["controller", "token", "revoke", "not an id"])
    assert bad.exit_code != 0 and "give the id printed" in bad.output
