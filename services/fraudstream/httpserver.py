"""The one way this project serves HTTP: a Starlette app on uvicorn.

The registry, the KSQL server and the scorer's metrics/health endpoint all run either in a
daemon thread (in-process: tests, the scorer) or in the foreground (`... serve` commands,
which then stop on SIGINT/SIGTERM through uvicorn's own signal handling).
"""

from __future__ import annotations

import contextlib
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from fraudstream.errors import FraudstreamError


class HttpServer:
    """uvicorn serving `app` on host:port."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        name: str,
        error: type[FraudstreamError] = FraudstreamError,
        graceful_timeout: int | None = None,
    ) -> None:
        self.host, self.port, self.name, self.error = host, port, name, error
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=graceful_timeout,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Serve from a daemon thread; return once listening (raise `error` otherwise)."""
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
        self._server.run()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
