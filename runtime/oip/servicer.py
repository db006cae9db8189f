"""The Open Inference Protocol's gRPC service, `inference.GRPCInferenceService`, mixed into the
gateway: answered on the gateway's gRPC port next to `raynomaly.v1.Inference`. `model_version`
pins a version (as the `x-model-version` metadata does); empty, the traffic table routes."""

from runtime import request_ids
from runtime.codec import Rows
from runtime.errors import UnknownModel, VersionNotDeployed
from runtime.inference import Inference
from runtime.oip.http import server_metadata
from runtime.oip.messages import model_metadata, read_request, respond
from runtime.oip.tensors import metadata
from runtime.probes import readiness
from runtime.rpc import open_inference_pb2 as oip
from runtime.spans import annotate, span
from runtime.transport import answered, caller, pin_and_sticky


class OpenInferenceGrpc:
    """ServerLive, ServerReady and ServerMetadata need no key; the model calls do."""

    inference: Inference
    problem: str | None

    async def ServerLive(self, request: oip.ServerLiveRequest, grpc_context) -> oip.ServerLiveResponse:  # noqa: N802
        """The gateway answers."""
        request_ids.for_grpc(grpc_context)
        return oip.ServerLiveResponse(live=True)

    async def ServerReady(self, request: oip.ServerReadyRequest, grpc_context) -> oip.ServerReadyResponse:  # noqa: N802
        """Every version of the traffic table is loaded and running."""
        request_ids.for_grpc(grpc_context)
        return oip.ServerReadyResponse(ready=readiness(self.inference, self.problem)["ready"])

    async def ServerMetadata(self, request, grpc_context) -> oip.ServerMetadataResponse:  # noqa: N802
        """Name, version, extensions."""
        request_ids.for_grpc(grpc_context)
        return oip.ServerMetadataResponse(**server_metadata())

    async def ModelReady(self, request: oip.ModelReadyRequest, grpc_context) -> oip.ModelReadyResponse:  # noqa: N802
        """Whether the version (or the stable one) is loaded: false for a model or version not served."""

        async def call():
            who = caller(self.inference, grpc_context)
            try:
                self.inference.described(request.name, request.version or None, who)
            except (UnknownModel, VersionNotDeployed):
                return oip.ModelReadyResponse(ready=False)
            return oip.ModelReadyResponse(ready=True)

        return await answered(call, grpc_context, oip.ModelReadyResponse(), "ModelReady")

    async def ModelMetadata(self, request: oip.ModelMetadataRequest, grpc_context):  # noqa: N802
        """Versions, platform, input and outputs of the version (or the stable one)."""

        async def call():
            who = caller(self.inference, grpc_context)
            described = self.inference.described(request.name, request.version or None, who)
            versions = self.inference.traffic(request.name).versions
            return model_metadata(metadata(request.name, versions, described.n_features, described.platform))

        return await answered(call, grpc_context, oip.ModelMetadataResponse(), "ModelMetadata")

    async def ModelInfer(self, request: oip.ModelInferRequest, grpc_context) -> oip.ModelInferResponse:  # noqa: N802
        """Score the rows of the `features` input, raw or typed."""

        async def call():
            who = caller(self.inference, grpc_context)
            pinned, sticky = pin_and_sticky(self.inference, grpc_context, request.model_name)
            self.inference.check_body(request.ByteSize())
            with span("parse", model=request.model_name) as parsing:
                read = read_request(request)
                rows = Rows("matrix", read.matrix)
                annotate(parsing, rows=len(rows))
            scored = await self.inference.predict(
                request.model_name, rows, request.model_version or pinned, sticky, who=who
            )
            return respond(read, scored)

        return await answered(call, grpc_context, oip.ModelInferResponse(), "ModelInfer")
