"""Inference access at the gateway: who may score (401/403), how often (429 with the wait), revoked
tokens, and that none of it counts against a version; on the doubled core and its HTTP, WebSocket
and gRPC adapters."""

import asyncio
import contextlib
import time
from collections.abc import Iterator

import grpc
import pytest
from starlette.testclient import TestClient

from runtime.access import Gatekeeper
from runtime.codec import Rows
from runtime.desired import Access
from runtime.errors import RateLimited, grpc_code, http_status
from runtime.placement import Unavailable
from runtime.rpc import raynomaly_pb2 as pb
from runtime.tokens import Forbidden, Unauthorized, mint
from runtime.traffic import ModelTraffic
from tests.runtime.replica import Replica, served
from tests.runtime.test_gateway_streams import ContextDouble
from tests.runtime.test_inference import ScorerDouble, config, gateway

SECRET = "k" * 64


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def access(tmp_path) -> Access:
    (tmp_path / "secret").write_text(SECRET)
    return Access(
        secret_file=str(tmp_path / "secret"), revoked_file=str(tmp_path / "revoked"), rate=2, burst=3
    )


def bearer(role: str = "client", subject: str = "alice", **claims) -> str:
    return f"Bearer {mint(SECRET, subject, role, 3600, **claims)}"


def test_without_access_anyone_scores_unlimited():
    gate = Gatekeeper(None)
    assert gate.authenticate(None) is None
    for _ in range(10_000):
        gate.throttle(None)
    gate.allow(None, "fraud")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "missing bearer token", id="none"),
        pytest.param("Basic abc", "must be 'Bearer <token>'", id="scheme"),
        pytest.param("Bearer " + "x" * 9000, "over 8192 characters", id="huge"),
        pytest.param(f"Bearer {mint('other' * 13, 'eve', 'admin', 60)}", "not valid", id="forged"),
    ],
)
def test_a_caller_without_a_valid_token_is_refused_saying_why(access, header, reason):
    with pytest.raises(Unauthorized, match=reason) as refused:
        Gatekeeper(access).authenticate(header)
    assert http_status(refused.value) == 401 and grpc_code(refused.value) == grpc.StatusCode.UNAUTHENTICATED


def test_every_role_may_score_and_a_token_naming_models_scores_only_those(access):
    gate = Gatekeeper(access)
    for role in ("client", "viewer", "deployer", "admin"):
        gate.allow(gate.authenticate(bearer(role)), "fraud")
    limited = gate.authenticate(bearer(models=["churn"]))
    gate.allow(limited, "churn")
    with pytest.raises(Forbidden, match="may score churn, not 'fraud'") as refused:
        gate.allow(limited, "fraud")
    assert http_status(refused.value) == 403


def test_each_client_has_its_own_bucket_and_is_told_how_long_to_wait(access):
    clock = Clock()
    gate = Gatekeeper(access, clock=clock)
    alice, bob = gate.authenticate(bearer(subject="alice")), gate.authenticate(bearer(subject="bob"))
    for _ in range(3):  # the burst
        gate.throttle(alice)
    with pytest.raises(RateLimited, match="alice is over its rate of 2 requests/s") as limited:
        gate.throttle(alice)
    assert limited.value.retry_after_s == pytest.approx(0.5) and http_status(limited.value) == 429
    gate.throttle(bob)  # someone else's quota is untouched
    clock.now += 0.5
    gate.throttle(alice)  # refilled at the rate


def test_a_tokens_own_rate_wins_and_replicas_share_each_quota(access):
    clock = Clock()
    gate = Gatekeeper(access, share=2, clock=clock)
    fast = gate.authenticate(bearer(rate=100.0))
    for _ in range(50):  # a second's worth of its rate, halved: the other replica holds the rest
        gate.throttle(fast)
    with pytest.raises(RateLimited, match="rate of 100 requests/s"):
        gate.throttle(fast)


def test_a_revoked_token_is_refused_within_a_second_of_being_listed(access, tmp_path):
    clock = Clock()
    gate = Gatekeeper(access, clock=clock)
    header = bearer()
    who = gate.authenticate(header)
    (tmp_path / "revoked").write_text(f"other\n{who.jti}\n")
    gate.authenticate(header)  # looked less than a second ago
    clock.now += 1.0
    with pytest.raises(Unauthorized, match=f"the token {who.jti} was revoked"):
        gate.authenticate(header)


def test_a_remembered_token_is_still_refused_once_it_expires(access):
    wall = Clock()
    wall.now = time.time()
    gate = Gatekeeper(access, wall=wall)
    header = f"Bearer {mint(SECRET, 'alice', 'client', 60, now=wall.now)}"
    gate.authenticate(header)
    wall.now += 61
    with pytest.raises(Unauthorized, match="expired"):
        gate.authenticate(header)


def test_a_gateway_whose_secret_cannot_be_read_keeps_serving_its_old_table(tmp_path):
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}))
    missing = Access(secret_file=str(tmp_path / "absent"))
    with pytest.raises(Unavailable, match="inference authentication cannot start"):
        asyncio.run(inference.configure(config(ModelTraffic(weights={1: 100}), access=missing)))
    assert inference.config.access is None and inference.gate.access is None


def test_refusals_are_counted_by_reason_and_never_against_a_version(access):
    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=access)
    with pytest.raises(Unauthorized):
        inference.admit(None)
    who = inference.admit(bearer(models=["churn"]))
    with pytest.raises(Forbidden):
        asyncio.run(inference.predict("fraud", Rows.from_features([1.0, 2.0]), who=who))
    for _ in range(2):
        inference.admit(bearer())
    with pytest.raises(RateLimited):
        inference.admit(bearer())
    assert metrics.refused == ["unauthenticated", "forbidden", "rate_limited"]
    assert metrics.records == []  # no version was charged


def test_quotas_carry_over_a_new_table_with_the_same_access(access):
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=access)
    gate = inference.gate
    asyncio.run(inference.configure(config(ModelTraffic(weights={1: 100}), access=access, revision=2)))
    assert inference.gate is gate


@contextlib.contextmanager
def _client(inference) -> Iterator[TestClient]:
    """The gateway's real FastAPI app over the doubled core."""
    with served(Replica(inference)) as app:
        yield TestClient(app, raise_server_exceptions=False)


def test_http_answers_401_403_429_with_their_headers(access):
    slow = access.model_copy(update={"rate": 0.1})  # a token back every 10 s: none while the test runs
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=slow)
    with _client(inference) as client:
        body = {"model": "fraud", "features": [1.0, 2.0]}
        missing = client.post("/api/v1/predict", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert "missing bearer token" in missing.json()["error"]
        other = client.post("/api/v1/predict", json=body, headers={"authorization": bearer(models=["churn"])})
        assert other.status_code == 403
        headers = {"authorization": bearer()}
        assert [client.post("/api/v1/predict", json=body, headers=headers).status_code for _ in range(2)] == [
            200
        ] * 2
        limited = client.post("/api/v1/predict", json=body, headers=headers)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 10


def test_the_traffic_table_is_shown_to_token_holders_only(access):
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=access)
    with _client(inference) as client:
        assert client.get("/api/v1/traffic").status_code == 401
        assert client.get("/api/v1/traffic", headers={"authorization": bearer()}).json()["models"]["fraud"]


def test_grpc_answers_unauthenticated_and_permission_denied(access):
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=access)
    replica = Replica(inference)
    request = pb.PredictRequest(model="fraud", features=[1.0, 2.0])
    for metadata, code in [
        ([], grpc.StatusCode.UNAUTHENTICATED),
        ([("authorization", bearer(models=["churn"]))], grpc.StatusCode.PERMISSION_DENIED),
        ([("authorization", bearer())], None),
    ]:
        context = ContextDouble(metadata)
        answer = asyncio.run(replica.Predict(request, context))
        assert context.code == code
        assert (answer.version == 1) == (code is None)


def test_a_websocket_needs_a_token_and_each_message_spends_the_quota(access):
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), access=access)
    with _client(inference) as client:
        with client.websocket_connect("/api/v1/predict/streaming?model=fraud") as socket:
            assert socket.receive_json()["status"] == 401
        headers = {"authorization": bearer()}
        with client.websocket_connect("/api/v1/predict/streaming?model=fraud", headers=headers) as socket:
            answers = []
            for _ in range(4):
                socket.send_text('{"features": [1.0, 2.0]}')
                answers.append(socket.receive_json())
            assert [a.get("status", 200) for a in answers] == [200, 200, 200, 429]
