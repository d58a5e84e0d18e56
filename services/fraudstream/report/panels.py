"""The dashboard's main panels as data: title, PromQL, legend, unit, how to draw.

The expressions are the Grafana dashboard's own (deploy/grafana/dashboards/fraudstream.json,
a unit test keeps them identical), including Grafana's `$__rate_interval`, which the report
replaces with its own window. So the PNG and the dashboard always show the same numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RATE_INTERVAL = "$__rate_interval"

Kind = Literal["lines", "heatmap", "versions"]
Unit = Literal["ops", "percent", "seconds", "count"]


class Query(BaseModel):
    """One PromQL expression of a panel; `legend` uses Grafana's `{{label}}` syntax."""

    expr: str
    legend: str = ""
    right_axis: bool = False
    unit: Unit | None = None  # overrides the panel unit (right axis)


class Panel(BaseModel):
    title: str
    kind: Kind = "lines"
    unit: Unit = "count"
    queries: list[Query] = Field(min_length=1)


MAIN_PANELS: list[Panel] = [
    Panel(
        title="Events in/out per second",
        unit="ops",
        queries=[
            Query(expr="fraudstream:events_consumed:rate1m", legend="consumed"),
            Query(expr="fraudstream:events_scored:rate1m", legend="scored"),
            Query(expr="fraudstream:events_anomalous:rate1m", legend="anomalous"),
            Query(
                expr=f"sum(rate(fraudstream_events_dead_lettered_total[{RATE_INTERVAL}]))",
                legend="dead-lettered",
            ),
        ],
    ),
    Panel(
        title="Anomaly rate and count",
        unit="percent",
        queries=[
            Query(expr="fraudstream:anomaly_ratio:rate5m", legend="anomaly rate (5m)"),
            Query(expr="fraudstream:anomaly_ratio:rate1h", legend="baseline (1h)"),
            Query(
                expr=f"sum(increase(fraudstream_events_anomalous_total[{RATE_INTERVAL}]))",
                legend="anomalies",
                right_axis=True,
                unit="count",
            ),
        ],
    ),
    Panel(
        title="Score distribution",
        kind="heatmap",
        unit="count",
        queries=[
            Query(
                expr=f"sum by (le) (increase(fraudstream_score_bucket[{RATE_INTERVAL}]))",
                legend="{{le}}",
            )
        ],
    ),
    Panel(
        title="Event-to-score latency",
        unit="seconds",
        queries=[
            Query(expr="fraudstream:event_latency_seconds:p50", legend="p50"),
            Query(expr="fraudstream:event_latency_seconds:p95", legend="p95"),
            Query(expr="fraudstream:event_latency_seconds:p99", legend="p99"),
            Query(expr="fraudstream:scoring_duration_seconds:p99", legend="batch scoring p99"),
        ],
    ),
    Panel(
        title="Consumer lag per partition",
        unit="count",
        queries=[
            Query(
                expr="topic_partition:fraudstream_consumer_lag:max",
                legend="{{topic}}/{{partition}}",
            )
        ],
    ),
    Panel(
        title="Dead-letter rate by reason",
        unit="ops",
        queries=[Query(expr="reason:fraudstream_events_dead_lettered:rate5m", legend="{{reason}}")],
    ),
    Panel(
        title="Per-replica throughput",
        unit="ops",
        queries=[Query(expr="instance:fraudstream_events_scored:rate1m", legend="{{instance}}")],
    ),
    Panel(
        title="Model version in service",
        kind="versions",
        unit="count",
        queries=[
            Query(expr="count by (version) (fraudstream_model_info == 1)", legend="{{version}}")
        ],
    ),
]


def with_window(expr: str, window: str) -> str:
    """The expression with Grafana's `$__rate_interval` replaced by a PromQL duration."""
    return expr.replace(RATE_INTERVAL, window)


__all__ = ["MAIN_PANELS", "RATE_INTERVAL", "Panel", "Query", "with_window"]
