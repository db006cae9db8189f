"""How do the public surfaces hold up under many hostile inputs: the control API and the gateway's
HTTP (JSON, Arrow, .npy), WebSocket and gRPC adapters, each fed the fuzz suite's generators
(schemathesis from the OpenAPI documents, hypothesis from tests/runtime/hostile.py) with many more
examples than the unit tests, in-process on the doubled core (no Ray). Per surface: inputs tried,
answers by class (a WebSocket error counts as its status's class, a gRPC one as the class of its
code; each gRPC input is sent to Predict, PredictBatch and PredictStream) and the process's peak RSS,
each surface in a fresh process. Any server error fails the run. Results:
`benchmarks/results/hostile.json` and a table.

    python benchmarks/bench_hostile.py [--examples 600]
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "hostile.json"
CLASSES = ("2xx", "4xx", "5xx")
GRPC_CLASS = {None: "2xx", "INVALID_ARGUMENT": "4xx", "NOT_FOUND": "4xx", "RESOURCE_EXHAUSTED": "4xx"}
"""A gRPC answer's code as an HTTP class; any other code (INTERNAL, UNKNOWN) is a server error."""


def _campaign(strategy, examples: int, send: Callable) -> None:
    """`send` each of `examples` inputs drawn from `strategy` (derandomized: the same inputs each run)."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def run(drawn):
        send(drawn)

    run()


def _classify(status: int) -> str:
    return f"{status // 100}xx"


def control_api(examples: int, counts: Counter) -> None:
    """Every operation of the control API's document, positive and negative, with an admin token."""
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    from tests.controller.test_api_schema import ADMIN, schema, stocked

    with tempfile.TemporaryDirectory() as root:
        app = stocked(Path(root))
        cases = st.one_of(schema.as_strategy(mode, hooks=schema.hooks) for mode in GenerationMode)

        def send(case):
            case.headers = {**(case.headers or {}), **ADMIN}
            counts[_classify(case.call(app=app).status_code)] += 1

        _campaign(cases, examples, send)


def _gateway():
    """A client of the gateway's app on the doubled core, open while the block runs."""
    from starlette.testclient import TestClient

    from tests.runtime.replica import Replica, served, serving

    inference, _ = serving()

    @contextlib.contextmanager
    def client():
        with served(Replica(inference)) as app:
            yield TestClient(app, raise_server_exceptions=False)

    return inference, client()


def _http_surface(strategy, examples: int, counts: Counter, content_type: str, path: Callable) -> None:
    _, opened = _gateway()
    with opened as client:

        def send(drawn):
            body, where = drawn
            answer = client.post(path(where), content=body, headers={"content-type": content_type})
            counts[_classify(answer.status_code)] += 1

        _campaign(strategy, examples, send)


def gateway_json(examples: int, counts: Counter) -> None:
    """Arbitrary JSON values where the rows go, raw texts that stress the parser, both routes."""
    from hypothesis import strategies as st

    from tests.runtime.hostile import json_values, raw_json, rows

    def document(key: str):
        return (json_values | rows).map(lambda value: json.dumps({"model": "fraud", key: value}).encode())

    routes = st.sampled_from(["/api/v1/predict", "/api/v1/predict/batch"])
    bodies = st.tuples(document("features") | document("instances") | raw_json, routes)
    _http_surface(bodies, examples, counts, "application/json", lambda route: route)


def gateway_arrow(examples: int, counts: Counter) -> None:
    """Arrow IPC streams of random schemas, dtypes and compression, intact, cut or overwritten."""
    from hypothesis import strategies as st

    from runtime.codec import ARROW
    from tests.runtime.hostile import arrow_bodies, scoreable_arrow

    bodies = st.tuples(scoreable_arrow() | arrow_bodies(), st.just("fraud"))
    _http_surface(bodies, examples, counts, ARROW, lambda model: f"/api/v1/predict/batch?model={model}")


def gateway_npy(examples: int, counts: Counter) -> None:
    """.npy arrays of random dtypes and shapes, headers that lie, bodies cut or overwritten."""
    from hypothesis import strategies as st

    from runtime.codec import NPY
    from tests.runtime.hostile import npy_bodies, scoreable_npy

    bodies = st.tuples(scoreable_npy() | npy_bodies(), st.just("fraud"))
    _http_surface(bodies, examples, counts, NPY, lambda model: f"/api/v1/predict/batch?model={model}")


def gateway_websocket(examples: int, counts: Counter) -> None:
    """Text and binary frames of random JSON, text and bytes on one socket; each answered."""
    from hypothesis import strategies as st

    from tests.runtime.hostile import json_values, rows

    messages = (json_values.map(json.dumps) | st.text(max_size=20) | st.binary(max_size=20)
                | st.builds(lambda v: json.dumps({"instances": v}), rows))  # fmt: skip
    _, opened = _gateway()
    with opened as client, client.websocket_connect("/api/v1/predict/streaming?model=fraud") as socket:

        def send(message):
            socket.send_bytes(message) if isinstance(message, bytes) else socket.send_text(message)
            answer = socket.receive_json()
            counts["2xx" if "scores" in answer else _classify(answer["status"])] += 1

        _campaign(messages, examples, send)


def gateway_grpc(examples: int, counts: Counter) -> None:
    """Predict, PredictBatch and PredictStream with random values, n_features and chunk sizes."""
    from hypothesis import strategies as st

    from runtime.gateway import stream_chunks
    from runtime.rpc import raynomaly_pb2 as pb
    from tests.runtime.replica import Replica
    from tests.runtime.test_gateway_streams import ContextDouble

    inference, _ = _gateway()
    replica = Replica(inference)
    values = st.lists(st.floats(width=64), max_size=120)
    requests = st.tuples(values, st.integers(0, 2**32 - 1), st.integers(0, 7))

    async def call(values, n_features, chunk):
        batch = pb.PredictBatchRequest(model="fraud", values=values, n_features=n_features, chunk_rows=chunk)
        contexts = [ContextDouble() for _ in range(3)]
        await replica.Predict(pb.PredictRequest(model="fraud", features=values), contexts[0])
        await replica.PredictBatch(batch, contexts[1])
        [chunk async for chunk in stream_chunks(inference, batch, None, None, contexts[2])]
        return contexts

    def send(request):
        for context in asyncio.run(call(*request)):
            counts[GRPC_CLASS.get(context.code.name if context.code else None, "5xx")] += 1

    _campaign(requests, examples, send)


SURFACES = {
    "control API": control_api,
    "gateway HTTP JSON": gateway_json,
    "gateway Arrow": gateway_arrow,
    "gateway .npy": gateway_npy,
    "gateway WebSocket": gateway_websocket,
    "gateway gRPC": gateway_grpc,
}


def _measure(surface: str, examples: int, answer) -> None:
    """In a fresh process: one surface's campaign, its answers by class and the peak RSS."""
    import logging
    import warnings

    logging.disable(logging.ERROR)  # the gateway logs each row it cannot read; the counts say it
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")
    counts: Counter = Counter()
    SURFACES[surface](examples, counts)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    by_class = {kind: counts[kind] for kind in CLASSES}
    answer.put({"surface": surface, "inputs": sum(counts.values()), **by_class,
                "peak_rss_mib": round(peak_kib / 1024, 1)})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=600, help="inputs drawn per surface")
    examples = parser.parse_args().examples
    spawn = multiprocessing.get_context("spawn")
    results = []
    for surface in SURFACES:
        queue = spawn.Queue()
        child = spawn.Process(target=_measure, args=(surface, examples, queue))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"the {surface} campaign failed (exit {child.exitcode}); nothing was written")
        results.append(queue.get(timeout=10))
    document = {"question": __doc__.splitlines()[0], "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count()}, "examples_per_surface": examples,
                "surfaces": results}  # fmt: skip
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print("| surface | inputs tried | 2xx | 4xx | 5xx | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for row in results:
        print(f"| {row['surface']} | {row['inputs']} | {row['2xx']} | {row['4xx']} | {row['5xx']} | "
              f"{row['peak_rss_mib']} |")  # fmt: skip
    print(f"written to {RESULTS}")
    if any(row["5xx"] for row in results):
        sys.exit("a hostile input got a server error: see the 5xx column")


if __name__ == "__main__":
    main()
