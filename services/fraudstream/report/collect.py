"""Fetch the data of the report's panels from Prometheus for one time window."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fraudstream.report.errors import ReportError
from fraudstream.report.panels import Panel, Query, with_window
from fraudstream.report.prometheus import PrometheusClient, Series

log = logging.getLogger(__name__)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")

# The scrape interval assumed when sizing rate windows (Grafana's $__rate_interval rule:
# at least four scrapes, and at least one step plus one scrape).
DEFAULT_SCRAPE_INTERVAL_S = 15.0


def parse_duration(text: str) -> float:
    """'15m', '1h30m', '90s' -> seconds; a clear error for anything else."""
    text = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    if pos != len(text) or total <= 0:
        raise ReportError(f"bad duration {text!r}: use e.g. 30s, 15m, 1h, 1h30m")
    return total


def promql_duration(seconds: float) -> str:
    """Seconds -> a PromQL duration literal (whole seconds, at least 1s)."""
    return f"{max(1, round(seconds))}s"


def format_legend(template: str, labels: dict[str, str]) -> str:
    """Grafana-style legend: `{{label}}` replaced by the series' label value."""
    if not template:
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")
    return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)


@dataclass(frozen=True)
class Window:
    """The report's time range, query step and the rate window standing in for Grafana's."""

    start: datetime
    end: datetime
    step_s: float
    rate_window: str

    @classmethod
    def ending_now(
        cls,
        range_s: float,
        points: int = 120,
        scrape_interval_s: float = DEFAULT_SCRAPE_INTERVAL_S,
        end: datetime | None = None,
    ) -> Window:
        end = end or datetime.now(UTC)
        step = max(1.0, range_s / max(points, 1))
        rate_s = max(4 * scrape_interval_s, step + scrape_interval_s)
        return cls(end - timedelta(seconds=range_s), end, step, promql_duration(rate_s))

    @property
    def range_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class QueryResult:
    query: Query
    series: list[Series]


@dataclass
class PanelData:
    panel: Panel
    results: list[QueryResult] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.points for r in self.results for s in r.series)


@dataclass
class Summary:
    """Totals over the whole window, printed in the report's header."""

    consumed: float | None
    scored: float | None
    anomalous: float | None
    dead_lettered: float | None
    replicas_up: float | None
    model_versions: list[str]


def fetch_panels(
    client: PrometheusClient,
    panels: list[Panel],
    window: Window,
    on_query: Callable[[str], None] | None = None,
) -> list[PanelData]:
    """Run every panel's queries as range queries over the window."""
    out: list[PanelData] = []
    for panel in panels:
        data = PanelData(panel)
        for q in panel.queries:
            expr = with_window(q.expr, window.rate_window)
            if on_query:
                on_query(f"{panel.title}: {expr}")
            series = client.query_range(expr, window.start, window.end, window.step_s)
            data.results.append(QueryResult(q, series))
        out.append(data)
    return out


def _scalar(client: PrometheusClient, expr: str, at: datetime) -> float | None:
    series = client.query(expr, at=at)
    values = [s.points[-1][1] for s in series if s.points]
    return sum(values) if values else None


def fetch_summary(client: PrometheusClient, window: Window) -> Summary:
    """Counter increases over the window, replicas up and model versions at its end."""
    rng = promql_duration(window.range_s)

    def total(metric: str) -> float | None:
        return _scalar(client, f"sum(increase({metric}[{rng}]))", window.end)

    versions = client.query("count by (version) (fraudstream_model_info == 1)", at=window.end)
    return Summary(
        consumed=total("fraudstream_events_consumed_total"),
        scored=total("fraudstream_events_scored_total"),
        anomalous=total("fraudstream_events_anomalous_total"),
        dead_lettered=total("fraudstream_events_dead_lettered_total"),
        replicas_up=_scalar(client, 'sum(up{job="fraudstream-scorer"})', window.end),
        model_versions=sorted(s.labels.get("version", "?") for s in versions),
    )


__all__ = [
    "PanelData",
    "QueryResult",
    "Summary",
    "Window",
    "fetch_panels",
    "fetch_summary",
    "format_legend",
    "parse_duration",
    "promql_duration",
]
