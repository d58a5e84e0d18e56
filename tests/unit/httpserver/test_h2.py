"""`HttpServer(http2=True)`: HTTP/1.1, h2c (prior knowledge) and h2 (ALPN) on one port, all
behind the Guard; a refused request leaves the HTTP/2 connection usable."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest
from tests.unit.httpserver.conftest import Echo, self_signed

from fraudstream.errors import FraudstreamError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer
from fraudstream.local.procs import free_port

JSON = {"Content-Type": "application/json"}


def _server(echo: Echo, **settings: object) -> HttpServer:
    server = HttpServer(
        echo.app(),
        "127.0.0.1",
        free_port(),
        name="t-h2",
        security=HttpSecuritySettings(**settings),  # type: ignore[arg-type]
        http2=True,
    )
    server.start(timeout=10)
    return server


def test_http1_and_h2c_on_one_port_and_refusals_keep_the_connection(echo: Echo) -> None:
    server = _server(echo)
    try:
        url = f"{server.url}/echo"
        assert httpx.post(url, content=b"{}", headers=JSON).json() == {"got": 2}
        with httpx.Client(http1=False, http2=True, timeout=10) as h2:
            first = h2.post(url, content=b"{}", headers=JSON)
            assert first.http_version == "HTTP/2" and first.json() == {"got": 2}
            foreign = h2.post(url, content=b"{}", headers={**JSON, "Host": "rebound.example"})
            assert foreign.status_code == 421
            page = h2.post(url, content=b"{}", headers={"Content-Type": "text/plain"})
            assert page.status_code == 415
            big = h2.post(url, content=b"x" * (2 << 20), headers=JSON)
            assert big.status_code == 413
            again = h2.post(url, content=b'{"a": 1}', headers=JSON)  # same connection
            assert again.status_code == 200 and again.json() == {"got": 8}
        assert echo.bodies == [2, 2, 8]  # the refused bodies never reached the app
    finally:
        server.stop()


def test_h2_over_tls_with_basic_auth(echo: Echo, tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    server = _server(
        echo,
        tls_cert_file=cert,
        tls_key_file=tmp_path / "server.key",
        basic_auth_user="bob",
        basic_auth_password="pw-for-bob",
    )
    try:
        assert server.url.startswith("https://")
        with httpx.Client(
            http2=True, verify=ssl.create_default_context(cafile=cert), timeout=10
        ) as h2:
            ok = h2.post(
                f"{server.url}/echo", content=b"{}", headers=JSON, auth=("bob", "pw-for-bob")
            )
            assert ok.http_version == "HTTP/2" and ok.json() == {"got": 2}
            assert h2.get(f"{server.url}/").status_code == 401
    finally:
        server.stop()


def test_a_port_in_use_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(
            Echo().app(), "127.0.0.1", port, name="t-h2", security=HttpSecuritySettings(),
            error=FraudstreamError, http2=True,
        )  # fmt: skip
        with pytest.raises(FraudstreamError, match="could not bind"):
            server.start(timeout=5)
