"""Desired state -> the Serve declarative config (`ServeDeploySchema`), as one pure function.

The same rendering serves the local target (Ray dashboard REST API) and KubeRay
(`spec.serveConfigV2`). The gateway application holds the traffic table and the inline versions
(in its `user_config`); each dedicated version is its own application with no HTTP route,
reached only through the gateway's deployment handles.
"""

from runtime.autoscaling import POLICY
from runtime.desired import GATEWAY_APP, Autoscaling, DeployedVersion, DesiredState, gateway_config

GRPC_SERVICERS = [
    "runtime.rpc.raynomaly_pb2_grpc.add_InferenceServicer_to_server",
    "runtime.rpc.open_inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server",
    "grpc_health.v1.health_pb2_grpc.add_HealthServicer_to_server",
]
"""The gateway's gRPC services: raynomaly.v1.Inference, the Open Inference Protocol's
inference.GRPCInferenceService and grpc.health.v1.Health (Serve adds server reflection)."""
# Replicas shut down quickly (the default graceful wait, 20 s, makes every removal slow), and a
# full queue sheds load with 503 + Retry-After instead of queueing forever.
_COMMON = {
    "graceful_shutdown_wait_loop_s": 0.5,
    "graceful_shutdown_timeout_s": 5.0,
    "backpressure_config": {"status_code": 503, "retry_after_s": 1},
}


def _replicas(count: int, autoscaling: Autoscaling | None, policy: str | None = None) -> dict:
    """A fixed replica count, or Serve's autoscaling between bounds, with `policy` (pure)."""
    if autoscaling is None:
        return {"num_replicas": count}
    config = autoscaling.model_dump()
    return {"autoscaling_config": config | ({"policy": {"policy_function": policy}} if policy else {})}


def _scorer_app(deployed: DeployedVersion, store: str) -> dict:
    options = deployed.options
    deployment = {
        "name": "Scorer",
        **_replicas(options.num_replicas, options.autoscaling),
        "max_ongoing_requests": options.max_ongoing_requests,
        "max_queued_requests": options.max_queued_requests,
        "user_config": options.settings.model_dump(),
        "ray_actor_options": {"num_cpus": options.num_cpus, "num_gpus": options.num_gpus},
        **_COMMON,
    }
    return {
        "name": deployed.app_name,
        "route_prefix": None,
        "import_path": "runtime.scorer:build",
        "args": {"store": store, "model": deployed.model, "version": deployed.version},
        "deployments": [deployment],
    }


def _gateway_app(desired: DesiredState) -> dict:
    gateway = desired.gateway
    deployment = {
        "name": "Gateway",
        **_replicas(gateway.num_replicas, gateway.autoscaling, POLICY),
        "max_ongoing_requests": gateway.max_ongoing_requests,
        "max_queued_requests": gateway.max_queued_requests,
        "ray_actor_options": {"num_cpus": gateway.num_cpus},
        "user_config": gateway_config(desired).model_dump(mode="json"),
        **_COMMON,
    }
    return {"name": GATEWAY_APP, "route_prefix": "/", "import_path": "runtime.gateway:app",
            "deployments": [deployment]}  # fmt: skip


def render(desired: DesiredState) -> dict:
    """The whole Serve config for `desired` (pure)."""
    endpoints = desired.endpoints
    return {
        "proxy_location": "HeadOnly",
        "http_options": {"host": endpoints.host, "port": endpoints.http_port},
        "grpc_options": {"port": endpoints.grpc_port, "grpc_servicer_functions": GRPC_SERVICERS},
        "applications": [_gateway_app(desired)] + [_scorer_app(v, desired.store) for v in desired.dedicated],
    }


def validate(config: dict) -> dict:
    """`config` if Ray's own `ServeDeploySchema` accepts it; ValueError with Ray's reasons otherwise."""
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    try:
        ServeDeploySchema.model_validate(config)
    except ValidationError as e:
        raise ValueError(f"the rendered Serve config is invalid: {e}") from e
    return config
