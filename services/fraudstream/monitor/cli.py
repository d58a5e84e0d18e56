"""`fraudstream monitor`: run the live model-quality monitor until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import typer

from fraudstream.config import get_settings, load_settings
from fraudstream.logs import setup_logging
from fraudstream.monitor.settings import MonitorSettings

__all__ = ["monitor"]


def monitor(
    windows: str = typer.Option(
        None, "--windows", help="Sliding windows, e.g. 15m,1h,1d (FRAUDSTREAM_MONITOR_WINDOWS)."
    ),
    port: int = typer.Option(
        None, "--port", help="Port for /metrics and /healthz (FRAUDSTREAM_MONITOR_PORT, 8002)."
    ),
    top_k: int = typer.Option(None, "--top-k", help="Alerts investigated per day (100)."),
) -> None:
    """Join scores with the delayed labels; export live precision, recall, AUC per model."""
    from fraudstream.monitor.http import make_app, metrics_server
    from fraudstream.monitor.service import Monitor

    shared = get_settings()
    setup_logging(shared.log_level)
    given: dict[str, Any] = {"windows": windows, "port": port, "top_k": top_k}
    settings = load_settings(MonitorSettings, **{k: v for k, v in given.items() if v is not None})
    service = Monitor(
        settings,
        bootstrap=shared.kafka_bootstrap,
        registry_url=shared.registry_url,
        topic_scores=shared.topic_scores,
        topic_labels=shared.topic_labels,
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = None
    if settings.port:
        server = metrics_server(make_app(service.metrics.registry), shared.bind_host, settings.port)
        server.start()
    try:
        service.run(stop)
    finally:
        if server is not None:
            server.stop()
