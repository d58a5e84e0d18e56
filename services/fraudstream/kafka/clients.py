"""Client configuration shared by every producer and consumer in the project.

Delivery defaults are the safe ones (idempotent producer, manual offset storage); callers
pass overrides for what is specific to them (group id, transactional id, batching).
"""

from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all producer settings, tuned for throughput with small batches."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000,
    }
    conf.update({k.replace("_", "."): v for k, v in overrides.items()})
    return conf


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """At-least-once consumer settings: offsets are stored and committed by the caller."""
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
    }
    conf.update({k.replace("_", "."): v for k, v in overrides.items()})
    return conf
