"""`EmbeddedServer`: the life cycle every embedded server shares (registry, KSQL).

Each server first rebuilds its state from Kafka (`_prepare`), then serves HTTP, either from a
background thread (`start`, for tests and the local stack) or in the foreground until a signal
(`serve_forever`, for the CLI); `stop` undoes both. Subclasses say only what differs: how to
prepare, how to release, and which app to serve.
"""

from __future__ import annotations

import abc
import logging
import time
from typing import Self

from fraudstream.httpserver.server import HttpServer
from fraudstream.httpserver.settings import HttpSecuritySettings

__all__ = ["EmbeddedServer"]

log = logging.getLogger(__name__)


class EmbeddedServer(abc.ABC):
    """Prepare from Kafka, then serve; `.start()`/`.serve_forever()`, `.stop()`, `.url`."""

    #: what the foreground log line calls this server
    label: str = "server"

    def __init__(self, host: str, port: int, security: HttpSecuritySettings) -> None:
        self.host = host
        self.port = port
        self.security = security
        self._http: HttpServer | None = None

    @property
    def url(self) -> str:
        return f"{self.security.scheme}://{self.host}:{self.port}"

    @abc.abstractmethod
    def _prepare(self, timeout: float) -> None:
        """Rebuild state (replay a topic, restart queries) before the first request."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Undo `_prepare` (stop followers and queries); must not raise."""

    @abc.abstractmethod
    def _server(self) -> HttpServer:
        """The HTTP server for this app, behind the shared security layer."""

    def start(self, timeout: float = 60.0) -> None:
        """Prepare, then serve in a background thread; return once listening."""
        deadline = time.monotonic() + timeout
        self._prepare(timeout)
        self._http = self._server()
        try:
            self._http.start(timeout=max(deadline - time.monotonic(), 1.0))
        except BaseException:
            self.stop()
            raise

    def serve_forever(self, timeout: float = 60.0) -> None:
        """Foreground mode for the CLI: prepare, serve until SIGINT/SIGTERM, then release."""
        self._prepare(timeout)
        log.info("%s listening on %s", self.label, self.url)
        try:
            self._server().run()
        finally:
            self._release()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
