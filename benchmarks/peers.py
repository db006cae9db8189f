"""The peers raynomaly's serving is measured against (bench_serving.py): the same compiled scorer
and the same codecs (orjson, .npy, Arrow IPC) with none of raynomaly's routing, shadows or metrics.

- one FastAPI + uvicorn process:  python benchmarks/peers.py STORE MODEL PORT
- bare Ray Serve: one deployment scoring in its own replica, `bare` below, deployed by the benchmark
  behind the same HAProxy ingress as raynomaly (import path `peers:bare`, benchmarks/ on PYTHONPATH)
"""

import io
import sys

import numpy as np
import orjson
import pyarrow as pa
from fastapi import FastAPI, Request, Response

import models

ARROW, NPY = "application/vnd.apache.arrow.stream", "application/x-npy"


def rows_of(body: bytes, content_type: str) -> np.ndarray:
    """The rows of a batch body, as raynomaly reads them."""
    if content_type == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if content_type == ARROW:
        table = pa.ipc.open_stream(body).read_all()
        return np.column_stack([c.to_numpy() for c in table.columns])
    return np.asarray(orjson.loads(body)["instances"], dtype=np.float64)


def answer(model, rows) -> Response:
    """Scores and labels as JSON."""
    scores = model.decision_function(rows)
    labels = (scores > model.threshold_).astype(np.int8)
    body = {"scores": scores, "labels": labels}
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def fastapi_app(model) -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/predict")
    async def predict(request: Request) -> Response:
        return answer(model, [orjson.loads(await request.body())["features"]])

    @app.post("/api/v1/predict/batch")
    async def batch(request: Request) -> Response:
        return answer(model, rows_of(await request.body(), request.headers.get("content-type", "")))

    return app


def _bare_deployment():
    from ray import serve

    api = FastAPI()

    @serve.deployment(max_ongoing_requests=512)
    @serve.ingress(api)
    class Bare:
        def __init__(self, store: str, name: str):
            self.model = models.load(name, store=store)

        @api.post("/api/v1/predict")
        async def predict(self, request: Request) -> Response:
            return answer(self.model, [orjson.loads(await request.body())["features"]])

        @api.post("/api/v1/predict/batch")
        async def batch(self, request: Request) -> Response:
            return answer(self.model, rows_of(await request.body(), request.headers.get("content-type", "")))

    return Bare


def bare(args: dict):
    """Serve application builder: `args` holds store and model."""
    return _bare_deployment().bind(args["store"], args["model"])


if __name__ == "__main__":
    import uvicorn

    store, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(fastapi_app(models.load(name, store=store)), host="127.0.0.1", port=port, log_level="warning")
