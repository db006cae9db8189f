"""The gateway application: HTTP ingress at `/` and gRPC target, routing by the traffic table and
scoring inline versions in the request's own coroutine (dedicated ones through handles). It speaks
raynomaly's own API here, the Open Inference Protocol (`runtime.oip`) and gRPC health
(`runtime.probes`) through the classes it mixes in.

Transport adapters only: parse, call `Inference`, answer; errors map to status codes through
`runtime.errors`, so a client's mistake is a 4xx with a message that names it.
"""

import logging
import math
from collections.abc import AsyncIterator

import numpy as np
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from ray import serve
from ray.serve.exceptions import BackPressureError

from runtime import logs
from runtime.autoscaling import CPU_SHARE, CpuShare
from runtime.bodies import read_body
from runtime.codec import ARROW, JSON, NPY, Answer, Rows, model_of, parse_json
from runtime.desired import GatewayConfig
from runtime.errors import ANSWERED, BadRequest, Overloaded, RateLimited, grpc_code, http_status, unquoted
from runtime.inference import Inference
from runtime.metrics import GatewayMetrics, ScorerMetrics
from runtime.oip.http import OpenInferenceHttp
from runtime.oip.http import router as open_inference
from runtime.oip.servicer import OpenInferenceGrpc
from runtime.openapi import ANSWERS, BATCH_ANSWERS, PIN_HEADER, PREDICT, PREDICT_BATCH, READY, declare_bearer
from runtime.placement import Unavailable
from runtime.probes import Health, readiness
from runtime.request_scope import RequestIds, grpc_call
from runtime.rpc import raynomaly_pb2 as pb
from runtime.spans import annotate, span
from runtime.transport import answered, caller, pin_and_sticky

logger = logging.getLogger("raynomaly.gateway")

# Serve traces each replica call; FastAPI's own request span would start a trace of its own (from
# the request's headers alone) around the gateway's spans, sampled apart from Serve's
api = FastAPI(
    title="raynomaly",
    description="Anomaly scores from the served model versions.",
    telemetry={"tracing": False},
)
api.include_router(open_inference)
api.add_middleware(RequestIds)
declare_bearer(api)


def _error(error: Exception) -> JSONResponse:
    status = http_status(error)
    detail = (
        str(error) if status < 500 or status == 503 else f"internal error: {type(error).__name__}: {error}"
    )
    headers = {"Retry-After": "1"} if status == 503 else None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="raynomaly"'}
    return JSONResponse({"error": detail, "status": status}, status_code=status, headers=headers)


# Every function the class uses is defined before it: `serve.ingress` pickles the class with the
# module's globals as they are when the class is decorated, so a later one is missing in a replica.


def _json(answer: Answer) -> Response:
    """An answer as JSON."""
    return Response(answer.as_json(), media_type=JSON)


for _kind in ANSWERED:
    api.add_exception_handler(_kind, lambda request, error: _error(error))
api.add_exception_handler(
    BackPressureError, lambda request, error: _error(Overloaded(f"overloaded: {error}"))
)


async def stream_messages(websocket: WebSocket, inference: Inference, model: str, chosen, who=None) -> None:
    """Answer each message of a socket in order: scores, or an error naming what was wrong with that
    message (a binary frame, bad JSON, bad rows, over the caller's quota, a failed scoring); the
    socket stays open."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        try:
            inference.throttle(who)
            if message.get("text") is None:
                raise BadRequest('send each message as a JSON text frame: {"instances": [[..]]}')
            document = parse_json(message["text"].encode())
            rows = (Rows.from_instances(document["instances"]) if "instances" in document
                    else Rows.from_features(document.get("features")))  # fmt: skip
            answer = await inference.predict(model, rows, chosen=chosen)
            await websocket.send_text(answer.as_json().decode())
        except ANSWERED as e:
            logs.failed_answer(http_status(e), e, path=websocket.url.path)
            await websocket.send_json({"error": str(e), "status": http_status(e)})
        except Exception as e:  # one message failed, not the stream: answered, logged, and on it goes
            logger.error("a streaming message failed: %s", unquoted(e), extra={"status": http_status(e)})
            await websocket.send_json(
                {"error": f"internal error: {type(e).__name__}: {e}", "status": http_status(e)}
            )


def _response(answer: Answer, offset: int = 0) -> pb.PredictResponse:
    head = {"model": answer.model, "version": answer.version, "threshold": answer.threshold}
    scores, labels = answer.scores.tolist(), answer.labels.tolist()
    return pb.PredictResponse(**head, scores=scores, labels=labels, offset=offset)


def batch_rows(inference: Inference, request: pb.PredictBatchRequest) -> np.ndarray:
    """The row-major values of a batch request as a matrix, within the gateway's limits: its bytes
    against `max_body_bytes` (Serve's gRPC proxy takes messages up to 2 GiB) and its rows, all of
    them, against `max_rows`."""
    inference.check_body(request.ByteSize())
    if request.n_features == 0 or len(request.values) % request.n_features:
        raise BadRequest(
            f"{len(request.values)} values do not split into rows of n_features={request.n_features}"
        )
    inference.check_rows(len(request.values) // request.n_features)
    return np.asarray(request.values, dtype=np.float64).reshape(-1, request.n_features)


async def stream_chunks(inference: Inference, request: pb.PredictBatchRequest, pinned: str | None,
                        sticky: str | None, grpc_context) -> AsyncIterator[pb.PredictResponse]:  # fmt: skip
    """PredictStream: the request's rows answered in chunks of `chunk_rows`, in order, all by one
    version; a client's mistake (its credentials too) ends the stream with its status code."""
    with grpc_call(grpc_context):
        async for response in _chunks(inference, request, pinned, sticky, grpc_context):
            yield response


async def _chunks(inference: Inference, request: pb.PredictBatchRequest, pinned: str | None,
                  sticky: str | None, grpc_context) -> AsyncIterator[pb.PredictResponse]:  # fmt: skip
    try:
        who = caller(inference, grpc_context)
        chosen = inference.route(request.model, pinned, sticky, who)
        matrix = batch_rows(inference, request)
        chunk = request.chunk_rows or 1000
        for offset in range(0, len(matrix), chunk):
            rows = Rows("matrix", matrix[offset : offset + chunk])
            yield _response(await inference.predict(request.model, rows, chosen=chosen), offset)
    except ANSWERED as e:
        logs.failed_answer(http_status(e), e, method="PredictStream")
        grpc_context.set_code(grpc_code(e))
        grpc_context.set_details(str(e))


@serve.deployment
@serve.ingress(api)
class Gateway(OpenInferenceHttp, OpenInferenceGrpc, Health):
    """Routes every request of every model to a version by weight, pin or sticky key."""

    def __init__(self):
        logs.configure()
        self.metrics = ScorerMetrics()  # inline versions record here, as a dedicated Scorer would
        self.inference = Inference(self, GatewayMetrics())
        self.problem: str | None = None
        self._started = False
        self._cpu = CpuShare()

    def record_autoscaling_stats(self) -> dict[str, float]:
        """What `runtime.autoscaling.cpu_policy` scales on (Serve calls this periodically)."""
        return {CPU_SHARE: self._cpu.read()}

    @staticmethod
    def handle(app: str):
        """The deployment handle of a dedicated version's application."""
        return serve.get_app_handle(app)

    async def reconfigure(self, config: dict) -> None:
        """Make every version of the new table ready, then apply it in place (no replica restart).
        A version that cannot be made ready keeps the old table serving and is reported by /ready;
        a new replica that cannot serve its table refuses to start (the others keep serving)."""
        try:
            await self.inference.configure(GatewayConfig.model_validate(config))
            self.problem = None
        except Unavailable as e:
            if not self._started:
                raise
            self.problem = str(e)
            logger.error("kept the previous traffic table: %s", e)
        self._started = True

    async def _body(self, request: Request) -> bytes:
        limit = self.inference.config.max_body_bytes
        return await read_body(request.stream(), request.headers.get("content-length"), limit)

    def _sticky(self, model: str, headers) -> str | None:
        header = self.inference.traffic(model).sticky_header
        return headers.get(header) if header else None

    @api.post("/api/v1/predict", openapi_extra=PREDICT, responses=ANSWERS)
    async def predict(self, request: Request) -> JSONResponse:
        """One sample: {"model": NAME, "features": [..] or {name: value}}."""
        who = self.inference.admit(request.headers.get("authorization"))
        with span("parse") as parsing:
            document = parse_json(await self._body(request))
            model = model_of(document)
            rows = Rows.from_features(document.get("features"))
            annotate(parsing, model=model, rows=len(rows))
        answer = await self.inference.predict(
            model, rows, request.headers.get(PIN_HEADER), self._sticky(model, request.headers), who=who
        )
        return _json(answer)

    @api.post("/api/v1/predict/batch", openapi_extra=PREDICT_BATCH, responses=BATCH_ANSWERS)
    async def predict_batch(self, request: Request) -> Response:
        """Many samples: JSON {"model", "instances"}, or an Arrow IPC / .npy body with ?model=NAME."""
        who = self.inference.admit(request.headers.get("authorization"))
        with span("parse") as parsing:
            model, rows = await self._batch(request)
            annotate(parsing, model=model, rows=len(rows))
        answer = await self.inference.predict(
            model, rows, request.headers.get(PIN_HEADER), self._sticky(model, request.headers), who=who
        )
        if ARROW in request.headers.get("accept", ""):
            return Response(answer.as_arrow(), media_type=ARROW)
        return _json(answer)

    async def _batch(self, request: Request) -> tuple[str, Rows]:
        """The model and rows of a batch: JSON, or an Arrow IPC / .npy body naming its model in the query."""
        body = await self._body(request)
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip()
        if content_type not in (ARROW, NPY):  # JSON, also from clients that do not say so
            document = parse_json(body)
            return model_of(document), Rows.from_instances(document.get("instances"))
        model = request.query_params.get("model")
        if not model:
            raise BadRequest("binary batches name their model in the query: /api/v1/predict/batch?model=NAME")
        config = self.inference.config
        return model, Rows.from_binary(body, content_type, config.max_rows, config.max_body_bytes)

    @api.websocket("/api/v1/predict/streaming")
    async def streaming(self, websocket: WebSocket) -> None:
        """Rows in, scores out, in order: each message {"features": [..]} or {"instances": [[..]]}."""
        await websocket.accept()
        model = websocket.query_params.get("model", "")
        try:
            who = self.inference.gate.authenticate(websocket.headers.get("authorization"))
            chosen = self.inference.route(
                model, websocket.headers.get(PIN_HEADER), self._sticky(model, websocket.headers), who
            )
        except ANSWERED as e:
            logs.failed_answer(http_status(e), e, path=websocket.url.path)
            await websocket.send_json({"error": str(e), "status": http_status(e)})
            await websocket.close(code=1008)
            return
        try:
            await stream_messages(websocket, self.inference, model, chosen, who)
        except WebSocketDisconnect:
            return

    @api.get("/health")
    def health(self) -> dict:
        """The gateway answers."""
        return {"status": "ok"}

    @api.get("/ready", responses=READY)
    def ready(self) -> JSONResponse:
        """200 when the last table was applied (every inline version loaded) and every dedicated
        version's application is RUNNING; else 503 naming what failed or is awaited."""
        state = readiness(self.inference, self.problem)
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @api.get("/api/v1/traffic")
    def traffic(self, request: Request) -> dict:
        """The live traffic table and the served revision it was recorded as (any valid token)."""
        self.inference.admit(request.headers.get("authorization"))
        config = self.inference.config
        return {"revision": config.revision, **config.traffic.model_dump(mode="json")}

    # gRPC (service raynomaly.v1.Inference)

    async def Predict(self, request: pb.PredictRequest, grpc_context) -> pb.PredictResponse:  # noqa: N802
        """gRPC: one sample."""

        async def call():
            who = caller(self.inference, grpc_context)
            pinned, sticky = pin_and_sticky(self.inference, grpc_context, request.model)
            self.inference.check_body(request.ByteSize())
            with span("parse", model=request.model, rows=1):
                rows = Rows.from_features(list(request.features))
            return _response(await self.inference.predict(request.model, rows, pinned, sticky, who=who))

        return await answered(call, grpc_context, pb.PredictResponse(), "Predict")

    async def PredictBatch(self, request: pb.PredictBatchRequest, grpc_context) -> pb.PredictResponse:  # noqa: N802
        """gRPC: many samples, row-major."""

        async def call():
            who = caller(self.inference, grpc_context)
            pinned, sticky = pin_and_sticky(self.inference, grpc_context, request.model)
            with span("parse", model=request.model) as parsing:
                rows = Rows("matrix", batch_rows(self.inference, request))
                annotate(parsing, rows=len(rows))
            return _response(await self.inference.predict(request.model, rows, pinned, sticky, who=who))

        return await answered(call, grpc_context, pb.PredictResponse(), "PredictBatch")

    async def PredictStream(self, request: pb.PredictBatchRequest, grpc_context):  # noqa: N802
        """gRPC: many samples answered in chunks, in order, all by the same version."""
        pinned, sticky = pin_and_sticky(self.inference, grpc_context, request.model)
        async for response in stream_chunks(self.inference, request, pinned, sticky, grpc_context):
            yield response


app = Gateway.bind()
