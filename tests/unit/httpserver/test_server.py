from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.unit.httpserver.conftest import ServeFn, self_signed

from fraudstream.errors import ConfigError, ScorerError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer
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


def test_serves_https_with_the_configured_certificate(serve: ServeFn, tmp_path: Path) -> None:
    cert = self_signed(tmp_path, password=b"key-pass")
    server = serve(
        tls_cert_file=cert,
        tls_key_file=tmp_path / "server.key",
        tls_key_password="key-pass",
    )
    assert server.url.startswith("https://")
    assert httpx.get(server.url, verify=ssl.create_default_context(cafile=cert)).text == "hi"
    with pytest.raises(httpx.ConnectError):  # an unknown CA is not trusted
        httpx.get(server.url, timeout=5)
    plain = server.url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):  # no cleartext on the TLS port
        httpx.get(plain, timeout=5)


def test_client_certificates_when_required(serve: ServeFn, tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    client_cert = self_signed(tmp_path, name="client")
    server = serve(
        tls_cert_file=cert,
        tls_key_file=tmp_path / "server.key",
        tls_ca_file=client_cert,
        tls_client_auth="REQUIRED",
    )
    ctx = ssl.create_default_context(cafile=cert)
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url, verify=ctx, timeout=5)
    ctx.load_cert_chain(client_cert, tmp_path / "client.key")
    assert httpx.get(server.url, verify=ctx, timeout=5).text == "hi"


def test_wrong_key_password_fails_at_start_without_the_password(tmp_path: Path) -> None:
    cert = self_signed(tmp_path, password=b"right-pass")
    settings = HttpSecuritySettings(
        tls_cert_file=cert, tls_key_file=tmp_path / "server.key", tls_key_password="wrong-pass"
    )
    with pytest.raises(ConfigError, match="FRAUDSTREAM_HTTP_TLS_CERT_FILE/TLS_KEY_FILE") as info:
        HttpServer(_app(), "127.0.0.1", free_port(), name="t", security=settings)
    assert "wrong-pass" not in str(info.value) and "right-pass" not in str(info.value)
