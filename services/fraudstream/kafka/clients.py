"""Client configuration shared by every producer, consumer and admin client in the project.

Delivery defaults are the safe ones (idempotent producer, manual offset storage); callers
pass overrides for what is specific to them (group id, transactional id, batching). Every
config carries the client security of `FRAUDSTREAM_KAFKA_*` (`kafka/security.py`), so no
client of the project can reach a secured cluster by one path and not by another: build
`Producer`, `Consumer` and `AdminClient` configs only here.
"""

from __future__ import annotations

from typing import Any

from fraudstream.kafka.security import KafkaSecurity, kafka_security

__all__ = ["admin_config", "client_config", "consumer_config", "producer_config"]

# confluent-kafka's own (Python-level) keys keep their underscores.
_PY_KEYS = frozenset(
    {"log_level", "logger", "error_cb", "stats_cb", "throttle_cb", "oauth_cb", "on_delivery"}
)


def _key(name: str) -> str:
    return name if name in _PY_KEYS or "." in name else name.replace("_", ".")


def _security(overrides: dict[str, Any]) -> KafkaSecurity:
    """`security=` of the callers (a KafkaSecurity) or the environment's."""
    given = overrides.pop("security", None)
    if given is None:
        return kafka_security()
    if not isinstance(given, KafkaSecurity):
        raise TypeError(f"security must be a KafkaSecurity, not {type(given).__name__}")
    return given


def client_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Bootstrap + security (+ overrides, `linger_ms` style or dotted): any client's base.

    `security=KafkaSecurity(...)` replaces the environment's (`kafka_security()`); a bad
    setting raises ConfigError naming the variable."""
    security = _security(overrides)
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
    conf.update(security.librdkafka())
    conf.update({_key(k): v for k, v in overrides.items()})
    return conf


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all producer settings, tuned for throughput with small batches."""
    defaults: dict[str, Any] = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000,
    }
    security = _security(overrides)
    return client_config(bootstrap, security=security, **{**defaults, **_dotted(overrides)})


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """At-least-once consumer settings: offsets are stored and committed by the caller."""
    defaults: dict[str, Any] = {
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
    }
    security = _security(overrides)
    return client_config(bootstrap, security=security, **{**defaults, **_dotted(overrides)})


def admin_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """AdminClient settings (quiet: connection noise while a broker starts is expected)."""
    security = _security(overrides)
    return client_config(bootstrap, security=security, **{"log_level": 0, **_dotted(overrides)})


def _dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides keyed as librdkafka spells them, so they replace the defaults above."""
    return {_key(k): v for k, v in overrides.items()}
