"""What wraps every request the gateway answers: its id made current (`runtime.request_ids`),
given back to the caller, and one log line if the answer failed (`runtime.logs`)."""

import contextlib
from collections.abc import Iterator

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import logs, request_ids
from runtime.request_ids import HEADER


class RequestIds:
    """ASGI middleware: the request's id (its `x-request-id`, else a new one) is current while it is
    answered; it is echoed on the WebSocket handshake, and on an HTTP answer when it was made up
    here (Serve echoes the ones it set or was given); an answer of 400 or more is logged."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = request_ids.usable(MutableHeaders(scope=scope).get(HEADER))
        request_id = given or request_ids.new_id()
        token = request_ids.begin(request_id)
        status = None

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if given is None:
                    MutableHeaders(scope=message)[HEADER] = request_id
            elif message["type"] == "websocket.accept":
                echoed = (HEADER.encode(), request_id.encode())
                message = {**message, "headers": [*message.get("headers", []), echoed]}
            await send(message)

        where = {"method": scope.get("method", "WEBSOCKET"), "path": scope.get("path")}
        try:
            await self.app(scope, receive, answer)
        except Exception as e:
            logs.failed_answer(500, e, **where)
            raise
        else:
            if status is not None and status >= 400:
                logs.failed_answer(status, **where)
        finally:
            request_ids.end(token)


@contextlib.contextmanager
def grpc_call(grpc_context) -> Iterator[str]:
    """One gRPC call: its id (`request_ids.for_grpc`, also its trailing metadata) current while the
    block runs."""
    token = request_ids.begin(request_ids.for_grpc(grpc_context))
    try:
        yield request_ids.current().id
    finally:
        request_ids.end(token)
