"""Read whole topics back and account for every event id: the e2e and fault suites' evidence.

A topic is read from its low to its high watermark captured at the start (a bounded snapshot);
values are decoded as Confluent-wire Avro (writer schema from the registry) or JSON. `IdLedger`
compares the ids that should exist with those seen: lost, duplicated, unexpected.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from fraudstream.errors import SerdeError
from fraudstream.local.errors import StackStateError
from fraudstream.local.liveview import WireDecoder


@dataclass
class Record:
    """One Kafka record as read back."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)
    timestamp_ms: int = -1


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0) -> list[Record]:
    """Every record of `topic` up to the high watermarks taken now (read_committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fraudstream-verify-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "log_level": 0,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return []
        ends: dict[int, int] = {}
        assign = []
        for p in tmd.partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if hi > lo:
                ends[p] = hi
                assign.append(TopicPartition(topic, p, lo))
        if not assign:
            return []
        consumer.assign(assign)
        out: list[Record] = []
        pos = {p: -1 for p in ends}
        deadline = time.monotonic() + timeout
        while any(pos[p] < ends[p] - 1 for p in ends):
            if time.monotonic() > deadline:
                got = sum(1 for _ in out)
                raise StackStateError(f"reading {topic} timed out after {got} records")
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is not None:
                    continue
                p, off = msg.partition(), msg.offset()
                assert p is not None and off is not None
                pos[p] = off
                if off < ends[p]:
                    hdrs = {str(h[0]): _as_bytes(h[1]) for h in (msg.headers() or [])}
                    ts = msg.timestamp()[1]
                    out.append(Record(p, off, msg.key(), msg.value(), hdrs, ts))
            # Transaction markers occupy offsets: stop when the position passes the end.
            for p in ends:
                tp = consumer.position([TopicPartition(topic, p)])[0]
                if tp.offset >= ends[p]:
                    pos[p] = max(pos[p], ends[p] - 1)
        return out
    finally:
        consumer.close()


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


def decode_all(
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
