"""Dead letters: an input record that cannot be scored goes to the DLQ topic with its reason.

The record keeps its key, value and headers; `dlq.*` headers say why and where it came from.
A value too large to fit beside its headers is cut to `dlq_max_value_bytes`, and
`dlq.truncated_from` records its original size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fraudstream.kafka.delivery import produce
from fraudstream.serde.ksql_records import Reject

log = logging.getLogger(__name__)


def dead_letter_record(
    d: Reject, now: str, max_value_bytes: int
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of the dead letter for `d`."""
    m = d.msg
    headers: list[tuple[str, bytes]] = list(m.headers() or [])
    headers += [
        ("dlq.reason", d.reason.encode()),
        ("dlq.error", d.detail[:2000].encode("utf-8", "replace")),
        ("dlq.source.topic", (m.topic() or "").encode()),
        ("dlq.source.partition", str(m.partition()).encode()),
        ("dlq.source.offset", str(m.offset()).encode()),
        ("dlq.time", now.encode()),
    ]
    value = m.value()
    if value is not None and len(value) > max_value_bytes:
        # Too big to fit a DLQ record with its headers: keep the head, say so.
        headers.append(("dlq.truncated_from", str(len(value)).encode()))
        value = value[:max_value_bytes]
    return m.key(), value, headers


class DeadLetterWriter:
    """Produces dead letters to one topic, each acknowledged through `on_delivery`."""

    def __init__(self, producer: Any, topic: str, max_value_bytes: int) -> None:
        self.producer = producer
        self.topic = topic
        self.max_value_bytes = max_value_bytes

    def send(self, dead: Sequence[Reject], on_delivery: Callable[..., None] | None) -> None:
        if not dead:
            return
        now = datetime.now(UTC).isoformat()
        kw: dict[str, Any] = {} if on_delivery is None else {"on_delivery": on_delivery}
        for d in dead:
            key, value, headers = dead_letter_record(d, now, self.max_value_bytes)
            produce(self.producer, self.topic, value, key, headers=headers, **kw)
        if len(dead) <= 3:
            for d in dead:
                log.warning("dead letter (%s): %s", d.reason, d.detail)
        else:
            log.warning(
                "%d dead letters (first: %s: %s)", len(dead), dead[0].reason, dead[0].detail
            )


__all__ = ["DeadLetterWriter", "dead_letter_record"]
