"""What the gateway's gRPC services share: the caller of a call, its pin and sticky key, and one
wrapper that answers a client's mistake (or a full queue) with its status code and message."""

from collections.abc import Awaitable, Callable

from ray.serve.exceptions import BackPressureError

from runtime.errors import ANSWERED, Overloaded, grpc_code
from runtime.inference import Inference
from runtime.openapi import PIN_HEADER
from runtime.tokens import Principal


def caller(inference: Inference, grpc_context) -> Principal | None:
    """The admitted caller of a gRPC call, by its `authorization` metadata."""
    return inference.admit(dict(grpc_context.invocation_metadata()).get("authorization"))


def pin_and_sticky(inference: Inference, grpc_context, model: str) -> tuple[str | None, str | None]:
    """The version a call pins (`x-model-version` metadata) and its sticky key, if the model has one."""
    metadata = dict(grpc_context.invocation_metadata())
    traffic = inference.config.traffic.models.get(model)
    sticky = metadata.get(traffic.sticky_header) if traffic and traffic.sticky_header else None
    return metadata.get(PIN_HEADER), sticky


async def answered(call: Callable[[], Awaitable], grpc_context, empty):
    """The call's answer; a client's mistake or a full queue sets the call's status code and
    message and answers `empty`."""
    try:
        return await call()
    except (*ANSWERED, BackPressureError) as e:
        error = Overloaded(str(e)) if isinstance(e, BackPressureError) else e
        grpc_context.set_code(grpc_code(error))
        grpc_context.set_details(str(error))
        return empty
