"""`/metrics` and `/healthz` of the monitor (served by `fraudstream.httpserver`)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fraudstream.httpserver import HttpServer
from fraudstream.monitor.errors import MonitorError

__all__ = ["make_app", "metrics_server"]


def make_app(registry: CollectorRegistry) -> Starlette:
    """Metrics exposition and a liveness check."""

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])


def metrics_server(app: Starlette, host: str, port: int) -> HttpServer:
    """The monitor's endpoint, served like every other embedded server."""
    return HttpServer(
        app,
        host,
        port,
        name="monitor-http",
        error=MonitorError,
        content_types=(),
        max_body_bytes=4 << 10,
        public_paths=frozenset({"/healthz"}),
    )
