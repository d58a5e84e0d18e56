"""Dead letters: an input record that cannot be scored goes to the DLQ topic with its reason.

A dead letter must always be producible, or one hostile record would stall the scorer (the
produce error escapes, the batch rewinds, and the same record fails again forever). So the
value is cut to `max_value_bytes`, the key to `max_key_bytes` and the copied source headers
to `max_headers_bytes` in all; each cut is recorded in a `dlq.*` header
(`dlq.truncated_from`, `dlq.key_truncated_from`, `dlq.headers_dropped`). A dead letter the
producer still refuses is appended to a local spill file (one JSON line) and counted in
`spilled`, and its delivery callback is acknowledged so the batch completes.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import KafkaException

from fraudstream.kafka.delivery import produce
from fraudstream.serde.ksql_records import Reject

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 4096
MAX_HEADERS_BYTES = 16_384
SPILL_KEEP_BYTES = 4096  # of key and value, in a spilled line
DEFAULT_SPILL = Path(tempfile.gettempdir()) / "fraudstream" / "dlq-spill.jsonl"
# the header recording each cut -> the part cut
_CUTS = {
    "dlq.truncated_from": "value",
    "dlq.key_truncated_from": "key",
    "dlq.headers_dropped": "headers",
}


def dead_letter_record(
    d: Reject,
    now: str,
    max_value_bytes: int,
    max_key_bytes: int = MAX_KEY_BYTES,
    max_headers_bytes: int = MAX_HEADERS_BYTES,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of the dead letter for `d`, every part within its cap."""
    m = d.msg
    headers: list[tuple[str, bytes]] = []
    used = dropped = 0
    for name, val in m.headers() or []:
        size = len(name) + len(val or b"")
        if used + size > max_headers_bytes:
            dropped += 1
            continue
        used += size
        headers.append((name, val))
    headers += [
        ("dlq.reason", d.reason.encode()),
        ("dlq.error", d.detail[:2000].encode("utf-8", "replace")),
        ("dlq.source.topic", (m.topic() or "").encode()[:512]),
        ("dlq.source.partition", str(m.partition()).encode()),
        ("dlq.source.offset", str(m.offset()).encode()),
        ("dlq.time", now.encode()),
    ]
    if dropped:
        headers.append(("dlq.headers_dropped", str(dropped).encode()))
    value = m.value()
    if value is not None and len(value) > max_value_bytes:
        # Too big to fit a DLQ record with its headers: keep the head, say so.
        headers.append(("dlq.truncated_from", str(len(value)).encode()))
        value = value[:max_value_bytes]
    key = m.key()
    if key is not None and len(key) > max_key_bytes:
        headers.append(("dlq.key_truncated_from", str(len(key)).encode()))
        key = key[:max_key_bytes]
    return key, value, headers


class DeadLetterWriter:
    """Produces dead letters to one topic, each acknowledged through `on_delivery`."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        max_value_bytes: int,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_headers_bytes: int = MAX_HEADERS_BYTES,
        spill_path: Path = DEFAULT_SPILL,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        """`on_event`: told "value", "key" or "headers" for each cut, "spilled" for each
        dead letter written to the spill file (the scorer's metrics)."""
        self.producer = producer
        self.topic = topic
        self.max_value_bytes = max_value_bytes
        self.max_key_bytes = max_key_bytes
        self.max_headers_bytes = max_headers_bytes
        self.spill_path = spill_path
        self.spilled = 0  # dead letters written to the spill file instead of the topic
        self.on_event = on_event

    def send(self, dead: Sequence[Reject], on_delivery: Callable[..., None] | None) -> None:
        if not dead:
            return
        now = datetime.now(UTC).isoformat()
        kw: dict[str, Any] = {} if on_delivery is None else {"on_delivery": on_delivery}
        for d in dead:
            key, value, headers = dead_letter_record(
                d, now, self.max_value_bytes, self.max_key_bytes, self.max_headers_bytes
            )
            if self.on_event is not None:
                for name, _ in headers[-3:]:
                    cut = _CUTS.get(name)
                    if cut is not None:
                        self.on_event(cut)
            try:
                produce(self.producer, self.topic, value, key, headers=headers, **kw)
            except (KafkaException, ValueError, TypeError) as exc:
                self._spill(d, key, value, now, exc)
                if on_delivery is not None:
                    on_delivery(None, None)  # kept in the spill file: the batch may complete
        if len(dead) <= 3:
            for d in dead:
                log.warning("dead letter (%s): %s", d.reason, d.detail)
        else:
            log.warning(
                "%d dead letters (first: %s: %s)", len(dead), dead[0].reason, dead[0].detail
            )

    def _spill(
        self, d: Reject, key: bytes | None, value: bytes | None, now: str, exc: Exception
    ) -> None:
        """Append the dead letter to the spill file (heads of key and value, base64)."""
        m = d.msg
        line = {
            "time": now,
            "reason": d.reason,
            "detail": d.detail[:2000],
            "error": str(exc)[:500],
            "source_topic": m.topic(),
            "source_partition": m.partition(),
            "source_offset": m.offset(),
            "key_b64": None if key is None else base64.b64encode(key[:SPILL_KEEP_BYTES]).decode(),
            "value_b64": None
            if value is None
            else base64.b64encode(value[:SPILL_KEEP_BYTES]).decode(),
            "value_bytes": None if value is None else len(value),
        }
        self.spilled += 1
        if self.on_event is not None:
            self.on_event("spilled")
        try:
            self.spill_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spill_path.open("ab") as f:
                f.write(orjson.dumps(line) + b"\n")
        except OSError as err:
            log.error("dead letter lost (spill file %s: %s): %s", self.spill_path, err, d.detail)
            return
        log.error(
            "dead letter not producible (%s), spilled to %s (%d so far)",
            str(exc)[:200],
            self.spill_path,
            self.spilled,
        )


__all__ = ["DEFAULT_SPILL", "DeadLetterWriter", "dead_letter_record"]
