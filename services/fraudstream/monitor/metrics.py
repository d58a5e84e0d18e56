"""The monitor's Prometheus gauges: labelled quality per model version and window.

Names start with `fraudstream_monitor_`; every quality gauge has the labels `model_version`
and `window` (the window's name, e.g. `1h`). NaN means "not enough labelled events to say"
(e.g. no alert labelled yet), which alert rules treat as quiet.

Declared in the scorer's shape (`scorer/metrics.py`): one class owning its registry, one
attribute per metric (the quality family: one gauge per name of `_QUALITY`/`_COUNTS`),
labels set by name, series replaced through prometheus_client's public API.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from fraudstream.monitor.quality import Quality
from fraudstream.monitor.state import LabelDelays
from fraudstream.servermetrics import add_server_metrics

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
        r = registry
        self.budget = Gauge(
            "fraudstream_monitor_budget_alerts_per_1000",
            "The alert budget (alerts per 1,000); NaN: the policy is off.",
            registry=r,
        )
        self.rate = Gauge(
            "fraudstream_monitor_budget_observed_alerts_per_1000",
            "Alerts per 1,000 of the champion's window at its serving threshold.",
            registry=r,
        )
        self.threshold = Gauge(
            "fraudstream_monitor_budget_threshold", "The champion's serving threshold.", registry=r
        )
        self.target = Gauge(
            "fraudstream_monitor_budget_target_threshold",
            "The window's quantile that would give exactly the budget.",
            registry=r,
        )
        self.window = Gauge(
            "fraudstream_monitor_budget_window_events", "Champion scores in the window.", registry=r
        )
        self.limited = Gauge(
            "fraudstream_monitor_budget_limited",
            "1 when the last change was cut by a bound (min/max threshold, max step).",
            registry=r,
        )
        self.changes = Counter(
            "fraudstream_monitor_budget_changes",
            "Threshold changes made by the policy.",
            registry=r,
        )
        self.failures = Counter(
            "fraudstream_monitor_budget_failures",
            "Evaluations that could not read or write the model store.",
            registry=r,
        )
        self.last_change = Gauge(
            "fraudstream_monitor_budget_last_change_timestamp_seconds",
            "Unix time of the policy's last change.",
            registry=r,
        )
        for gauge in (self.budget, self.rate, self.threshold, self.target):
            gauge.set(float("nan"))


class MonitorMetrics:
    """All monitor metrics on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        add_server_metrics(r, "monitor")
        labels = ["model_version", "window"]
        self.quality = {
            name: Gauge(f"fraudstream_monitor_{name}", doc, labels, registry=r)
            for name, doc in {**_QUALITY, **_COUNTS}.items()
        }
        self.label_delay = Gauge(
            "fraudstream_monitor_label_delay_seconds",
            "Label delay (label published - event scored) of the window's labelled events; "
            "0 for a label that came before its score (a scorer backlog).",
            [*labels, "quantile"],
            registry=r,
        )
        self.scores = Counter("fraudstream_monitor_scores", "Score records read.", registry=r)
        self.labels = Counter("fraudstream_monitor_labels", "Label records read.", registry=r)
        self.bad_labels = Counter(
            "fraudstream_monitor_bad_labels", "Label records skipped as unusable.", registry=r
        )
        self.waiting = Gauge(
            "fraudstream_monitor_labels_waiting",
            "Labels whose score has not been read yet.",
            registry=r,
        )
        self.window_complete = Gauge(
            "fraudstream_monitor_window_complete",
            "0 while the state cap (FRAUDSTREAM_MONITOR_MAX_EVENTS) has dropped scores this "
            "window covers: its quality series are withheld rather than computed on part of it.",
            ["window"],
            registry=r,
        )
        self.held = Gauge(
            "fraudstream_monitor_scores_held", "Scores held in the monitor's state.", registry=r
        )
        self.dropped_scores = Counter(
            "fraudstream_monitor_dropped_scores",
            "Scores dropped by the state cap before their retention.",
            registry=r,
        )
        self.dropped_labels = Counter(
            "fraudstream_monitor_dropped_labels",
            "Labels dropped by the state cap while waiting for their score.",
            registry=r,
        )
        self.expired_unlabelled = Counter(
            "fraudstream_monitor_expired_unlabelled",
            "Scores evicted at the retention (longest window + label horizon) without a label: "
            "their label came later than the horizon, or never.",
            registry=r,
        )
        self.expired_labels = Counter(
            "fraudstream_monitor_expired_labels",
            "Labels evicted at the retention while waiting for a score that never came.",
            registry=r,
        )
        self.state_bytes = Gauge(
            "fraudstream_monitor_state_bytes",
            "Bytes of the state's columns and Id index (allocated; flat once the retention "
            "has filled at a steady rate).",
            registry=r,
        )
        self.budget = BudgetMetrics(r)  # the alert-rate budget policy (monitor/budget.py)
        self.last_refresh = Gauge(
            "fraudstream_monitor_last_refresh_timestamp_seconds",
            "Unix time the gauges were last recomputed.",
            registry=r,
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
