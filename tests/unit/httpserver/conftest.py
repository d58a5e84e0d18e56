"""A tiny echo app served through `HttpServer`, and a self-signed certificate maker."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from fraudstream.httpserver import HttpSecuritySettings, HttpServer
from fraudstream.local.procs import free_port


class Echo:
    """Records the size of every body the app itself received."""

    def __init__(self) -> None:
        self.bodies: list[int] = []

    def app(self) -> Starlette:
        async def hello(_: Request) -> PlainTextResponse:
            return PlainTextResponse("hi")

        async def echo(request: Request) -> JSONResponse:
            body = await request.body()
            self.bodies.append(len(body))
            return JSONResponse({"got": len(body)})

        return Starlette(
            routes=[
                Route("/", hello),
                Route("/health", hello),
                Route("/echo", echo, methods=["POST", "PUT"]),
            ]
        )


ServeFn = Callable[..., HttpServer]


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture(autouse=True)
def _no_http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests state their settings; the developer's FRAUDSTREAM_HTTP_* must not leak in."""
    for var in [v for v in os.environ if v.startswith("FRAUDSTREAM_HTTP_")]:
        monkeypatch.delenv(var)


@pytest.fixture
def serve(echo: Echo) -> Iterator[ServeFn]:
    """serve(**settings, server_kw=...) -> a started HttpServer on a free port (stopped after)."""
    started: list[HttpServer] = []

    def make(server_kw: dict[str, Any] | None = None, **settings: Any) -> HttpServer:
        server = HttpServer(
            echo.app(),
            "127.0.0.1",
            free_port(),
            name="t-http",
            security=HttpSecuritySettings(**settings),
            **(server_kw or {}),
        )
        server.start(timeout=10)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def self_signed(directory: Path, name: str = "server", password: bytes | None = None) -> Path:
    """Write `<name>.pem` + `<name>.key` for 127.0.0.1/localhost; return the cert path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return cert_path
