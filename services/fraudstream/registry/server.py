"""`RegistryServer`: the embedded registry (Kafka-backed state + uvicorn) in one object.

In-process users (tests, the local stack) call `start()`, which replays the `_schemas`
topic and then serves from a background thread; `fraudstream registry serve` runs the same
server in the foreground via `serve_forever()`.
"""

from __future__ import annotations

import logging

from fraudstream.errors import RegistryError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer, http_security_settings
from fraudstream.httpserver.embedded import EmbeddedServer
from fraudstream.httpserver.ports import port_free
from fraudstream.kafka.errors import TopicLogError
from fraudstream.kafka.topiclog import COMPACTED, TopicLog
from fraudstream.registry.app import MAX_BODY_BYTES, REQUEST_TYPES, build_app, render_error
from fraudstream.registry.errors import RegistryStoreError
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.servermetrics import with_metrics

log = logging.getLogger(__name__)


class RegistryServer(EmbeddedServer):
    """A Confluent-compatible Schema Registry whose storage is a compacted Kafka topic."""

    label = "registry"

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
        super().__init__(host, port, security if security is not None else http_security_settings())
        self.state = RegistryState()
        self.log = TopicLog(bootstrap, topic, config=COMPACTED, write_timeout=write_timeout)
        self.registry = Registry(self.state, self.log, write_timeout=write_timeout)

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

    def _prepare(self, timeout: float) -> None:
        """Refuse a taken port first, then rebuild the state from the topic and follow it."""
        if not port_free(self.host, self.port):
            raise RegistryError(f"schema registry: port {self.host}:{self.port} is already in use")
        try:
            self.log.start(self.state.apply, timeout=timeout)
        except TopicLogError as exc:  # the toolkit's error, in the registry's words
            raise RegistryStoreError(f"schemas topic: {exc}") from exc
        log.info(
            "registry state rebuilt from %s: %d subjects, max id %d",
            self.log.topic,
            len(self.state.versions),
            self.state.max_id,
        )

    def _release(self) -> None:
        self.log.stop()
