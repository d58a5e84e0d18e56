"""Produce a scored batch's records: one score per row, an alert per anomalous row, and the
batch's dead letters, each with the batch's delivery callback (at-least-once) or none
(exactly-once: the transaction commit is the acknowledgement)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fraudstream.kafka.delivery import produce
from fraudstream.scorer.connect import Outputs
from fraudstream.scorer.dlq import DeadLetterWriter
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.scoring import Scored
from fraudstream.scorer.settings import ResolvedSettings


class OutputWriter:
    """Writes scores, alerts and dead letters for one producer."""

    def __init__(
        self,
        producer: Any,
        settings: ResolvedSettings,
        outputs: Outputs,
        metrics: ScorerMetrics | None = None,
    ) -> None:
        self.producer = producer
        self.topic_scores = settings.topic_scores
        self.topic_alerts = settings.topic_alerts
        self.topic_shadow = settings.topic_scores_shadow
        self.outputs = outputs
        self.dead_letters = DeadLetterWriter(
            producer,
            settings.topic_dlq,
            settings.dlq_max_value_bytes,
            max_key_bytes=settings.dlq_max_key_bytes,
            max_headers_bytes=settings.dlq_max_headers_bytes,
            spill_path=settings.dlq_spill_path,
            on_event=None if metrics is None else metrics.dead_letter_event,
        )

    def send(self, scored: Scored, on_delivery: Callable[..., None] | None) -> None:
        """Produce every output of `scored` (`scored.outputs` records)."""
        bodies, keys = scored.bodies, scored.keys
        st, at = self.topic_scores, self.topic_alerts
        sp, ap = self.outputs.score_prefix, self.outputs.alert_prefix
        produce_one = self.producer.produce
        i, n = 0, len(bodies)
        while i < n:  # one C call per record; on a full local queue, drain and resume
            try:
                if on_delivery is None:
                    for i in range(i, n):  # noqa: B020 - resumes at the record that failed
                        produce_one(st, bodies[i], keys[i])
                else:
                    for i in range(i, n):  # noqa: B020
                        produce_one(st, bodies[i], keys[i], on_delivery=on_delivery)
                i = n
            except BufferError:
                self.producer.poll(0.05)
        kw: dict[str, Any] = {} if on_delivery is None else {"on_delivery": on_delivery}
        for j in np.flatnonzero(scored.anomalous).tolist():
            produce(self.producer, at, ap + bodies[j][len(sp) :], keys[j], **kw)
        self.dead_letters.send(scored.batch.dead, on_delivery)
        for body, key in zip(scored.shadow_bodies, scored.shadow_keys, strict=True):
            produce(self.producer, self.topic_shadow, body, key, **kw)


__all__ = ["OutputWriter"]
