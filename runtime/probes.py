"""Is the gateway ready, and is a model: one answer for `/ready`, the Open Inference Protocol's
health endpoints and `grpc.health.v1.Health` (mixed into the gateway), which Kubernetes' gRPC probes
and `grpc_health_probe` call. Probes need no key."""

import asyncio

import grpc
from grpc_health.v1 import health_pb2
from ray import serve

from runtime import request_ids
from runtime.errors import ANSWERED
from runtime.inference import Inference

SERVICES = ("", "grpc.health.v1.Health", "inference.GRPCInferenceService", "raynomaly.v1.Inference")
"""The gRPC health service names of the whole gateway; a served model's name asks for that model."""
WATCH_POLL_S = 1.0
Status = health_pb2.HealthCheckResponse.ServingStatus


def readiness(inference: Inference, problem: str | None) -> dict:
    """{"ready": True} when the last table was applied (every inline version loaded) and every
    dedicated version's application is RUNNING; else {"ready": False} naming what failed or waits."""
    if problem:
        return {"ready": False, "failed": problem}
    dedicated = [v for v in inference.config.versions if not v.inline]
    applications = serve.status().applications if dedicated else {}
    waiting = []
    for version in dedicated:
        app = applications.get(version.app_name)
        if app is None or app.status != "RUNNING":
            waiting.append(f"{version.app_name} ({app.status if app else 'not deployed'})")
    return {"ready": False, "waiting": waiting} if waiting else {"ready": True}


class Health:
    """`grpc.health.v1.Health`: SERVING when ready, NOT_SERVING when not, for the gateway's services
    and for each served model by its name; an unknown name is NOT_FOUND (Check) or SERVICE_UNKNOWN
    (Watch), as the health protocol says."""

    inference: Inference
    problem: str | None

    def _status(self, service: str) -> int | None:
        if service in SERVICES:
            return Status.SERVING if readiness(self.inference, self.problem)["ready"] else Status.NOT_SERVING
        if service not in self.inference.config.traffic.models:
            return None
        try:
            self.inference.described(service, None)  # its stable version is loaded
            return Status.SERVING
        except ANSWERED:
            return Status.NOT_SERVING

    async def Check(self, request: health_pb2.HealthCheckRequest, grpc_context):  # noqa: N802
        """The service's status now."""
        request_ids.for_grpc(grpc_context)
        status = self._status(request.service)
        if status is None:
            grpc_context.set_code(grpc.StatusCode.NOT_FOUND)
            grpc_context.set_details(f"unknown service {request.service!r}: ask for '' or a served model")
            return health_pb2.HealthCheckResponse()
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: health_pb2.HealthCheckRequest, grpc_context):  # noqa: N802
        """The service's status now, then each change, until the caller hangs up."""
        request_ids.for_grpc(grpc_context)
        last = None
        while True:
            status = self._status(request.service)
            status = Status.SERVICE_UNKNOWN if status is None else status
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)
                last = status
            await asyncio.sleep(WATCH_POLL_S)
