"""The monitor's Prometheus gauges: labelled quality per model version and window.

Names start with `fraudstream_monitor_`; every quality gauge has the labels `model_version`
and `window` (the window's name, e.g. `1h`). NaN means "not enough labelled events to say"
(e.g. no alert labelled yet), which alert rules treat as quiet.

Declared in the scorer's shape (`scorer/metrics.py`): one class owning its registry, one
attribute per metric declared through `servermetrics.MetricSet` (the quality family: one gauge
per name of `_QUALITY`/`_COUNTS`), labels set by name, series replaced through
prometheus_client's public API.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from fraudstream.monitor.quality import Quality
from fraudstream.monitor.state import LabelDelays
from fraudstream.servermetrics import MetricSet, add_server_metrics

__all__ = ["BudgetMetrics", "MonitorMetrics"]

_QUALITY = {
    "precision": "Precision at the serving threshold (labelled events of the window).",
    "recall": "Recall at the serving threshold (labelled events of the window).",
    "precision_at_k": "Fraud share among the labelled of each day's top-k alerts.",
    "precision_weighted": "Precision at the production prevalence (same TPR and FPR).",
    "roc_auc": "ROC-AUC of the score on the labelled events.",
    "average_precision": "Average precision of the score on the labelled events.",
}
_COUNTS = {
    "events": "Events scored in the window.",
    "labelled": "Events of the window whose label has arrived.",
    "unlabelled": "Events of the window still without a label.",
    "frauds": "Labelled frauds of the window.",
    "alerts_labelled": "Alerts of the window whose label has arrived.",
}
_DELAY_QUANTILES = ("0.5", "0.9", "1")  # label_delay's quantile label: p50, p90, max


class BudgetMetrics:
    """The budget policy's figures (`fraudstream_monitor_budget_*`, on the monitor's
    registry); the gauges are NaN while the policy is off."""

    def __init__(self, registry: CollectorRegistry) -> None:
        m = MetricSet(registry, "fraudstream_monitor_budget_")
        self.budget = m.gauge(
            "alerts_per_1000",
            "The alert budget (alerts per 1,000); NaN: the policy is off.",
            nan=True,
        )
        self.rate = m.gauge(
            "observed_alerts_per_1000",
            "Alerts per 1,000 of the champion's window at its serving threshold.",
            nan=True,
        )
        self.threshold = m.gauge("threshold", "The champion's serving threshold.", nan=True)
        self.target = m.gauge(
            "target_threshold",
            "The window's quantile that would give exactly the budget.",
            nan=True,
        )
        self.window = m.gauge("window_events", "Champion scores in the window.")
        self.limited = m.gauge(
            "limited", "1 when the last change was cut by a bound (min/max threshold, max step)."
        )
        self.changes = m.counter("changes", "Threshold changes made by the policy.")
        self.failures = m.counter(
            "failures", "Evaluations that could not read or write the model store."
        )
        self.last_change = m.gauge(
            "last_change_timestamp_seconds", "Unix time of the policy's last change."
        )


class MonitorMetrics:
    """All monitor metrics on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        add_server_metrics(r, "monitor")
        m = MetricSet(r, "fraudstream_monitor_")
        labels = ["model_version", "window"]
        self.quality = {
            name: m.gauge(name, doc, labels) for name, doc in {**_QUALITY, **_COUNTS}.items()
        }
        self.label_delay = m.gauge(
            "label_delay_seconds",
            "Label delay (label published - event scored) of the window's labelled events; "
            "0 for a label that came before its score (a scorer backlog).",
            [*labels, "quantile"],
        )
        self.scores = m.counter("scores", "Score records read.")
        self.labels = m.counter("labels", "Label records read.")
        self.bad_labels = m.counter("bad_labels", "Label records skipped as unusable.")
        self.waiting = m.gauge("labels_waiting", "Labels whose score has not been read yet.")
        self.window_complete = m.gauge(
            "window_complete",
            "0 while the state cap (FRAUDSTREAM_MONITOR_MAX_EVENTS) has dropped scores this "
            "window covers: its quality series are withheld rather than computed on part of it.",
            ["window"],
        )
        self.held = m.gauge("scores_held", "Scores held in the monitor's state.")
        self.dropped_scores = m.counter(
            "dropped_scores", "Scores dropped by the state cap before their retention."
        )
        self.dropped_labels = m.counter(
            "dropped_labels", "Labels dropped by the state cap while waiting for their score."
        )
        self.expired_unlabelled = m.counter(
            "expired_unlabelled",
            "Scores evicted at the retention (longest window + label horizon) without a label: "
            "their label came later than the horizon, or never.",
        )
        self.expired_labels = m.counter(
            "expired_labels",
            "Labels evicted at the retention while waiting for a score that never came.",
        )
        self.state_bytes = m.gauge(
            "state_bytes",
            "Bytes of the state's columns and Id index (allocated; flat once the retention "
            "has filled at a steady rate).",
        )
        self.budget = BudgetMetrics(r)  # the alert-rate budget policy (monitor/budget.py)
        self.last_refresh = m.gauge(
            "last_refresh_timestamp_seconds", "Unix time the gauges were last recomputed."
        )
        self._versions: dict[str, set[str]] = {}  # window -> model versions with series

    def set_window(self, window: str, results: dict[str, tuple[Quality, LabelDelays]]) -> None:
        """Replace this window's series with `results` (versions gone from it disappear)."""
        for version in self._versions.get(window, set()) - results.keys():
            for gauge in self.quality.values():
                gauge.remove(version, window)
            for quant in _DELAY_QUANTILES:
                self.label_delay.remove(version, window, quant)
        self._versions[window] = set(results)
        for version, (q, d) in results.items():
            labels = {"model_version": version, "window": window}
            for name, gauge in self.quality.items():
                gauge.labels(**labels).set(getattr(q, name))
            for quant, value in zip(_DELAY_QUANTILES, (d.p50_s, d.p90_s, d.max_s), strict=True):
                self.label_delay.labels(**labels, quantile=quant).set(value)
