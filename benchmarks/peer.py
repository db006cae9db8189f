"""The peer for bench_serving.py: the same compiled scorer behind one FastAPI + uvicorn process.

python benchmarks/peer.py STORE MODEL PORT
"""

import io
import sys

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import models

store, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = models.load(name, store=store)
app = FastAPI()


def _answer(rows) -> JSONResponse:
    scores = model.decision_function(rows)
    labels = (scores > model.threshold_).astype(np.int8)
    return JSONResponse({"model": name, "scores": scores.tolist(), "labels": labels.tolist()})


@app.post("/api/v1/predict")
async def predict(request: Request) -> JSONResponse:
    return _answer([(await request.json())["features"]])


@app.post("/api/v1/predict/batch")
async def batch(request: Request) -> JSONResponse:
    if request.headers.get("content-type") == "application/x-npy":
        return _answer(np.load(io.BytesIO(await request.body()), allow_pickle=False))
    return _answer((await request.json())["instances"])


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
