"""The runtime on real Ray Serve: inline and dedicated versions, routing, pins, sticky keys, shadows,
batching, gRPC, WebSocket, bad input, load shedding and autoscaling."""

import asyncio
import json
import re
import time

import grpc
import httpx
import numpy as np
import pytest
import websockets

from runtime.desired import Autoscaling, Batching, ScorerOptions
from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc
from tests import wrk
from tests.controller.live import Load

pytestmark = pytest.mark.integration
ROW = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
GATEWAY = (("application", "gateway"),)
DEDICATED = ScorerOptions(placement="dedicated")


async def _versions(served, count: int, body: dict, headers=None, concurrency: int = 32) -> list[int]:
    url, headers = served.http, {**served.headers, **(headers or {})}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one():
            async with semaphore:
                response = await client.post(f"{url}/api/v1/predict", json=body, headers=headers)
                response.raise_for_status()
                return response.json()["version"]

        return await asyncio.gather(*(one() for _ in range(count)))


def _metric(served, name: str, **labels) -> float:
    """Sum of a metric's samples whose labels match, read from Ray's metrics export."""
    text = httpx.get(served.metrics_url, timeout=30.0).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _eventually(check, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def with_options(served, model: str, options: dict[int, ScorerOptions], **update):
    """The served desired state with these versions' options (and other fields) replaced."""
    desired = served.desired()
    versions = [
        v.model_copy(update={"options": options[v.version]})
        if v.model == model and v.version in options
        else v
        for v in desired.versions
    ]
    return desired.model_copy(update={"versions": versions, **update})


def test_up_serves_the_newest_version_of_every_model_inline(served):
    status = json.loads(served.cli("status", "--json").stdout)
    assert status["applications"] == {"gateway": "RUNNING"}  # every version scores in the gateway
    churn = next(v for v in status["versions"] if v["model"] == "churn")
    assert churn == {"model": "churn", "version": 1, "placement": "inline", "weight": 100}
    assert httpx.get(f"{served.http}/ready").json() == {"ready": True}
    body = {"model": "churn", "features": ROW}
    answer = httpx.post(f"{served.http}/api/v1/predict", json=body, headers=served.headers).json()
    assert answer["version"] == 1 and len(answer["scores"]) == 1


def test_weights_are_honoured_and_shifts_under_load_lose_nothing_and_restart_nothing(served):
    served.cli("traffic", "set", "fraud", "1=90", "2=10")
    before = served.replicas()
    versions = asyncio.run(_versions(served, 2000, {"model": "fraud", "features": ROW}))
    share = versions.count(2) / len(versions)
    # binomial share of 10% over 2,000 requests: standard deviation 0.0067; allow 4.5 of them
    assert abs(share - 0.10) < 0.03 and set(versions) == {1, 2}
    with Load(served.http, key=served.key, model="fraud", rate=60) as load:
        for weights in (["1=50", "2=50"], ["1=10", "2=90"], ["1=90", "2=10"]):
            served.cli("traffic", "set", "fraud", *weights)
            time.sleep(1)
    assert served.replicas() == before  # a weight change is a reconfigure, not a restart
    assert load.failed == 0 and load.statuses[200] > 100, load.statuses
    assert set(load.versions) == {1, 2}


def test_pinned_versions_answer_even_at_zero_weight(served):
    served.cli("traffic", "set", "fraud", "1=100", "2=0")
    pinned = asyncio.run(_versions(served, 50, {"model": "fraud", "features": ROW}, {"x-model-version": "2"}))
    assert set(pinned) == {2}
    missing = httpx.post(f"{served.http}/api/v1/predict", json={"model": "fraud", "features": ROW},
                         headers={**served.headers, "x-model-version": "9"})  # fmt: skip
    assert missing.status_code == 404 and "version '9' of fraud is not deployed" in missing.json()["error"]


def test_sticky_keys_keep_each_caller_on_one_version(served):
    served.cli("traffic", "set", "fraud", "1=50", "2=50", "--sticky-header", "x-user")

    async def callers():
        async with httpx.AsyncClient(timeout=30.0) as client:
            seen = {}
            for user in range(30):
                body, headers = (
                    {"model": "fraud", "features": ROW},
                    {**served.headers, "x-user": f"user-{user}"},
                )
                answers = [
                    await client.post(f"{served.http}/api/v1/predict", json=body, headers=headers)
                    for _ in range(5)
                ]
                seen[user] = {a.json()["version"] for a in answers}
            return seen

    seen = asyncio.run(callers())
    assert all(len(versions) == 1 for versions in seen.values()), seen
    assert {v for versions in seen.values() for v in versions} == {1, 2}  # both halves are used


def test_shadow_copies_leave_answers_unchanged_and_are_measured(served):
    served.cli("traffic", "set", "fraud", "1=100", "--shadow", "3=100")
    labels = {"model": "fraud", "version": "3", "role": "shadow"}
    before = _metric(served, "ray_raynomaly_scored_rows_total", **labels)
    agreed = _metric(served, "ray_raynomaly_shadow_agreement_rows_total", model="fraud", version="3")
    versions = asyncio.run(_versions(served, 200, {"model": "fraud", "features": ROW}))
    assert set(versions) == {1}
    grown = _eventually(lambda: _metric(served, "ray_raynomaly_scored_rows_total", **labels) >= before + 150)
    assert grown, "shadow rows did not reach the metrics export"
    compared = _metric(served, "ray_raynomaly_shadow_agreement_rows_total", model="fraud", version="3")
    assert compared - agreed >= 150  # each mirrored row is paired with its answer


def test_inline_batching_really_batches_and_reconfigures_in_place(served):
    served.cli("traffic", "set", "fraud", "1=100")
    # 50 ms: long enough that concurrent callers meet in one batch even on a busy 2-core machine
    batched = ScorerOptions(batching=Batching(max_batch_size=64, batch_wait_timeout_s=0.05))
    served.apply(with_options(served, "fraud", {1: batched}))
    labels = {"model": "fraud", "version": "1"}
    batches = _metric(served, "ray_raynomaly_batch_size_count", **labels)
    rows = _metric(served, "ray_raynomaly_scored_rows_total", **labels)
    asyncio.run(_versions(served, 640, {"model": "fraud", "features": ROW}, concurrency=64))
    # Ray approximates histogram sums; the rows counter and the batch count are exact
    scored = _eventually(lambda: _metric(served, "ray_raynomaly_scored_rows_total", **labels) - rows >= 640)
    assert scored, "the 640 rows did not reach the metrics export"
    mean_batch = 640 / (_metric(served, "ray_raynomaly_batch_size_count", **labels) - batches)
    assert mean_batch > 1.5, f"64 concurrent callers were not batched together (mean batch {mean_batch:.2f})"
    before = served.replicas()
    served.apply(with_options(served, "fraud", {1: ScorerOptions()}))  # batching off again, in place
    assert served.replicas() == before


def test_a_mixed_inline_and_dedicated_table_moves_both_ways_under_load(served):
    served.cli("traffic", "set", "fraud", "1=50", "2=50")
    with Load(served.http, key=served.key, model="fraud", rate=60) as load:
        served.apply(with_options(served, "fraud", {2: DEDICATED}))
        assert set(served.replicas()) == {"gateway", "fraud--v2"}
        pinned = asyncio.run(
            _versions(served, 20, {"model": "fraud", "features": ROW}, {"x-model-version": "2"})
        )
        assert set(pinned) == {2}
        # the dedicated application has no route: the gateway stays gRPC's only backend, no metadata needed
        stub = pb_grpc.InferenceStub(grpc.insecure_channel(served.grpc))
        keyed = (("authorization", f"Bearer {served.key}"), ("x-model-version", "2"))
        assert stub.Predict(pb.PredictRequest(model="fraud", features=ROW), metadata=keyed).version == 2
        served.apply(with_options(served, "fraud", {2: ScorerOptions()}))  # back inline: drained first
        # Serve can take more than 30 s to delete an application on a busy machine
        gone = _eventually(lambda: set(served.replicas()) == {"gateway"}, timeout_s=120)
    assert gone, "the dedicated application was not removed once the gateway scored v2 itself"
    assert load.failed == 0 and set(load.versions) == {1, 2}, load.statuses


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [
        pytest.param(
            "predict", {"model": "fraud", "features": [1.0, 2.0]}, {}, 400, "expected 8 features", id="width"
        ),
        pytest.param(
            "predict",
            {"model": "fraud", "features": [1.0] * 7 + ["NaN"]},
            {},
            400,
            "holds a string",
            id="nan",
        ),
        pytest.param(
            "predict", {"model": "nope", "features": ROW}, {}, 404, "is not served", id="unknown-model"
        ),
        pytest.param("predict", {"features": ROW}, {}, 400, "must name its model", id="no-model"),
        pytest.param(
            "predict/batch",
            {"model": "fraud", "instances": [ROW, ROW[:3]]},
            {},
            400,
            "not numeric",
            id="ragged-batch",
        ),
        pytest.param(
            "predict/batch",
            {"model": "fraud", "instances": [ROW] * 100_001},
            {},
            413,
            "over the limit",
            id="too-many-rows",
        ),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(served, path, body, headers, status, message):
    response = httpx.post(f"{served.http}/api/v1/{path}", json=body, headers={**served.headers, **headers},
                          timeout=60.0)  # fmt: skip
    assert response.status_code == status and message in response.json()["error"]


def test_binary_batches_and_arrow_answers(served):
    import io

    import pyarrow as pa

    X = np.tile(ROW, (1000, 1)) + np.random.default_rng(0).normal(size=(1000, 8))
    buffer = io.BytesIO()
    np.save(buffer, X)
    headers = {
        **served.headers,
        "content-type": "application/x-npy",
        "accept": "application/vnd.apache.arrow.stream",
    }
    url = f"{served.http}/api/v1/predict/batch?model=churn"
    response = httpx.post(url, content=buffer.getvalue(), headers=headers)
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.num_rows == 1000 and table.schema.metadata[b"model"] == b"churn"
    as_json = httpx.post(
        f"{served.http}/api/v1/predict/batch", json={"model": "churn", "instances": X.tolist()},
        headers=served.headers,
    )  # fmt: skip
    np.testing.assert_array_equal(as_json.json()["scores"], table.column("score").to_numpy())


def test_grpc_paths(served):
    served.cli("traffic", "set", "fraud", "1=100", "2=0")
    stub = pb_grpc.InferenceStub(grpc.insecure_channel(served.grpc))
    metadata = (*GATEWAY, ("authorization", f"Bearer {served.key}"))
    single = stub.Predict(pb.PredictRequest(model="fraud", features=ROW), metadata=metadata)
    assert single.version == 1 and len(single.scores) == 1
    X = np.tile(ROW, (2500, 1))
    request = pb.PredictBatchRequest(model="fraud", values=X.ravel().tolist(), n_features=8, chunk_rows=1000)
    batch = stub.PredictBatch(request, metadata=metadata + (("x-model-version", "2"),))
    assert batch.version == 2 and len(batch.scores) == 2500
    chunks = list(stub.PredictStream(request, metadata=metadata))
    assert [(c.offset, len(c.scores)) for c in chunks] == [(0, 1000), (1000, 1000), (2000, 500)]
    with pytest.raises(grpc.RpcError) as refused:
        stub.PredictBatch(
            pb.PredictBatchRequest(model="fraud", values=[1.0] * 7, n_features=8), metadata=metadata
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        stub.Predict(pb.PredictRequest(model="nope", features=ROW), metadata=metadata)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_websocket_answers_in_order_and_survives_bad_messages(served):
    async def converse():
        async with websockets.connect(
            f"ws://{served.http.removeprefix('http://')}/api/v1/predict/streaming?model=churn",
            additional_headers=served.headers,
        ) as ws:
            answers = []
            for shift in range(5):
                await ws.send(json.dumps({"features": [x + shift for x in ROW]}))
                answers.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"features": [1.0]}))
            error = json.loads(await ws.recv())
            await ws.send(json.dumps({"instances": [ROW, ROW]}))
            return answers, error, json.loads(await ws.recv())

    answers, error, batch = asyncio.run(converse())
    shifted = [[x + shift for x in ROW] for shift in range(5)]
    expected = httpx.post(
        f"{served.http}/api/v1/predict/batch", json={"model": "churn", "instances": shifted},
        headers=served.headers,
    ).json()  # fmt: skip
    assert [a["scores"][0] for a in answers] == expected["scores"]
    assert error["status"] == 400 and "expected 8 features" in error["error"]
    assert len(batch["scores"]) == 2


def test_traffic_set_refuses_bad_tables_with_exit_code_2(served):
    result = served.cli("traffic", "set", "fraud", "1=50", "2=40", check=False)
    assert result.returncode == 2 and "weights must sum to 100, got 90" in result.stderr
    result = served.cli("traffic", "set", "fraud", "7=100", check=False)
    assert result.returncode == 2 and "fraud has no version 7" in result.stderr
    assert re.search(
        r"fraud", json.loads(served.cli("status", "--json").stdout)["traffic"]["models"].__repr__()
    )


def test_a_full_gateway_queue_sheds_load_with_503_and_retry_after(served):
    import io

    served.cli("traffic", "set", "fraud", "3=100")  # ECOD: the slowest scorer, so the queue fills
    desired = served.desired()
    tight = desired.gateway.model_copy(update={"max_ongoing_requests": 4, "max_queued_requests": 2})
    served.apply(desired.model_copy(update={"gateway": tight}))
    buffer = io.BytesIO()
    np.save(buffer, np.tile(ROW, (20_000, 1)))

    async def blast():
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=300.0) as client:
            url, headers = (
                f"{served.http}/api/v1/predict/batch?model=fraud",
                {**served.headers, "content-type": "application/x-npy"},
            )
            posts = (client.post(url, content=buffer.getvalue(), headers=headers) for _ in range(100))
            return await asyncio.gather(*posts)

    try:
        responses = asyncio.run(blast())
    finally:
        served.apply(desired)
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503} and 503 in statuses and 200 in statuses
    assert all(r.headers.get("retry-after") == "1" for r in responses if r.status_code == 503)


@pytest.mark.slow
def test_the_gateway_scales_out_under_load_and_back_after_it_with_no_failed_request(served):
    served.cli("traffic", "set", "fraud", "1=100")
    desired = served.desired()
    scaling = Autoscaling(min_replicas=1, max_replicas=2, target_ongoing_requests=0.4, upscale_delay_s=1,
                          downscale_delay_s=2, metrics_interval_s=1, look_back_period_s=4)  # fmt: skip
    served.apply(
        desired.model_copy(update={"gateway": desired.gateway.model_copy(update={"autoscaling": scaling})})
    )
    body = json.dumps({"model": "fraud", "features": ROW}).encode()
    try:
        idle = _eventually(lambda: len(served.replicas()["gateway"]) == 1, timeout_s=120)  # from 2 by default
        assert idle, "an idle autoscaled gateway did not come down to its minimum of 1 replica"
        under_load = wrk.run(f"{served.http}/api/v1/predict", body, "application/json", 32, 30,
                             header=f"authorization: Bearer {served.key}")  # fmt: skip
        grown = len(served.replicas()["gateway"])
        shrunk = _eventually(lambda: len(served.replicas()["gateway"]) == 1, timeout_s=120)
    finally:
        served.apply(desired)
    assert grown == 2, "30 s of saturating load did not add a gateway replica"
    assert shrunk, "the second gateway replica was not removed after the load stopped"
    assert under_load.failed == 0 and under_load.requests > 1000, under_load
