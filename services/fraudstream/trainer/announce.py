"""Announcing a published model on the `fraudstream_models` topic (key = version).

The scorer may listen and reload at once instead of polling `models/LATEST`; the message
carries only metadata, never weights (the model store is the source of truth).
"""

from __future__ import annotations

import json

from confluent_kafka import KafkaException, Producer

from fraudstream.kafka.clients import producer_config
from fraudstream.model import ModelManifest
from fraudstream.trainer.errors import TrainerError


def announcement(manifest: ModelManifest, path: str) -> dict[str, object]:
    """The JSON value announced for a model version."""
    return {
        "version": manifest.version,
        "path": path,
        "created_at": manifest.created_at.isoformat(),
        "threshold": manifest.threshold,
        "threshold_strategy": manifest.threshold_strategy,
        "score": manifest.score.kind,
        "features": manifest.features,
        "metrics": manifest.metrics,
    }


def announce(
    bootstrap: str, topic: str, manifest: ModelManifest, path: str, timeout_s: float = 15.0
) -> None:
    """Produce the announcement and wait for the broker's ack (TrainerError if none)."""
    errors: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    try:
        producer = Producer(
            producer_config(bootstrap, **{"message.timeout.ms": int(timeout_s * 1000)})
        )
        producer.produce(
            topic,
            key=manifest.version.encode(),
            value=json.dumps(announcement(manifest, path)).encode(),
            on_delivery=on_delivery,
        )
        remaining = producer.flush(timeout_s)
    except KafkaException as exc:
        raise TrainerError(f"announcing {manifest.version} on {topic} failed: {exc}") from None
    if remaining or errors:
        reason = errors[0] if errors else "no acknowledgement"
        raise TrainerError(f"announcing {manifest.version} on {topic} failed: {reason}")
