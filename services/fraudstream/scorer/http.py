"""`/metrics`, `/healthz`, `/readyz` on one port (starlette + uvicorn in a daemon thread).

Health is decided by the service through two callables, so this module knows nothing
about Kafka: `alive()` (the poll loop ran recently) and `ready()` (model + partitions).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fraudstream.errors import ScorerError

log = logging.getLogger(__name__)


def make_app(
    registry: CollectorRegistry,
    alive: Callable[[], tuple[bool, str]],
    ready: Callable[[], tuple[bool, str]],
) -> Starlette:
    """The ASGI app: metrics exposition and the two health checks."""

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        ok, why = alive()
        return PlainTextResponse(why, status_code=200 if ok else 503)

    async def readyz(_: Request) -> Response:
        ok, why = ready()
        return PlainTextResponse(why, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


class HttpServer:
    """uvicorn serving `app` on host:port from a background thread."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="scorer-http", daemon=True)
        self.host, self.port = host, port

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ScorerError(
                    f"metrics server could not bind {self.host}:{self.port} (port in use?)"
                )
            if time.monotonic() > deadline:
                raise ScorerError(f"metrics server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        log.info("metrics and health on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
