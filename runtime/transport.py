"""What the gateway's gRPC services share: the caller of a call, its pin and sticky key, and one
wrapper that gives each call its request id and answers a client's mistake (or a full queue) with
its status code and message."""

from collections.abc import Awaitable, Callable

from ray.serve.exceptions import BackPressureError

from runtime import logs
from runtime.errors import ANSWERED, Overloaded, grpc_code, http_status
from runtime.inference import Inference
from runtime.openapi import PIN_HEADER
from runtime.request_scope import grpc_call
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


async def answered(call: Callable[[], Awaitable], grpc_context, empty, method: str | None = None):
    """The call's answer, under its request id (`x-request-id` trailing metadata); a client's
    mistake or a full queue sets the call's status code and message and answers `empty`; every
    failure is logged once."""
    with grpc_call(grpc_context):
        try:
            return await call()
        except (*ANSWERED, BackPressureError) as e:
            error = Overloaded(str(e)) if isinstance(e, BackPressureError) else e
            logs.failed_answer(http_status(error), error, method=method)
            grpc_context.set_code(grpc_code(error))
            grpc_context.set_details(str(error))
            return empty
        except Exception as e:
            logs.failed_answer(http_status(e), e, method=method)
            raise
