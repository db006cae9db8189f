"""Inference access on a real Ray Serve: requests without a key are 401, a key for another model
403, over its rate 429 with Retry-After, on HTTP, gRPC and WebSocket alike; a revoked key is refused
within seconds; refusals are counted and no version is charged for them."""

import asyncio
import json
import time

import grpc
import httpx
import pytest
import websockets

from controller.settings import ControllerSettings
from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc
from runtime.tokens import mint, token_id
from tests.runtime.test_serving_live import GATEWAY, ROW, _eventually, _metric

pytestmark = pytest.mark.integration


def _key(served, **claims) -> str:
    secret = ControllerSettings(runtime=served.settings).secret_path.read_text().strip()
    return mint(secret, claims.pop("subject", "tester"), "client", 3600, **claims)


def _predict(served, key: str | None, model: str = "churn") -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{served.http}/api/v1/predict", json={"model": model, "features": ROW}, headers=headers
    )


def test_http_refuses_strangers_other_models_and_callers_over_their_rate(served):
    before = _metric(served, "ray_raynomaly_refused_requests_total", reason="unauthenticated")
    missing = _predict(served, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert "missing bearer token" in missing.json()["error"]
    forged = _predict(served, mint("not-the-secret" * 4, "eve", "admin", 60))
    assert forged.status_code == 401 and "not valid" in forged.json()["error"]
    other = _predict(served, _key(served, models=["fraud"]))
    assert other.status_code == 403 and "may score fraud, not 'churn'" in other.json()["error"]
    slow = _key(served, subject="slow-client", rate=1.0)
    answers = [_predict(served, slow) for _ in range(8)]
    statuses = [a.status_code for a in answers]
    assert 200 in statuses and 429 in statuses, statuses
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
    assert httpx.get(f"{served.http}/api/v1/traffic").status_code == 401  # the table is not public
    assert httpx.get(f"{served.http}/ready").status_code == 200  # probes need no key
    counted = _eventually(
        lambda: (
            _metric(served, "ray_raynomaly_refused_requests_total", reason="unauthenticated") >= before + 2
        )
    )
    assert counted, "refusals did not reach the metrics export"


def test_grpc_and_websocket_refuse_without_a_key(served):
    stub = pb_grpc.InferenceStub(grpc.insecure_channel(served.grpc))
    request = pb.PredictRequest(model="churn", features=ROW)
    with pytest.raises(grpc.RpcError) as refused:
        stub.Predict(request, metadata=GATEWAY)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    wrong = (*GATEWAY, ("authorization", f"Bearer {_key(served, models=['fraud'])}"))
    with pytest.raises(grpc.RpcError) as denied:
        stub.Predict(request, metadata=wrong)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    answer = stub.Predict(request, metadata=(*GATEWAY, ("authorization", f"Bearer {served.key}")))
    assert answer.model == "churn" and len(answer.scores) == 1

    async def first_answer(headers):
        url = f"ws://{served.http.removeprefix('http://')}/api/v1/predict/streaming?model=churn"
        async with websockets.connect(url, additional_headers=headers) as ws:
            first = json.loads(await ws.recv()) if not headers else None
            if first is None:
                await ws.send(json.dumps({"features": ROW}))
                first = json.loads(await ws.recv())
            return first

    assert asyncio.run(first_answer({}))["status"] == 401
    assert len(asyncio.run(first_answer(served.headers))["scores"]) == 1


def test_a_revoked_key_is_refused_within_seconds(served):
    key = _key(served, subject="leaked")
    assert _predict(served, key).status_code == 200
    served.cli("controller", "token", "revoke", token_id(key))
    deadline, answers = time.monotonic() + 10, []  # every replica looks at the list once a second
    while time.monotonic() < deadline and [a.status_code for a in answers[-4:]] != [401] * 4:
        answers.append(_predict(served, key))
        time.sleep(0.1)
    assert [a.status_code for a in answers[-4:]] == [401] * 4, [a.status_code for a in answers]
    assert "was revoked" in answers[-1].json()["error"]
    assert _predict(served, served.key).status_code == 200  # other keys are untouched


def test_a_version_resealed_without_the_signing_key_is_refused_and_nothing_changes(served):
    """The attack of a writer to the store: threshold raised to 1e9 (no row would be an anomaly)
    and the manifest's sha256 seal recomputed. The signature does not match, so the table that
    would route to it is refused and the old one keeps serving."""
    import shutil
    from pathlib import Path

    from models.store import ModelStore
    from models.training import TrainRequest, train
    from tests.models.test_signing import edit_manifest

    store = ModelStore(served.environ["RAYNOMALY_STORE"])
    train(TrainRequest("fraud", "iforest", str(served.root / "demo" / "train.csv"), params={}), store)
    version = store.versions("fraud")[-1]
    try:
        edit_manifest(store, version, lambda document: document.update(threshold=1e9))
        refused = served.cli("traffic", "set", "fraud", "1=50", f"{version}=50", check=False)
        assert refused.returncode != 0 and "re-sealed without the signing key" in refused.stderr
        assert version not in served.desired().traffic.models["fraud"].weights
        answer = httpx.post(f"{served.http}/api/v1/predict", json={"model": "fraud", "features": ROW},
                            headers={**served.headers, "x-model-version": str(version)})  # fmt: skip
        assert answer.status_code == 404  # never deployed
    finally:
        shutil.rmtree(Path(store.root) / "fraud" / str(version))
