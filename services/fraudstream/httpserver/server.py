"""The one way this project serves HTTP: a Starlette app on uvicorn, behind the `Guard`.

The registry, the KSQL server and the scorer's metrics/health endpoint all run either in a
daemon thread (in-process: tests, the scorer) or in the foreground (`... serve` commands,
which then stop on SIGINT/SIGTERM through uvicorn's own signal handling). `http2=True`
serves with hypercorn instead (HTTP/1.1, h2c and h2 on one port: the KSQL server, as
ksqlDB does; `httpserver.h2`). Every app served
here gets the same security (`FRAUDSTREAM_HTTP_*`, see docs/security.md) without code of
its own: it only says which content types it speaks, its body limit, which paths are
public and how its errors look.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Collection

import uvicorn
from starlette.types import ASGIApp

from fraudstream.config import load_cert_chain
from fraudstream.errors import ConfigError, FraudstreamError
from fraudstream.httpserver.basicauth import basic_auth_from
from fraudstream.httpserver.guard import JSON_TYPES, ErrorRenderer, Guard, GuardPolicy, HostRule
from fraudstream.httpserver.h2 import Http2Runner
from fraudstream.httpserver.settings import (
    HTTP_ENV_PREFIX,
    HttpSecuritySettings,
    http_security_settings,
    split_list,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "HttpServer", "check_tls"]

DEFAULT_MAX_BODY_BYTES = 1 << 20

_CLIENT_AUTH = {
    "NONE": ssl.CERT_NONE,
    "REQUESTED": ssl.CERT_OPTIONAL,
    "REQUIRED": ssl.CERT_REQUIRED,
}


def check_tls(settings: HttpSecuritySettings) -> None:
    """Load the certificate, key and CA once now, so a bad one fails at start in one line."""
    if settings.tls_cert_file is None:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_cert_chain(
        context,
        settings.tls_cert_file,
        settings.tls_key_file,
        settings.tls_key_password,
        f"{HTTP_ENV_PREFIX}TLS_CERT_FILE/TLS_KEY_FILE",
    )
    if settings.tls_ca_file is not None:
        try:
            context.load_verify_locations(settings.tls_ca_file)
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            raise ConfigError(f"{HTTP_ENV_PREFIX}TLS_CA_FILE: cannot load ({reason})") from None


class HttpServer:
    """uvicorn (or hypercorn, `http2=True`) serving `app` on host:port behind the `Guard`."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        name: str,
        error: type[FraudstreamError] = FraudstreamError,
        graceful_timeout: int | None = None,
        security: HttpSecuritySettings | None = None,
        content_types: Collection[str] = JSON_TYPES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        public_paths: Collection[str] = (),
        render_error: ErrorRenderer | None = None,
        http2: bool = False,
    ) -> None:
        """`security` defaults to `FRAUDSTREAM_HTTP_*`; the rest is what the app speaks."""
        self.host, self.port, self.name, self.error = host, port, name, error
        sec = security if security is not None else http_security_settings()
        check_tls(sec)
        self.scheme = sec.scheme
        policy = GuardPolicy(
            hosts=HostRule.of([*split_list(sec.allowed_hosts), host]),
            allowed_origins=frozenset(split_list(sec.allowed_origins)),
            content_types=frozenset(t.lower() for t in content_types),
            max_body_bytes=sec.max_body_bytes or max_body_bytes,
            auth=basic_auth_from(sec),
            public_paths=frozenset(public_paths) | frozenset(split_list(sec.auth_skip_paths)),
            **({"render": render_error} if render_error is not None else {}),
        )
        self.policy = policy
        self._h2: Http2Runner | None = None
        if http2:
            self._h2 = Http2Runner(
                Guard(app, policy),
                host,
                port,
                sec,
                name=name,
                error=error,
                graceful_timeout=graceful_timeout,
            )
        key_password = sec.tls_key_password.get_secret_value() if sec.tls_key_password else None
        config = uvicorn.Config(
            Guard(app, policy),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=graceful_timeout,
            ssl_certfile=sec.tls_cert_file,
            ssl_keyfile=sec.tls_key_file,
            ssl_keyfile_password=key_password,
            ssl_ca_certs=str(sec.tls_ca_file) if sec.tls_ca_file else None,
            ssl_cert_reqs=_CLIENT_AUTH[sec.tls_client_auth],
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Serve from a daemon thread; return once listening (raise `error` otherwise)."""
        if self._h2 is not None:
            self._h2.start(timeout=timeout)
            return
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise self.error(
                    f"{self.name}: could not bind {self.host}:{self.port} (port in use?)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise self.error(f"{self.name}: did not start on {self.url} within {timeout:.0f}s")
            time.sleep(0.02)

    def _serve(self) -> None:
        # uvicorn raises SystemExit when it cannot bind; start() sees the dead thread and reports.
        with contextlib.suppress(SystemExit):
            self._server.run()

    def run(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM."""
        if self._h2 is not None:
            self._h2.run()
            return
        self._server.run()

    def stop(self, timeout: float = 10.0) -> None:
        if self._h2 is not None:
            self._h2.stop(timeout=timeout)
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
