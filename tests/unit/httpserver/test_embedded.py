"""`EmbeddedServer`: prepare before serving, release on stop and on a failed start."""

from __future__ import annotations

import socket

import httpx
import pytest
from tests.unit.httpserver.conftest import Echo

from fraudstream.errors import FraudstreamError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer
from fraudstream.httpserver.embedded import EmbeddedServer
from fraudstream.local.procs import free_port


class Recording(EmbeddedServer):
    label = "recording"

    def __init__(self, port: int, fail_prepare: bool = False) -> None:
        super().__init__("127.0.0.1", port, HttpSecuritySettings())
        self.calls: list[str] = []
        self.fail_prepare = fail_prepare

    def _prepare(self, timeout: float) -> None:
        self.calls.append("prepare")
        if self.fail_prepare:
            raise FraudstreamError("no state")

    def _release(self) -> None:
        self.calls.append("release")

    def _server(self) -> HttpServer:
        self.calls.append("server")
        return HttpServer(Echo().app(), self.host, self.port, name="t-embedded")


def test_start_prepares_then_serves_and_stop_releases() -> None:
    server = Recording(free_port())
    with server:
        server.start(timeout=10)
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/", timeout=5).text == "hi"
        assert server.calls == ["prepare", "server"]
    assert server.calls == ["prepare", "server", "release"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/", timeout=2)


def test_a_failed_prepare_serves_nothing() -> None:
    server = Recording(free_port(), fail_prepare=True)
    with pytest.raises(FraudstreamError, match="no state"):
        server.start(timeout=5)
    assert server.calls == ["prepare"]


def test_a_port_in_use_releases_what_was_prepared() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Recording(taken.getsockname()[1])
        with pytest.raises(FraudstreamError):
            server.start(timeout=5)
    assert server.calls == ["prepare", "server", "release"]
