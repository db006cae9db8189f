"""The control API's guards: bounded parameters, rate-limit keys, refused credentials in the audit
log, token lifetimes and revocation, bounded deploys, and what its OpenAPI document declares."""

import itertools
import secrets

import jwt
import pytest
from fastapi.testclient import TestClient

from controller.api.app import Services, create_app
from controller.api.refusals import Refusals
from controller.store import open_store
from runtime.ratelimit import RateLimiter
from runtime.tokens import MAX_TTL_S, mint, token_id
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble
from tests.controller.test_api import SECRET, bearer

KUBERAY = {"kind": "kuberay", "namespace": "serving", "rayservice": "raynomaly"}


@pytest.fixture
def clock():
    return [1000.0]


@pytest.fixture
def api(models, tmp_path, clock):  # noqa: F811
    store = open_store(str(tmp_path / "rollouts.db"))
    services = Services(
        store=store,
        targets=lambda ref: TargetDouble(ModelTraffic(weights={1: 100})),
        models=models,
        secret=SECRET,
        limiter=RateLimiter(rate=5.0, burst=20, clock=lambda: clock[0]),  # frozen: no refill mid-test
        alive=lambda: True,
        clock=lambda: clock[0],
    )
    return TestClient(create_app(services)), store


@pytest.mark.parametrize(
    ("query", "says"),
    [
        pytest.param({"since": 2**63}, "less than or equal to 9223372036854775807", id="since-past-sqlite"),
        pytest.param({"since": -1}, "greater than or equal to 0", id="negative-since"),
        pytest.param({"limit": "1e20"}, "limit", id="limit-not-an-integer"),
        pytest.param({"limit": 10**12}, "less than or equal to 10000", id="limit-too-large"),
    ],
)
def test_audit_parameters_out_of_bounds_are_422_naming_the_bound(api, query, says):
    client, _ = api
    answer = client.get("/api/v1/audit", params=query, headers=bearer("admin"))
    assert answer.status_code == 422 and says in answer.json()["detail"], answer.text


@pytest.mark.parametrize("role", [["admin"], {"admin": 1}, 2, None], ids=["list", "dict", "int", "none"])
def test_a_token_whose_role_is_not_a_string_is_401(api, role):
    client, _ = api
    claims = {"sub": "eve", "role": role, "iss": "raynomaly", "exp": 2**40, "jti": "j1"}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    answer = client.get("/api/v1/rollouts", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and "role" in answer.json()["detail"]


def test_a_token_without_an_id_is_401(api):
    client, _ = api
    claims = {"sub": "eve", "role": "admin", "iss": "raynomaly", "exp": 2**40}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert client.get("/api/v1/rollouts", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_unknown_target_is_422_listing_the_targets(api):
    client, _ = api
    listed = client.get("/api/v1/models", params={"target": "mars"}, headers=bearer("viewer"))
    assert listed.status_code == 422 and "choose one of local, kuberay" in listed.json()["detail"]
    body = {"version": 2, "target": {"kind": "mars"}}
    deployed = client.post("/api/v1/models/fraud/deploy", json=body, headers=bearer("deployer"))
    assert deployed.status_code == 422 and "choose one of local, kuberay" in deployed.json()["detail"]


def _codes(client, headers_each) -> list[int]:
    return [client.get("/api/v1/rollouts", headers=h).status_code for h in headers_each]


def test_spelling_the_scheme_differently_spends_the_same_bucket(api):
    client, _ = api
    token = mint(SECRET, "greedy", "viewer", 60)
    spellings = ("".join(c) for c in itertools.product(*(sorted({ch, ch.upper()}) for ch in "bearer")))
    codes = _codes(client, [{"Authorization": f"{scheme} {token}"} for scheme in spellings])
    assert len(codes) == 64 and codes[:20] == [200] * 20 and set(codes[20:]) == {429}


def test_credentials_that_do_not_verify_share_the_address_bucket(api):
    client, _ = api
    codes = _codes(client, [{"Authorization": f"Bearer {secrets.token_hex(16)}"} for _ in range(25)])
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    assert client.get("/api/v1/rollouts", headers=bearer("viewer", "someone")).status_code == 200


def test_a_forwarded_for_header_does_not_make_a_new_client(api):
    client, _ = api
    headers = [{"X-Forwarded-For": f"10.0.0.{i}", **bearer("viewer", "greedy")} for i in range(25)]
    assert 429 in _codes(client, headers)


def test_the_server_believes_proxy_headers_only_from_configured_proxies(tmp_path):
    from controller.service import server_options
    from controller.settings import ControllerSettings

    home = {"RAYNOMALY_HOME": str(tmp_path)}
    default = server_options(ControllerSettings.resolve(home))
    assert (default["proxy_headers"], default["forwarded_allow_ips"]) == (False, "")
    proxied = server_options(ControllerSettings.resolve({**home, "RAYNOMALY_TRUSTED_PROXIES": "10.0.0.9"}))
    assert (proxied["proxy_headers"], proxied["forwarded_allow_ips"]) == (True, "10.0.0.9")
    with pytest.raises(ValueError, match="RAYNOMALY_TRUSTED_PROXIES"):
        ControllerSettings.resolve({**home, "RAYNOMALY_TRUSTED_PROXIES": "proxy.example"})


def test_the_rate_table_forgets_the_least_recently_seen_client_past_its_bound():
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=3, clock=lambda: now[0])
    for key in ("a", "b", "c", "a", "d"):  # "a" seen again: "b" is now the least recent
        limiter.take(key)
    assert limiter.take("a") is not None  # still remembered: its bucket is empty
    assert limiter.take("b") is None  # forgotten: starts full


def test_refused_credentials_are_audited_once_per_address_per_minute_with_a_count(api, clock):
    client, store = api
    forged = bearer("admin", secret="x" * 64)
    for _ in range(15):
        assert client.get("/api/v1/rollouts", headers=forged).status_code == 401
    clock[0] += 61
    client.get("/api/v1/rollouts")
    refused = [e.detail for e in store.audit() if e.action == "unauthorized"]
    assert [(d["address"], d["path"], d["refusals"]) for d in refused] == [
        ("testclient", "/api/v1/rollouts", 1),
        ("testclient", "/api/v1/rollouts", 15),
    ]
    assert "not valid" in refused[0]["reason"] and "missing" in refused[1]["reason"]


def test_refusals_write_at_most_a_bounded_number_of_entries_per_window():
    refusals = Refusals(window_s=60, per_window=2, max_addresses=100)
    written = [refusals.note(f"10.0.0.{i}", 0.0) for i in range(5)]
    assert written == [1, 1, None, None, None]
    assert refusals.note("10.0.0.3", 60.0) == 2  # the refusal counted before shows in its next entry


def test_token_lifetimes_are_bounded():
    assert jwt.decode(mint(SECRET, "a", "viewer", MAX_TTL_S), SECRET, algorithms=["HS256"])["jti"]
    for ttl in (MAX_TTL_S + 1, 1e12 * 3600, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="at most 90 days"):
            mint(SECRET, "a", "viewer", ttl)


def test_the_admin_token_up_writes_lives_a_week(tmp_path):
    from controller.service import ensure_admin_token
    from controller.settings import ControllerSettings

    settings = ControllerSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "state")})
    claims = jwt.decode(ensure_admin_token(settings), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    assert settings.folder.stat().st_mode & 0o777 == 0o700


def test_a_revoked_token_is_401_and_only_an_admin_revokes(api):
    client, store = api
    victim = bearer("deployer", "leaky")
    jti = token_id(victim["Authorization"].split()[1])
    assert client.post(f"/api/v1/tokens/{jti}/revoke", headers=bearer("deployer")).status_code == 403
    assert client.post("/api/v1/tokens/a b/revoke", headers=bearer("admin")).status_code == 422
    answer = client.post(f"/api/v1/tokens/{jti}/revoke", headers=bearer("admin", "root"))
    assert answer.status_code == 200 and answer.json() == {"jti": jti, "revoked": True}
    refused = client.get("/api/v1/rollouts", headers=victim)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/api/v1/rollouts", headers=bearer("deployer", "leaky")).status_code == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param({"options": {"placement": "dedicated", "num_replicas": 10**9}},
                     "less than or equal to 1024", id="replicas"),
        pytest.param({"options": {"placement": "dedicated", "num_cpus": 1e9}},
                     "less than or equal to 256", id="cpus"),
        pytest.param({"options": {"placement": "dedicated", "max_ongoing_requests": 10**9}},
                     "less than or equal to 65536", id="ongoing"),
        pytest.param({"interval_s": 1e-300}, "at least 1 s", id="interval"),
        pytest.param({"upgrade": {"image": "repo/x:1@sha256:abc"}, "target": KUBERAY},
                     "is not NAME, NAME:TAG or NAME@DIGEST", id="image-with-tag-and-digest"),
        pytest.param({"upgrade": {"image": "repo/x:"}, "target": KUBERAY},
                     "is not NAME, NAME:TAG or NAME@DIGEST", id="image-empty-tag"),
    ],
)  # fmt: skip
def test_deploys_out_of_bounds_are_422_naming_the_bound(api, body, says):
    client, _ = api
    answer = client.post(
        "/api/v1/models/fraud/deploy", json={"version": 2, **body}, headers=bearer("deployer")
    )
    assert answer.status_code == 422 and says in answer.json()["detail"], answer.text


def test_the_openapi_document_declares_the_bearer_scheme_and_error_answers(api):
    client, _ = api
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    audit = document["paths"]["/api/v1/audit"]["get"]
    assert audit["security"] == [{"HTTPBearer": []}]
    assert {"401", "403", "422", "429"} <= set(audit["responses"])
    deploy = document["paths"]["/api/v1/models/{model}/deploy"]["post"]
    assert {"401", "403", "409", "422", "429"} <= set(deploy["responses"])
    error = deploy["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][error]["required"] == ["detail"]
    invalid = client.post("/api/v1/models/fraud/deploy", json={"version": "x"}, headers=bearer("deployer"))
    assert invalid.status_code == 422 and isinstance(invalid.json()["detail"], str)


def test_a_request_without_a_token_is_401_before_its_body_or_parameters_are_read(api):
    client, _ = api
    answers = [
        client.post("/api/v1/models/fraud/deploy", content=b"\xff\xfe"),
        client.delete("/api/v1/models/fraud", params={"namespace": "serving"}),
        client.get("/api/v1/audit", params={"since": -1}),
        client.get("/api/v1/no-such-route"),
    ]
    assert [a.status_code for a in answers] == [401] * 4
    assert all("missing bearer token" in a.json()["detail"] for a in answers)
    assert [client.get(path).status_code for path in ("/health", "/ready", "/openapi.json", "/docs")] == [
        200
    ] * 4
