"""Liveness, readiness and consumer lag of a scorer replica (served on /healthz, /readyz,
/metrics): alive while the poll loop turns, ready with a model and assigned partitions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Set

from confluent_kafka import Consumer, KafkaException, TopicPartition

from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.reload import ModelWatcher

log = logging.getLogger(__name__)

Partitions = Set[tuple[str, int]]


class Health:
    """Answers the probes from the loop's heartbeat, the watcher's model and the assignment."""

    def __init__(
        self,
        metrics: ScorerMetrics,
        watcher: ModelWatcher,
        assigned: Callable[[], Partitions],
        stale_s: float,
    ) -> None:
        self.metrics = metrics
        self.watcher = watcher
        self.assigned = assigned
        self.stale_s = stale_s
        self.last_poll = time.monotonic()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last_poll
        return age <= self.stale_s, f"poll loop ran {age:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        model = self.watcher.current
        if model is None:
            return False, "no model loaded"
        parts = self.assigned()
        if not parts:
            return False, f"model {model.version} loaded; no partitions assigned"
        return True, f"model {model.version}; {len(parts)} partitions"

    def heartbeat(self) -> None:
        """The loop is turning: refresh liveness and the readiness gauge."""
        self.last_poll = time.monotonic()
        self.metrics.last_poll.set(time.time())
        self.metrics.ready.set(1 if self.ready()[0] else 0)

    def update_lag(self, consumer: Consumer | None) -> None:
        """Per assigned partition: high watermark minus the consumer's position."""
        parts = self.assigned()
        if consumer is None or not parts:
            self.metrics.set_lag([])
            return
        tps = [TopicPartition(t, p) for t, p in sorted(parts)]
        lags: list[tuple[str, int, int]] = []
        try:
            for tp in consumer.position(tps):
                _lo, hi = consumer.get_watermark_offsets(tp, cached=True)
                if hi >= 0 and tp.offset >= 0:
                    lags.append((tp.topic, tp.partition, max(hi - tp.offset, 0)))
        except KafkaException as exc:
            log.debug("lag update failed: %s", exc)
            return
        self.metrics.set_lag(lags)


__all__ = ["Health"]
