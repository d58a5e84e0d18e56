from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from fraudstream.errors import ScorerError
from fraudstream.httpserver import HttpServer
from fraudstream.local.procs import free_port


def _app() -> Starlette:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hi")

    return Starlette(routes=[Route("/", hello)])


def test_serves_in_a_thread_and_stops() -> None:
    server = HttpServer(_app(), "127.0.0.1", free_port(), name="t-http")
    server.start(timeout=10)
    try:
        assert httpx.get(server.url, timeout=5).text == "hi"
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=1)


def test_taken_port_raises_the_callers_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = HttpServer(_app(), "127.0.0.1", port, name="t-http", error=ScorerError)
        with pytest.raises(ScorerError, match=f"could not bind 127.0.0.1:{port}"):
            server.start(timeout=10)
