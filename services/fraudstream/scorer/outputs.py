"""Produce a scored batch's records: one score per row, an alert per anomalous row, and the
batch's dead letters, each with the batch's delivery callback (at-least-once) or none
(exactly-once: the transaction commit is the acknowledgement)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fraudstream.kafka.delivery import produce_many
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
        """Produce every output of `scored` (`scored.outputs` records): one `produce_batch`
        per topic, each record with its own delivery report (`on_delivery`)."""
        bodies, keys = scored.bodies, scored.keys
        sp, ap = self.outputs.score_prefix, self.outputs.alert_prefix
        produce_many(self.producer, self.topic_scores, bodies, keys, on_delivery)
        hot = np.flatnonzero(scored.anomalous).tolist()
        if hot:
            cut = len(sp)
            produce_many(
                self.producer,
                self.topic_alerts,
                [ap + bodies[j][cut:] for j in hot],
                [keys[j] for j in hot],
                on_delivery,
            )
        self.dead_letters.send(scored.batch.dead, on_delivery)
        produce_many(
            self.producer, self.topic_shadow, scored.shadow_bodies, scored.shadow_keys, on_delivery
        )


__all__ = ["OutputWriter"]
