"""Where a command's server listens: ``--host`` / ``--port`` over the settings, and a check
that the address can be bound, made before anything slow starts (``switchboard serve`` loads
its models for seconds before uvicorn binds), so a port in use is one line saying what to do.

The check binds and closes at once, as uvicorn will bind (``SO_REUSEADDR``, IPv6 sockets
IPv6 only); a server that takes the port in between still fails, with uvicorn's message.
"""

from __future__ import annotations

import errno
import socket

from switchboard.config import Settings
from switchboard.errors import ServiceStartError


def with_bind(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` with the server's host and port as given on the command line."""
    server = settings.server.model_copy(
        update={
            "host": host or settings.server.host,
            "port": settings.server.port if port is None else port,
        }
    )
    return settings.model_copy(update={"server": server})


def check_port_free(host: str, port: int, command: str) -> None:
    """Raise ``ServiceStartError`` (one line: what is wrong, what to do) if ``command``
    could not listen on ``host:port``."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        message = f"cannot listen on {host}:{port} ({exc.strerror}): pass --host"
        raise ServiceStartError(message) from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise ServiceStartError(_why(host, port, command, exc)) from None


def _why(host: str, port: int, command: str, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use (another `{command}`?): stop it or pass --port"
    if error.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges: pass --port with a port above 1023"
    return f"cannot listen on {host}:{port} ({error.strerror}): pass --host"
