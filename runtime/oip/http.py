"""The Open Inference Protocol's HTTP routes, mixed into the gateway: health and metadata at `/v2`,
models' metadata, readiness and `infer`, by version when the path names one (as the
`x-model-version` header pins) or routed by the traffic table (canary, shadow and sticky apply)."""

import functools
from importlib.metadata import version as package_version

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from runtime.codec import Rows
from runtime.errors import BadRequest
from runtime.inference import Inference
from runtime.oip import rest
from runtime.oip.openapi import INFER, INFER_ANSWERS, INFER_VERSION, METADATA_ANSWERS, MODEL_READY_ANSWERS
from runtime.oip.tensors import metadata
from runtime.openapi import PIN_HEADER, READY, SECURED
from runtime.probes import readiness
from runtime.spans import annotate, span

router = APIRouter(prefix="/v2", tags=["Open Inference Protocol"])
MODEL, VERSIONED = "/models/{model}", "/models/{model}/versions/{version}"


@functools.cache
def server_metadata() -> dict:
    """Who answers, and which protocol extensions it speaks (read from the installed package once)."""
    return {"name": "raynomaly", "version": package_version("raynomaly"), "extensions": rest.EXTENSIONS}


class OpenInferenceHttp:
    """`/v2`: the protocol over HTTP. Health and server metadata need no key; the rest do."""

    inference: Inference
    problem: str | None

    @router.get("")
    def oip_server(self) -> dict:
        """Server metadata: name, version, extensions (binary_tensor_data)."""
        return server_metadata()

    @router.get("/health/live")
    def oip_live(self) -> dict:
        """The gateway answers."""
        return {"live": True}

    @router.get("/health/ready", responses=READY)
    def oip_ready(self) -> JSONResponse:
        """200 when every version of the traffic table is loaded and running, else 503."""
        state = readiness(self.inference, self.problem)
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @router.get(MODEL, openapi_extra=SECURED, responses=METADATA_ANSWERS)
    def oip_model(self, model: str, request: Request) -> dict:
        """A model's metadata: its deployed versions, platform, input and outputs (of its stable version)."""
        return self._metadata(model, None, request)

    @router.get(VERSIONED, openapi_extra=SECURED, responses=METADATA_ANSWERS)
    def oip_model_version(self, model: str, version: str, request: Request) -> dict:
        """The metadata of a model's deployed version."""
        return self._metadata(model, version, request)

    @router.get(MODEL + "/ready", openapi_extra=SECURED, responses=MODEL_READY_ANSWERS)
    def oip_model_ready(self, model: str, request: Request) -> dict:
        """200 when the model's stable version is loaded; 404 if the model is not served."""
        return self._model_ready(model, None, request)

    @router.get(VERSIONED + "/ready", openapi_extra=SECURED, responses=MODEL_READY_ANSWERS)
    def oip_model_version_ready(self, model: str, version: str, request: Request) -> dict:
        """200 when the version is loaded; 404 if it is not deployed."""
        return self._model_ready(model, version, request)

    @router.post(MODEL + "/infer", openapi_extra=INFER, responses=INFER_ANSWERS)
    async def oip_infer(self, model: str, request: Request) -> Response:
        """Score the rows of the `features` input (JSON tensors or the binary tensor extension),
        routed by the traffic table, or pinned by the x-model-version header."""
        return await self._infer(model, request.headers.get(PIN_HEADER), request)

    @router.post(VERSIONED + "/infer", openapi_extra=INFER_VERSION, responses=INFER_ANSWERS)
    async def oip_infer_version(self, model: str, version: str, request: Request) -> Response:
        """Score with the version the path names."""
        return await self._infer(model, version, request)

    def _metadata(self, model: str, version: str | None, request: Request) -> dict:
        who = self.inference.admit(request.headers.get("authorization"))
        described = self.inference.described(model, version, who)
        versions = self.inference.traffic(model).versions
        return metadata(model, versions, described.n_features, described.platform)

    def _model_ready(self, model: str, version: str | None, request: Request) -> dict:
        who = self.inference.admit(request.headers.get("authorization"))
        described = self.inference.described(model, version, who)
        return {"name": model, "version": str(described.version), "ready": True}

    async def _infer(self, model: str, pinned: str | None, request: Request) -> Response:
        headers = request.headers
        who = self.inference.admit(headers.get("authorization"))
        if headers.get("content-encoding", "identity") != "identity":
            raise BadRequest(
                f"Content-Encoding {headers['content-encoding']!r} is not accepted; send plain bytes"
            )
        with span("parse", model=model) as parsing:
            call = rest.read_call(await self._body(request), headers.get(rest.HEADER_LENGTH))
            rows, sticky = Rows("matrix", call.matrix), self._sticky(model, headers)
            annotate(parsing, rows=len(rows))
        body, answer_headers = rest.answer(
            call, await self.inference.predict(model, rows, pinned, sticky, who=who)
        )
        return Response(body, headers=answer_headers)
