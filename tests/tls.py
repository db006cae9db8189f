"""Loopback helpers of the TLS tests: a free port, and the TLS version a handshake negotiates."""

import socket
import ssl


def free_port() -> int:
    """A loopback port nothing listens on (from the ephemeral range, outside Ray's worker ports)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def handshake(port: int, context: ssl.SSLContext) -> str:
    """The TLS version negotiated with 127.0.0.1:`port`; ssl.SSLError when the handshake fails."""
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as secured,
    ):
        return secured.version()
