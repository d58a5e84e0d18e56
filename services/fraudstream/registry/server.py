"""`RegistryServer`: the embedded registry (Kafka-backed state + uvicorn) in one object.

In-process users (tests, the local stack) call `start()`, which replays the `_schemas`
topic and then serves from a background thread; `fraudstream registry serve` runs the same
server in the foreground via `serve_forever()`.
"""

from __future__ import annotations

import logging
import time

from fraudstream.errors import RegistryError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer, http_security_settings
from fraudstream.httpserver.ports import port_free
from fraudstream.kafka.errors import TopicLogError
from fraudstream.kafka.topiclog import COMPACTED, TopicLog
from fraudstream.registry.app import MAX_BODY_BYTES, REQUEST_TYPES, build_app, render_error
from fraudstream.registry.errors import RegistryStoreError
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.servermetrics import with_metrics

log = logging.getLogger(__name__)


class RegistryServer:
    """A Confluent-compatible Schema Registry whose storage is a compacted Kafka topic."""

    def __init__(
        self,
        bootstrap: str,
        host: str = "127.0.0.1",
        port: int = 8081,
        topic: str = "_schemas",
        write_timeout: float = 30.0,
        security: HttpSecuritySettings | None = None,
    ) -> None:
        """`security` defaults to the `FRAUDSTREAM_HTTP_*` settings (docs/security.md)."""
        self.host = host
        self.port = port
        self.security = security if security is not None else http_security_settings()
        self.state = RegistryState()
        self.log = TopicLog(bootstrap, topic, config=COMPACTED, write_timeout=write_timeout)
        self.registry = Registry(self.state, self.log, write_timeout=write_timeout)
        self._http: HttpServer | None = None

    @property
    def url(self) -> str:
        return f"{self.security.scheme}://{self.host}:{self.port}"

    def _server(self) -> HttpServer:
        return HttpServer(
            with_metrics(build_app(self.registry), "registry"),
            self.host,
            self.port,
            name="registry-http",
            error=RegistryStoreError,
            security=self.security,
            content_types=REQUEST_TYPES,
            max_body_bytes=MAX_BODY_BYTES,
            render_error=render_error,
        )

    def _check_port(self) -> None:
        if not port_free(self.host, self.port):
            raise RegistryError(f"schema registry: port {self.host}:{self.port} is already in use")

    def _replay(self, timeout: float) -> None:
        """Rebuild the state from the topic and keep following it."""
        try:
            self.log.start(self.state.apply, timeout=timeout)
        except TopicLogError as exc:  # the toolkit's error, in the registry's words
            raise RegistryStoreError(f"schemas topic: {exc}") from exc

    def start(self, timeout: float = 60.0) -> None:
        """Replay the topic, then serve in a background thread; return once listening."""
        deadline = time.monotonic() + timeout
        self._check_port()
        self._replay(timeout)
        log.info(
            "registry state rebuilt from %s: %d subjects, max id %d",
            self.log.topic,
            len(self.state.versions),
            self.state.max_id,
        )
        self._http = self._server()
        try:
            self._http.start(timeout=max(deadline - time.monotonic(), 1.0))
        except RegistryStoreError:
            self.stop()
            raise

    def serve_forever(self, timeout: float = 60.0) -> None:
        """Foreground mode for the CLI: replay, serve until SIGINT/SIGTERM, then stop."""
        self._check_port()
        self._replay(timeout)
        log.info("registry listening on %s (topic %s)", self.url, self.log.topic)
        try:
            self._server().run()
        finally:
            self.log.stop()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None
        self.log.stop()

    def __enter__(self) -> RegistryServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
