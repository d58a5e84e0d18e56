"""`fraudstream monitor`: live model quality from the scores and the delayed labels.

Why a service of its own and not a part of the scorer: the scorer is stateless between
micro-batches and scales out by partition, each replica seeing a slice of the events; the
quality of a model is a property of ALL its scores joined with labels that arrive days later,
so it needs global state held for days. Keeping that state (and its failures, restarts and
memory) out of the scoring path means a monitor problem never delays or stops scoring, and the
monitor can be restarted, re-windowed or replayed over the topics without touching it. One
monitor replica is enough (it reads scores and labels only; no outputs).

State is rebuilt from the topics: on assignment each partition is positioned at the time
`retention` ago (offsets_for_times), so a restart replays the last windows instead of starting
empty, and no offsets are committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from fraudstream.kafka import consumer_config, wait_for_broker
from fraudstream.monitor.budget import AlertBudget
from fraudstream.monitor.errors import BadLabelError
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.monitor.settings import MonitorSettings
from fraudstream.monitor.state import ScoreRow, WindowState
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.errors import SerdeError
from fraudstream.serde.registry_client import RegistryClient

__all__ = ["Monitor", "parse_label", "score_row"]

log = logging.getLogger(__name__)


def parse_label(value: bytes | None) -> tuple[int, int]:
    """(event id, label) of a labels-topic record; BadLabelError says why not."""
    try:
        body = orjson.loads(value or b"")
        event_id, label = body["Id"], body["Class"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadLabelError(f"not a label record ({type(exc).__name__})") from None
    if not isinstance(event_id, int) or isinstance(event_id, bool) or label not in (0, 1):
        raise BadLabelError("Id must be an integer and Class 0 or 1")
    return event_id, int(label)


def score_row(rec: dict[str, Any]) -> tuple[int, ScoreRow]:
    """(event id, what the monitor keeps) of a decoded fraud_scores record."""
    row = ScoreRow(
        version=str(rec["model_version"]),
        score=float(rec["score"]),
        alert=bool(rec["is_anomaly"]),
        scored_ms=int(rec["scored_at"]),
    )
    return int(rec["id"]), row


class Monitor:
    """Reads scores and labels, joins them, and keeps the gauges of every window fresh."""

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        bootstrap: str,
        registry_url: str,
        topic_scores: str,
        topic_labels: str,
        metrics: MonitorMetrics | None = None,
        clock: Callable[[], float] = time.time,
        budget: AlertBudget | None = None,
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.topic_scores = topic_scores
        self.topic_labels = topic_labels
        self.metrics = metrics or MonitorMetrics()
        self.clock = clock
        self.windows = settings.window_ms()
        self.state = WindowState(settings.retention_ms(), settings.max_events)
        self._counted = (0, 0, 0, 0)  # the state's counters already added to the metrics
        self._complete: dict[str, bool] = {}  # window -> complete at the last refresh
        self.decoder = AvroDecoder(RegistryClient(registry_url), logical_types=False)
        self.assigned = threading.Event()
        self.budget = budget  # the alert-rate budget policy (monitor/budget.py), if on
        if budget is not None and budget.metrics is None:
            budget.attach(self.metrics.budget)

    # ------------------------------------------------------------------ records
    def handle(self, msg: Message) -> None:
        """One score or label record into the state (bad ones are counted, not fatal)."""
        if msg.topic() == self.topic_labels:
            try:
                event_id, label = parse_label(msg.value())
            except BadLabelError as exc:
                self.metrics.bad_labels.inc()
                log.debug("label at %s[%s]@%s skipped: %s",
                          msg.topic(), msg.partition(), msg.offset(), exc)  # fmt: skip
                return
            self.state.add_label(event_id, label, msg.timestamp()[1])
            self.metrics.labels.inc()
            return
        try:
            rec = self.decoder.decode(msg.value() or b"")
        except SerdeError as exc:
            log.warning("score at %s[%s]@%s skipped: %s",
                        msg.topic(), msg.partition(), msg.offset(), exc)  # fmt: skip
            return
        event_id, row = score_row(rec)
        if self.state.add_score(event_id, row) and self.budget is not None:
            self.budget.observe(row.version, row.score)
        self.metrics.scores.inc()

    def refresh(self) -> None:
        """Evict old state and recompute every window's gauges."""
        now_ms = int(self.clock() * 1000)
        self.state.evict(now_ms)
        s = self.settings
        st, m = self.state, self.metrics
        for name, ms in self.windows.items():
            complete = not st.incomplete(now_ms, ms)
            if complete != self._complete.get(name, True):
                log.warning("window %s %s: the state cap (max_events=%d) %s scores it covers",
                            name, "back" if complete else "withheld", st.max_events,
                            "no longer misses" if complete else "dropped")  # fmt: skip
            self._complete[name] = complete
            m.window_complete.labels(name).set(1 if complete else 0)
            m.set_window(name, st.window(now_ms, ms, k=s.top_k, prevalence=s.prevalence))
        m.waiting.set(len(st.waiting))
        m.held.set(len(st))
        m.state_bytes.set(st.nbytes())
        counts = (st.dropped_scores, st.dropped_labels, st.expired_unlabelled, st.expired_labels)
        for counter, now, before in zip(
            (m.dropped_scores, m.dropped_labels, m.expired_unlabelled, m.expired_labels),
            counts,
            self._counted,
            strict=True,
        ):
            counter.inc(now - before)
        self._counted = counts
        self.metrics.last_refresh.set(self.clock())
        if self.budget is not None:
            self.budget.evaluate()

    # ------------------------------------------------------------------ the loop
    def _on_assign(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        since = int(self.clock() * 1000) - self.state.retention_ms
        wanted = [TopicPartition(p.topic, p.partition, since) for p in parts]
        try:
            found = consumer.offsets_for_times(wanted, timeout=10)
        except Exception as exc:
            log.warning("offsets_for_times failed (%s); reading from the beginning", exc)
            found = [TopicPartition(p.topic, p.partition, -2) for p in parts]
        for tp in found:
            if tp.offset < 0:  # nothing that recent: start at the end of what exists (-1)
                tp.offset = -1 if tp.offset == -1 else -2
        consumer.assign(found)
        self.assigned.set()

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set, refreshing the gauges every `refresh_s`."""
        wait_for_broker(self.bootstrap, timeout=60)
        conf = consumer_config(self.bootstrap, self.settings.group)
        conf["partition.assignment.strategy"] = "range"
        consumer = Consumer(conf)
        consumer.subscribe([self.topic_scores, self.topic_labels], on_assign=self._on_assign)
        next_refresh = 0.0
        try:
            while not stop.is_set():
                for msg in consumer.consume(5000, timeout=0.2):
                    err = msg.error()
                    if err is None:
                        self.handle(msg)
                    elif err.code() not in (KafkaError._PARTITION_EOF,
                                            KafkaError.UNKNOWN_TOPIC_OR_PART):  # fmt: skip
                        log.warning("consume error: %s", err)
                if time.monotonic() >= next_refresh:
                    self.refresh()
                    next_refresh = time.monotonic() + self.settings.refresh_s
        finally:
            consumer.close()

    def summary(self) -> dict[str, Any]:
        """Counts for logs and tests."""
        return {"scores": len(self.state), "waiting": len(self.state.waiting)}
