"""The control API over a real store and model store, with a double of the target."""

import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from controller.api.app import Services, create_app
from controller.store import open_store
from runtime.ratelimit import RateLimiter
from runtime.tokens import mint
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble

SECRET = "s" * 64


@pytest.fixture
def api(models, tmp_path):
    store = open_store(str(tmp_path / "rollouts.db"))
    services = Services(
        store=store,
        targets=lambda ref: TargetDouble(ModelTraffic(weights={1: 100})),
        models=models,
        secret=SECRET,
        limiter=RateLimiter(rate=5.0, burst=20),
        alive=lambda: True,
    )
    return TestClient(create_app(services)), store


def bearer(role: str, subject: str = "alice", ttl: float = 12 * 3600, secret: str = SECRET) -> dict:
    return {"Authorization": f"Bearer {mint(secret, subject, role, ttl)}"}


def test_deploy_creates_a_pending_rollout_and_lists_it(api):
    client, _ = api
    body = {"version": 2, "canary": {"steps": [20, 100]}, "alpha": 0.05}
    answer = client.post("/api/v1/models/fraud/deploy", json=body, headers=bearer("deployer"))
    assert answer.status_code == 201, answer.text
    rollout = answer.json()
    spec = rollout["spec"]
    assert (rollout["phase"], rollout["stable"], spec["canary"]["steps"]) == ("Pending", 1, [20, 100])
    assert (spec["strategy"], spec["alpha"]) == ("canary", 0.05)
    listed = client.get("/api/v1/rollouts", headers=bearer("viewer")).json()
    assert [r["id"] for r in listed] == [rollout["id"]]
    again = client.post("/api/v1/models/fraud/deploy", json={"version": 2}, headers=bearer("deployer"))
    assert again.status_code == 409 and "already has an active rollout" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "options"),
    [
        pytest.param({"version": 2, "steps": [20, 100]}, "canary", {"steps": [20, 100]}, id="canary-steps"),
        pytest.param({"version": 2, "strategy": "shadow", "steps": [50]}, "shadow", {"steps": [50]},
                     id="shadow"),
        pytest.param({"version": 2, "strategy": "blue-green", "warm_s": 60, "steps": None,
                      "interval_s": None}, "blue_green", {"shadow_percent": 100.0, "warm_s": 60.0},
                     id="blue-green-nulls-are-defaults"),
    ],
)  # fmt: skip
def test_deploy_bodies_of_the_flat_shape_still_work(api, body, field, options):
    client, _ = api
    answer = client.post("/api/v1/models/fraud/deploy", json=body, headers=bearer("deployer"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["spec"][field] == options


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        pytest.param({"version": 9}, 404, "version 9", id="unknown-version"),
        pytest.param({"version": 1}, 409, "already serves", id="already-stable"),
        pytest.param({"version": 2, "strategy": "yolo"}, 422, "choose one of", id="unknown-strategy"),
        pytest.param({"version": 2, "steps": [50, 10]}, 422, "increasing", id="bad-flat-steps"),
        pytest.param({"version": 2, "canary": {"steps": [50]}}, 422, "last step must be 100", id="bad-steps"),
        pytest.param({"version": 2, "canary": {}, "shadow": {}}, 422, "one strategy", id="two-strategies"),
        pytest.param({"version": 2, "colour": "red"}, 422, "colour", id="unknown-field"),
    ],
)
def test_bad_deploys_are_4xx_naming_the_problem(api, body, status, says):
    client, _ = api
    answer = client.post("/api/v1/models/fraud/deploy", json=body, headers=bearer("deployer"))
    assert answer.status_code == status and says in answer.text


def test_commands_are_recorded_for_the_loop_and_refused_when_they_do_not_apply(api):
    client, store = api
    rollout = client.post(
        "/api/v1/models/fraud/deploy", json={"version": 2}, headers=bearer("deployer")
    ).json()
    paused = client.post(f"/api/v1/rollouts/{rollout['id']}/pause", headers=bearer("deployer"))
    assert paused.status_code == 202 and store.get(rollout["id"]).command == "pause"
    refused = client.post(f"/api/v1/rollouts/{rollout['id']}/resume", headers=bearer("deployer"))
    assert refused.status_code == 409 and "cannot resume" in refused.json()["detail"]
    assert client.post("/api/v1/rollouts/nope/abort", headers=bearer("deployer")).status_code == 404
    assert (
        client.post(f"/api/v1/rollouts/{rollout['id']}/explode", headers=bearer("deployer")).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="missing"),
        pytest.param({"Authorization": "Basic abc"}, 401, id="wrong-scheme"),
        pytest.param(bearer("admin", ttl=-10), 401, id="expired"),
        pytest.param(bearer("admin", secret="x" * 64), 401, id="forged"),
        pytest.param(bearer("viewer"), 403, id="viewer-cannot-deploy"),
        pytest.param(bearer("deployer"), 201, id="deployer-can"),
    ],
)
def test_deploy_needs_a_valid_deployer_token(api, headers, status):
    client, _ = api
    answer = client.post("/api/v1/models/fraud/deploy", json={"version": 2}, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_the_audit_log_needs_admin_records_denials_and_verifies(api):
    client, _ = api
    client.post("/api/v1/models/fraud/deploy", json={"version": 2}, headers=bearer("deployer", "dora"))
    assert client.get("/api/v1/audit", headers=bearer("deployer", "dora")).status_code == 403
    audit = client.get("/api/v1/audit", headers=bearer("admin", "root")).json()
    assert audit["valid"] is True
    assert [(e["actor"], e["action"]) for e in audit["entries"]] == [("dora", "create"), ("dora", "denied")]


def test_clients_over_their_rate_get_429_with_retry_after_and_others_do_not(api):
    client, _ = api
    greedy, other = bearer("viewer", "greedy"), bearer("viewer", "other")
    codes = [client.get("/api/v1/rollouts", headers=greedy).status_code for _ in range(25)]
    assert codes[:20] == [200] * 20 and 429 in codes[20:]
    limited = client.get("/api/v1/rollouts", headers=greedy)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/rollouts", headers=other).status_code == 200
    assert client.get("/health").status_code == 200  # probes are never limited


def test_models_versions_and_metrics(api):
    client, _ = api
    models = client.get("/api/v1/models", headers=bearer("viewer")).json()
    assert models == [
        {
            "model": "fraud",
            "versions": [1, 2],
            "detector": "hbos",
            "backend": "numba",
            "traffic": {"weights": {"1": 100}, "shadows": {}, "sticky_header": None, "stable": None},
        }
    ]
    answer = client.get("/api/v1/models", params={"target": "kuberay"}, headers=bearer("viewer"))
    assert answer.status_code == 422 and "--namespace" in answer.json()["detail"]
    versions = client.get("/api/v1/models/fraud/versions", headers=bearer("viewer")).json()
    assert [(v["version"], v["detector"]) for v in versions] == [(1, "iforest"), (2, "hbos")]
    assert client.get("/api/v1/models/nope/versions", headers=bearer("viewer")).status_code == 404
    client.post("/api/v1/models/fraud/deploy", json={"version": 2}, headers=bearer("deployer"))
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=bearer("viewer")).text
    phases = {
        s.labels["phase"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "raynomaly_rollout_phase" and s.labels["model"] == "fraud"
    }
    assert phases["Pending"] == 1.0 and phases["Progressing"] == 0.0 and len(phases) == 8


def test_rate_limiter_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [None, None]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("a") is None


def test_tokens_carry_subject_and_role():
    from runtime.tokens import Forbidden, Unauthorized, authenticate, require

    who = authenticate(SECRET, f"Bearer {mint(SECRET, 'bob', 'deployer', 60, now=time.time())}")
    assert (who.subject, who.role) == ("bob", "deployer")
    require(who, "viewer")
    with pytest.raises(Forbidden, match="needs the admin role"):
        require(who, "admin")
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(SECRET, f"Bearer {mint(SECRET, 'bob', 'viewer', 10, now=time.time() - 60)}")
    with pytest.raises(ValueError, match="choose one of client, viewer, deployer, approver, admin"):
        mint(SECRET, "bob", "root", 60)


def test_the_secret_and_admin_token_are_owner_only(tmp_path):
    from controller.service import ensure_admin_token
    from controller.settings import ControllerSettings

    settings = ControllerSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "state")})
    token = ensure_admin_token(settings)
    for path in (settings.secret_path, settings.admin_token_path):
        assert path.stat().st_mode & 0o777 == 0o600
    from runtime.tokens import authenticate

    who = authenticate(settings.secret_path.read_text(), f"Bearer {token}")
    assert who.role == "admin" and settings.client_token() == token
