"""TCP port checks for servers that bind a port (the embedded servers, the local stack)."""

from __future__ import annotations

import socket

from fraudstream.errors import PortInUseError

__all__ = ["free_port", "port_free", "require_port"]


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def require_port(host: str, port: int, what: str) -> None:
    """PortInUseError naming `what` when host:port is taken."""
    if not port_free(host, port):
        raise PortInUseError(f"{what}: port {host}:{port} is already in use")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
