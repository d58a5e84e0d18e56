"""`/metrics`, `/healthz`, `/readyz` on one port (served by `fraudstream.httpserver`).

Health is decided by the service through two callables, so this module knows nothing
about Kafka: `alive()` (the poll loop ran recently) and `ready()` (model + partitions).
The endpoint gets the security every embedded server gets (Host allow-list, cross-site
refusal, optional basic auth and TLS); the health checks stay public so probes need no
credentials, and no request may carry a body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fraudstream.errors import ScorerError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer

__all__ = ["PUBLIC_PATHS", "make_app", "metrics_server"]

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
MAX_BODY_BYTES = 4 << 10


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


def metrics_server(
    app: Starlette, host: str, port: int, security: HttpSecuritySettings | None = None
) -> HttpServer:
    """The scorer's endpoint, served like every other embedded server."""
    return HttpServer(
        app,
        host,
        port,
        name="scorer-http",
        error=ScorerError,
        security=security,
        content_types=(),
        max_body_bytes=MAX_BODY_BYTES,
        public_paths=PUBLIC_PATHS,
    )
