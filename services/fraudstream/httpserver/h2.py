"""Hypercorn for the servers that speak HTTP/2 as well as HTTP/1.1 (the KSQL server).

ksqlDB serves `/query-stream` and `/inserts-stream` over HTTP/2, in cleartext (h2c: prior
knowledge or an `Upgrade`) as well as over TLS (ALPN `h2`), and clients such as the `ksqldb`
package open an HTTP/2-only connection. uvicorn speaks HTTP/1.1 only; hypercorn speaks both
on one port. The `Guard` still stands in front of the app: it sees every request, whatever
the protocol. The sockets are bound in `start()`, so a port in use fails there, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudstream.errors import FraudstreamError
from fraudstream.httpserver.settings import HttpSecuritySettings

__all__ = ["DrainRequestBody", "Http2Runner"]

_DRAIN_SECONDS = 5.0

_CLIENT_AUTH = {
    "NONE": ssl.CERT_NONE,
    "REQUESTED": ssl.CERT_OPTIONAL,
    "REQUIRED": ssl.CERT_REQUIRED,
}


def _config(host: str, port: int, sec: HttpSecuritySettings, graceful: float | None) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    errors = logging.getLogger("hypercorn.error")
    errors.setLevel(logging.WARNING)  # as uvicorn's log_level="warning": no "Running on" line
    config.errorlog = errors
    config.loglevel = "WARNING"
    config.graceful_timeout = float(graceful if graceful is not None else 5)
    config.keep_alive_timeout = 75  # ksqlDB's clients reuse connections between requests
    if sec.tls_cert_file is not None:
        config.certfile = str(sec.tls_cert_file)
        config.keyfile = str(sec.tls_key_file or sec.tls_cert_file)
        if sec.tls_key_password is not None:
            config.keyfile_password = sec.tls_key_password.get_secret_value()
        if sec.tls_ca_file is not None:
            config.ca_certs = str(sec.tls_ca_file)
        config.verify_mode = _CLIENT_AUTH[sec.tls_client_auth]
    return config


class DrainRequestBody:
    """Reads what is left of an HTTP/2 request body before the app's answer ends.

    A refusal (421, 401, 415, 413) is answered before the body is read; over HTTP/2 the
    body's DATA frames may then arrive after hypercorn closed the stream, and hypercorn 0.18
    drops the whole connection on them (a KeyError), failing the client's next request on
    that connection. Discarding the rest of the body (bounded in time, never kept) before
    the last response message keeps the connection usable, as it is over HTTP/1.1.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("http_version") != "2":
            await self.app(scope, receive, send)
            return
        done = False

        async def tracked() -> Message:
            nonlocal done
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                done = True
            return message

        async def drain() -> None:
            while not done:
                await tracked()

        async def draining_send(message: Message) -> None:
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if last and not done:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(drain(), _DRAIN_SECONDS)
            await send(message)

        await self.app(scope, tracked, draining_send)


class Http2Runner:
    """hypercorn serving one ASGI app (HTTP/1.1, h2c and h2) in a thread or the foreground."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        security: HttpSecuritySettings,
        *,
        name: str,
        error: type[FraudstreamError],
        graceful_timeout: float | None = None,
    ) -> None:
        self.app, self.host, self.port, self.name, self.error = app, host, port, name, error
        self.config = _config(host, port, security, graceful_timeout)
        self.started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def _sockets(self) -> Sockets:
        try:
            sockets = self.config.create_sockets()
            for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
                sock.listen(self.config.backlog)  # connections queue until the loop accepts
        except OSError as exc:
            raise self.error(
                f"{self.name}: could not bind {self.host}:{self.port} ({exc.strerror})"
            ) from None
        return sockets

    async def _serve(self, sockets: Sockets, own_signals: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        trigger = None if own_signals else self._stop.wait
        self.started = True
        await worker_serve(
            wrap_app(
                DrainRequestBody(self.app),  # type: ignore[arg-type]
                self.config.wsgi_max_body_size,
                "asgi",
            ),
            self.config,
            sockets=sockets,
            shutdown_trigger=trigger,
        )

    def start(self, timeout: float = 10.0) -> None:
        """Bind now, serve from a daemon thread; return once the loop runs."""
        sockets = self._sockets()

        def run() -> None:
            try:
                asyncio.run(self._serve(sockets, own_signals=False))
            except BaseException as exc:  # reported by start() or visible in stop()
                self._failure = exc

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.started:
            if not self._thread.is_alive():
                raise self.error(f"{self.name}: could not start ({self._failure!r})")
            if time.monotonic() > deadline:
                raise self.error(f"{self.name}: did not start within {timeout:.0f}s")
            time.sleep(0.02)

    def run(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM (hypercorn's own signal handling)."""
        asyncio.run(self._serve(self._sockets(), own_signals=True))

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
