"""Read whole topics back and account for every event id: the e2e and fault suites' evidence.

A topic is read from its low to its high watermark captured at the start (a bounded snapshot);
values are decoded as Confluent-wire Avro (writer schema from the registry) or JSON. `IdLedger`
compares the ids that should exist with those seen: lost, duplicated, unexpected.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from fraudstream.errors import SerdeError
from fraudstream.kafka.errors import TopicReadError
from fraudstream.kafka.reader import read_topic
from fraudstream.local.errors import StackStateError
from fraudstream.local.liveview import WireDecoder

__all__ = [
    "IdLedger",
    "Record",
    "ValueDecoder",
    "decode_records",
    "read_records",
    "wait_for_ids",
]


@dataclass
class Record:
    """One Kafka record as read back."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)
    timestamp_ms: int = -1


def read_records(bootstrap: str, topic: str, timeout: float = 120.0) -> list[Record]:
    """Every record of `topic` up to the high watermarks taken now (read_committed), on
    `kafka.reader.read_topic`; a missing topic has no records."""
    try:
        msgs = read_topic(bootstrap, topic, timeout=timeout, missing_ok=True)
    except TopicReadError as exc:
        raise StackStateError(f"reading {topic}: {exc}") from exc
    out: list[Record] = []
    for msg in msgs:
        p, off = msg.partition(), msg.offset()
        assert p is not None and off is not None
        hdrs = {str(h[0]): _as_bytes(h[1]) for h in (msg.headers() or [])}
        out.append(Record(p, off, msg.key(), msg.value(), hdrs, msg.timestamp()[1]))
    return out


def _as_bytes(v: str | bytes | None) -> bytes:
    if v is None:
        return b""
    return v.encode() if isinstance(v, str) else bytes(v)


class ValueDecoder:
    """Avro (Confluent wire format) or JSON values to dicts with lower-case keys."""

    def __init__(self, registry_url: str) -> None:
        self.avro = WireDecoder(registry_url)

    def __call__(self, value: bytes | None) -> dict[str, Any]:
        if value is None:
            raise SerdeError("null value (tombstone)")
        if value[:1] == b"\x00":
            return self.avro.decode(value)
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise SerdeError(f"neither Avro wire format nor JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise SerdeError("JSON value is not an object")
        return {str(k).lower(): v for k, v in obj.items()}


def decode_records(
    records: Iterable[Record], decode: Callable[[bytes | None], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Record]]:
    """(decoded values, records that did not decode)."""
    good: list[dict[str, Any]] = []
    bad: list[Record] = []
    for r in records:
        try:
            good.append(decode(r.value))
        except SerdeError:
            bad.append(r)
    return good, bad


@dataclass
class IdLedger:
    """Expected ids against ids seen in an output topic."""

    expected: set[int]
    seen: Counter[int] = field(default_factory=Counter)

    def add(self, ids: Iterable[int]) -> None:
        self.seen.update(ids)

    @property
    def lost(self) -> set[int]:
        return self.expected - set(self.seen)

    @property
    def duplicates(self) -> int:
        """Extra deliveries of expected ids (at-least-once redeliveries)."""
        return sum(n - 1 for i, n in self.seen.items() if n > 1 and i in self.expected)

    @property
    def unexpected(self) -> set[int]:
        return set(self.seen) - self.expected

    def summary(self) -> str:
        lost = sorted(self.lost)
        return (
            f"expected={len(self.expected)} seen={len(set(self.seen) & self.expected)} "
            f"lost={len(lost)}{' e.g. ' + str(lost[:10]) if lost else ''} "
            f"duplicates={self.duplicates} unexpected={len(self.unexpected)}"
        )


def wait_for_ids(
    read_ids: Callable[[], Iterable[int]],
    expected: set[int],
    timeout: float,
    interval: float = 2.0,
) -> tuple[IdLedger, float]:
    """Poll until every expected id was seen (or timeout); (ledger, seconds waited)."""
    t0 = time.monotonic()
    while True:
        ledger = IdLedger(expected)
        ledger.add(read_ids())
        if not ledger.lost or time.monotonic() - t0 > timeout:
            return ledger, time.monotonic() - t0
        time.sleep(interval)
