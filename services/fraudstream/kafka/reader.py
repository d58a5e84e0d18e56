"""Read a topic back: a bounded snapshot (to the end offsets seen at the start), or a tail
that waits for records still being written. The one `read_topic` of the project.

- `read_topic(bootstrap, topic)`: every record up to the high watermarks taken now;
  `since_ms` starts at a time instead of the beginning, `max_records` stops early.
- `read_topic(bootstrap, topic, expect=n)`: at least `n` records, then until the topic has
  been quiet for `idle_s` (outputs of a running job); what was read when `timeout` passes.
- `open_snapshot` + `iter_snapshot`: the same snapshot in batches, for callers that decode
  and count as they go (a training set read from a topic).

Readers use no consumer group offsets (partitions are assigned, nothing is committed).
`read_committed` (Kafka's default) skips aborted transactions; pass False to see them.
Transaction markers occupy offsets, so a snapshot ends when each partition's *position*
passes its end, not when a record at end - 1 arrives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from fraudstream.kafka.clients import client_config
from fraudstream.kafka.errors import TopicReadError


def reader_consumer(bootstrap: str, *, read_committed: bool = True, **overrides: Any) -> Consumer:
    """A consumer for reading back: no commits, a throwaway group id, quiet logs."""
    conf: dict[str, Any] = {
        "group.id": f"fraudstream-reader-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed" if read_committed else "read_uncommitted",
        "log_level": 0,
    }
    conf.update(overrides)
    return Consumer(client_config(bootstrap, **conf))


@dataclass
class Snapshot:
    """A topic's partitions with the offsets to read from (`start`) and up to (`end`)."""

    topic: str
    start: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Offsets in the snapshot (records, plus any transaction markers among them)."""
        return sum(max(0, self.end[p] - self.start[p]) for p in self.end)

    @property
    def pending(self) -> list[int]:
        return [p for p in sorted(self.end) if self.start[p] < self.end[p]]


def _partitions(consumer: Consumer, topic: str, timeout: float) -> list[int] | None:
    try:
        md = consumer.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise TopicReadError(f"cannot read metadata of {topic}: {exc}") from exc
    tmd = md.topics.get(topic)
    if tmd is None or tmd.error is not None or not tmd.partitions:
        return None
    return sorted(tmd.partitions)


def open_snapshot(
    consumer: Consumer, topic: str, since_ms: int | None = None, timeout: float = 10.0
) -> Snapshot:
    """The topic's bounds now (from `since_ms` if given); TopicReadError if it is missing."""
    parts = _partitions(consumer, topic, timeout)
    if parts is None:
        raise TopicReadError(f"topic {topic} does not exist")
    snap = Snapshot(topic)
    try:
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            snap.start[p], snap.end[p] = int(low), int(high)
        if since_ms is not None:
            wanted = [TopicPartition(topic, p, since_ms) for p in parts]
            for tp in consumer.offsets_for_times(wanted, timeout):
                # no record at or after that time: nothing to read in this partition
                snap.start[tp.partition] = snap.end[tp.partition] if tp.offset < 0 else tp.offset
    except KafkaException as exc:
        raise TopicReadError(f"cannot read the offsets of {topic}: {exc}") from exc
    return snap


def iter_snapshot(
    consumer: Consumer,
    snap: Snapshot,
    *,
    max_records: int | None = None,
    timeout: float | None = None,
    batch_size: int = 10_000,
) -> Iterator[list[Message]]:
    """Batches of the snapshot's records (errors dropped), in fetch order per partition.

    Stops at the end offsets, after `max_records`, or raises TopicReadError at `timeout`."""
    pending = set(snap.pending)
    if not pending:
        return
    topic = snap.topic
    consumer.assign([TopicPartition(topic, p, snap.start[p]) for p in sorted(pending)])
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    while pending and (max_records is None or seen < max_records):
        if deadline is not None and time.monotonic() > deadline:
            raise TopicReadError(f"reading {topic} timed out after {seen} records")
        batch: list[Message] = []
        for msg in consumer.consume(batch_size, timeout=0.5):
            if msg.error() is not None:
                continue
            p, off = msg.partition() or 0, msg.offset() or 0
            if p not in pending or off >= snap.end[p]:
                continue
            batch.append(msg)
            if off + 1 >= snap.end[p]:
                pending.discard(p)
        if max_records is not None:
            batch = batch[: max_records - seen]
        seen += len(batch)
        # Transaction markers occupy offsets: a partition is done once its position passes
        # the end, even if its last offset holds no record.
        if pending:
            for tp in consumer.position([TopicPartition(topic, p) for p in sorted(pending)]):
                if tp.offset >= snap.end[tp.partition]:
                    pending.discard(tp.partition)
        if batch:
            yield batch


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    idle_s: float = 3.0,
    timeout: float = 120.0,
    read_committed: bool = True,
    since_ms: int | None = None,
    max_records: int | None = None,
    missing_ok: bool = False,
) -> list[Message]:
    """Records of `topic`: a bounded snapshot, or with `expect` a tail (see the module doc).

    A missing topic raises TopicReadError unless `missing_ok` (then: no records)."""
    consumer = reader_consumer(bootstrap, read_committed=read_committed)
    try:
        if expect is not None:
            return _tail(consumer, topic, expect, idle_s, timeout)
        try:
            snap = open_snapshot(consumer, topic, since_ms)
        except TopicReadError:
            if missing_ok and _partitions(consumer, topic, 10.0) is None:
                return []
            raise
        out: list[Message] = []
        for batch in iter_snapshot(consumer, snap, max_records=max_records, timeout=timeout):
            out.extend(batch)
        return out
    finally:
        consumer.close()


def _tail(consumer: Consumer, topic: str, expect: int, idle_s: float, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    parts = _partitions(consumer, topic, 10.0)
    while parts is None:  # the job that writes it may not have created it yet
        if time.monotonic() > deadline:
            raise TopicReadError(f"topic {topic} does not exist")
        time.sleep(0.2)
        parts = _partitions(consumer, topic, 10.0)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: list[Message] = []
    last = time.monotonic()
    while time.monotonic() < deadline:
        got = [m for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
        out.extend(got)
        if got:
            last = time.monotonic()
        elif len(out) >= expect and time.monotonic() - last > idle_s:
            break
    return out


__all__ = [
    "Snapshot",
    "TopicReadError",
    "iter_snapshot",
    "open_snapshot",
    "read_topic",
    "reader_consumer",
]
