"""`fraudstream report`: the dashboard's main panels from Prometheus, as one PNG.

For people without Grafana (a CI artifact, a ticket, a README): the same PromQL as the
dashboard, over a chosen range ending now.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from fraudstream.report.collect import (
    DEFAULT_SCRAPE_INTERVAL_S,
    Window,
    fetch_panels,
    fetch_summary,
    parse_duration,
)
from fraudstream.report.errors import PrometheusUnavailableError
from fraudstream.report.panels import MAIN_PANELS
from fraudstream.report.prometheus import PrometheusClient
from fraudstream.report.render import header, render

log = logging.getLogger(__name__)


def report(
    prometheus: str = typer.Option(
        "http://127.0.0.1:9090", "--prometheus", help="Prometheus base URL."
    ),
    out: Path = typer.Option(Path("report.png"), "--out", help="PNG file to write."),
    range_: str = typer.Option("15m", "--range", help="How far back from now: 30s, 15m, 1h."),
    scrape_interval: str = typer.Option(
        f"{DEFAULT_SCRAPE_INTERVAL_S:g}s",
        "--scrape-interval",
        help="Prometheus' scrape interval (sizes rate windows like Grafana's $__rate_interval).",
    ),
    points: int = typer.Option(120, min=10, max=2000, help="Points per series."),
) -> None:
    """Render the dashboard's main panels from Prometheus to a PNG."""
    console = Console(stderr=True)
    window = Window.ending_now(
        parse_duration(range_), points=points, scrape_interval_s=parse_duration(scrape_interval)
    )
    with PrometheusClient(prometheus) as client:
        if not client.healthy():
            raise PrometheusUnavailableError(
                f"Prometheus at {prometheus} is not ready (GET /-/ready failed)"
            )
        with console.status("querying Prometheus") as status:
            panels = fetch_panels(
                client, MAIN_PANELS, window, on_query=lambda q: status.update(f"query {q}")
            )
            summary = fetch_summary(client, window)
    empty = [p.panel.title for p in panels if p.empty]
    if empty:
        console.print(f"[yellow]no data in range for: {', '.join(empty)}[/yellow]")
    path = render(panels, header(prometheus, window, summary), out)
    console.print(
        f"wrote {path} ({len(panels) - len(empty)}/{len(panels)} panels with data; "
        f"scored {summary.scored or 0:,.0f} events in the last {range_})"
    )
