"""The scorer's Prometheus metrics (names fixed by the shared contract, prefix fraudstream_).

Event latency is measured from the Kafka record timestamp of the consumed record (CreateTime:
the moment the event entered the pipeline, carried through KSQL as ROWTIME), never from the
event's own `Timestamp` field: replayed data carries 2013 dates, which put every observation
into +Inf and made FraudstreamEventLatencyHigh fire on a healthy stack.

Each `ScorerMetrics` owns a `CollectorRegistry`, so several scorers in one process (tests)
do not collide. Histograms over a whole batch are fed with `observe_many`, which bins with
NumPy instead of one Python call per event (the per-event path costs ~1 us x events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from prometheus_client import CollectorRegistry, Histogram

from fraudstream.scorer.errors import DLQ_REASONS
from fraudstream.serde.limits import LIMITS
from fraudstream.servermetrics import MetricSet, add_server_metrics

BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000)
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
# Reconstruction MSE in standardized space: normal events sit well below 1, thresholds
# typically fall between 1 and 20.
SCORE_BUCKETS = (
    0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 50.0, 100.0,
)  # fmt: skip


def observe_many(hist: Histogram, values: ArrayLike) -> None:
    """Add many observations to an unlabelled histogram in one go (same result as a loop)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        return
    bounds = getattr(hist, "_upper_bounds", None)
    buckets = getattr(hist, "_buckets", None)
    total = getattr(hist, "_sum", None)
    if bounds is None or buckets is None or total is None:  # other client version: slow path
        for v in arr.tolist():
            hist.observe(v)
        return
    idx = np.searchsorted(np.asarray(bounds, np.float64), arr, side="left")
    counts = np.bincount(idx, minlength=len(bounds))
    for i in np.flatnonzero(counts).tolist():
        buckets[i].inc(float(counts[i]))
    total.inc(float(arr.sum()))


def record_times_ms(msgs: Sequence[Any]) -> NDArray[np.float64]:
    """Each record's Kafka timestamp in epoch ms; NaN where the broker gave none.

    `msgs` are confluent_kafka Messages (`timestamp() -> (type, ms)`; type 0 is
    TIMESTAMP_NOT_AVAILABLE); a record without `timestamp` counts as missing.
    """
    try:  # (type, ms) pairs flattened into one array (no per-record NumPy store)
        flat = chain.from_iterable([m.timestamp() for m in msgs])
        stamps = np.fromiter(flat, np.float64, 2 * len(msgs)).reshape(len(msgs), 2)
    except (AttributeError, TypeError, ValueError):
        stamps = None
    if stamps is not None:
        return np.where((stamps[:, 0] != 0) & (stamps[:, 1] > 0), stamps[:, 1], np.nan)
    out = np.full(len(msgs), np.nan)
    for i, m in enumerate(msgs):
        stamp = getattr(m, "timestamp", None)  # the decoder takes anything with value()
        if stamp is None:
            continue
        kind, ms = stamp()
        if kind != 0 and ms > 0:
            out[i] = ms
    return out


def event_latency_s(done_at_s: float, record_ms: ArrayLike) -> NDArray[np.float64]:
    """Seconds from each record's timestamp to `done_at_s` (outputs acknowledged).

    Records without a timestamp are dropped; a small negative value (producer clock ahead of
    ours) counts as 0.
    """
    ms = np.asarray(record_ms, np.float64).ravel()
    ms = ms[np.isfinite(ms)]
    return np.maximum((done_at_s * 1000.0 - ms) / 1000.0, 0.0)


class ScorerMetrics:
    """All scorer metrics on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        add_server_metrics(r, "scorer")  # build info + process metrics (every server has them)
        m = MetricSet(r, "fraudstream_")
        self.consumed = m.counter("events_consumed", "Records read from the input topic.")
        self.scored = m.counter("events_scored", "Events scored.")
        self.anomalous = m.counter("events_anomalous", "Events scored above the threshold.")
        self.dead_lettered = m.counter(
            "events_dead_lettered",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            values=DLQ_REASONS,
        )
        self.dead_letters_capped = m.counter(
            "dead_letters_capped",
            "Dead letters whose value, key or copied headers were cut to their cap, by part.",
            ["part"],
            values=("value", "key", "headers"),
        )
        self.dead_letters_spilled = m.counter(
            "dead_letters_spilled",
            "Dead letters the producer refused even capped, appended to the spill file.",
        )
        self.decode_refusals = m.counter(
            "decode_refusals",
            "Records refused by a decode limit (FRAUDSTREAM_DECODE_*), by limit.",
            ["limit"],
            values=LIMITS,
        )
        self.batch_size = m.histogram("batch_size", "Records per micro-batch.", BATCH_BUCKETS)
        self.scoring_duration = m.histogram(
            "scoring_duration_seconds", "Per batch: decode + score + encode.", DURATION_BUCKETS
        )
        self.event_latency = m.histogram(
            "event_latency_seconds",
            "Kafka record timestamp of the consumed event to its outputs acknowledged.",
            LATENCY_BUCKETS,
        )
        self.score = m.histogram("score", "Anomaly scores.", SCORE_BUCKETS)
        self.consumer_lag = m.gauge(
            "consumer_lag",
            "High watermark minus position, per assigned partition.",
            ["topic", "partition"],
        )
        self.model_info = m.gauge("model_info", "1 for the model version serving.", ["version"])
        self.model_reloads = m.counter(
            "model_reloads", "Model load attempts by result.", ["result"], values=("ok", "failed")
        )
        self.model_threshold = m.gauge("model_threshold", "Threshold of the serving model.")
        self.last_poll = m.gauge(
            "last_poll_timestamp_seconds", "Unix time of the last poll-loop iteration."
        )
        self.ready = m.gauge("ready", "1 when a model is loaded and partitions are assigned.")
        self.drift_psi = m.gauge(
            "drift_psi",
            "Population stability index of an input feature (or feature=score) over the "
            "sliding window, against the serving model's training reference.",
            ["feature"],
        )
        self.drift_window = m.gauge("drift_window_events", "Events in the drift window.")

    def set_drift(self, values: dict[str, float], events: int) -> None:
        """Replace the PSI series (a new model may have other features)."""
        self.drift_psi.clear()
        for feature, value in values.items():
            self.drift_psi.labels(feature=feature).set(value)
        self.drift_window.set(events)

    def dead_letter_event(self, event: str) -> None:
        """A dead letter was cut ("value", "key", "headers") or spilled ("spilled")."""
        if event == "spilled":
            self.dead_letters_spilled.inc()
        else:
            self.dead_letters_capped.labels(part=event).inc()

    def set_model(self, version: str, threshold: float) -> None:
        """Make `version` the only one with model_info == 1."""
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)
        self.model_threshold.set(threshold)

    def set_lag(self, lags: Iterable[tuple[str, int, int]]) -> None:
        """Replace the lag series with the currently assigned partitions."""
        self.consumer_lag.clear()
        for topic, partition, lag in lags:
            self.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)
