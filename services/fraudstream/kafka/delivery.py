"""The one at-least-once delivery ledger for consume -> process -> produce loops.

A loop that turns input records into output records may store an input offset only once
every output made from it is acknowledged by the broker. The ledger keeps that promise:

- `open(msgs, payload)` records a consumed batch's offsets (first per partition, to re-read
  it; last + 1, to store); its outputs are produced with `batch.ack` as delivery callback
  and counted with `batch.expect(n)`;
- `track(batch)` queues it; `settle()` completes finished batches strictly in order: stores
  their offsets and calls `on_complete(batch)`; the first failed (or timed-out) batch rewinds
  the consumer to it and drops every later batch too, then raises `DeliveryFailedError`;
- `wait(timeout)` serves reports until nothing is in flight (a commit point), without
  failing a batch that is merely slow;
- `commit()` / `maybe_commit()` commit the stored offsets (on a cadence, on revoke, at stop);
- `rewind(msgs)` and `seek(offsets)`: the one way to seek back, only on assigned partitions;
  `on_rewind(batches)` hears which batches a failure dropped (newest first), so a caller
  with in-memory state (KSQL aggregates) can undo what those batches applied;
- `owned(msgs)`: the records of partitions still assigned (a rebalance callback may have
  revoked some while `consume()` was returning them);
- `commit_transaction(...)`: exactly-once's commit point, with the error handling of Kafka's
  transactional clients (retriable: call again; abortable: abort; fatal: give up).

Producers with `delivery.report.only.error` (no Python call per successful record) use
`acks="errors"`: a batch is acknowledged once the producer's queue is empty and no error was
reported for it (`len(producer) == 0` counts the undelivered reports too).

The ledger never touches a caller's metrics or logs of success: completion is a callback.
Offsets are stored with `store_offsets`, so consumers need `enable.auto.offset.store=false`
(the default of `consumer_config`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, NoReturn, Protocol, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from fraudstream.kafka.errors import (
    DeliveryFailedError,
    TransactionAbortedError,
    TransactionFatalError,
)

log = logging.getLogger(__name__)

P = TypeVar("P")
M = TypeVar("M", bound="MessageLike")
TP = tuple[str, int]


class MessageLike(Protocol):
    """What the ledger reads of a consumed record (a `confluent_kafka.Message`)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...


class ConsumerLike(Protocol):
    """The consumer calls the ledger makes (a `confluent_kafka.Consumer`)."""

    def seek(self, partition: TopicPartition) -> None: ...
    def store_offsets(self, *args: Any, **kwargs: Any) -> None: ...
    def commit(self, *args: Any, **kwargs: Any) -> Any: ...


class ProducerLike(Protocol):
    """The producer calls the ledger makes (a `confluent_kafka.Producer`)."""

    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...
    def __len__(self) -> int: ...


def backoff(attempt: int, cap: float = 30.0) -> float:
    """Seconds to wait before retry number `attempt` (0.5 s doubling, capped)."""
    return float(min(cap, 0.5 * 2 ** min(attempt, 10)))


def batch_offsets(
    msgs: Sequence[MessageLike], topic: str | None = None
) -> tuple[list[TopicPartition], list[TopicPartition]]:
    """Per partition of a consumed batch: its first offset (to re-read) and last + 1 (to store).

    Kafka returns a partition's records in offset order, so the first seen is the lowest.
    `topic`: the loop reads one topic only; skips a `topic()` call per record.
    """
    # dict(zip(...)) keeps the last value per key, at C speed: in order, the last offset;
    # reversed, the first.
    parts = [m.partition() or 0 for m in msgs]
    offs = [m.offset() or 0 for m in msgs]
    if topic is not None:
        last_p = dict(zip(parts, offs, strict=True))
        first_p = dict(zip(reversed(parts), reversed(offs), strict=True))
        return (
            [TopicPartition(topic, p, first_p[p]) for p in sorted(last_p)],
            [TopicPartition(topic, p, last_p[p] + 1) for p in sorted(last_p)],
        )
    keys = list(zip([m.topic() or "" for m in msgs], parts, strict=True))
    last = dict(zip(keys, offs, strict=True))
    first = dict(zip(reversed(keys), reversed(offs), strict=True))
    return (
        [TopicPartition(t, p, first[(t, p)]) for t, p in sorted(last)],
        [TopicPartition(t, p, last[(t, p)] + 1) for t, p in sorted(last)],
    )


def produce(producer: Any, topic: str, value: bytes | None, key: bytes | None, **kw: Any) -> None:
    """Produce one record; while the local queue is full, serve delivery reports and retry."""
    while True:
        try:
            producer.produce(topic, value, key, **kw)
            return
        except BufferError:
            producer.poll(0.05)


def produce_many(
    producer: Any,
    topic: str,
    values: Sequence[bytes],
    keys: Sequence[bytes | None],
    on_delivery: Callable[[Any, Any], None] | None = None,
) -> None:
    """Produce records in order with one `produce_batch` call (one `produce()` per record
    costs a Python call each); each record still gets its own delivery report, so a
    ledger's per-record acknowledgement is unchanged. A full local queue refuses a suffix
    of the list: serve delivery reports and retry that suffix, in order. Any other refusal
    raises `KafkaException` (as `produce()` would); records queued before it stay queued.
    """
    if not values:
        return
    if not hasattr(producer, "produce_batch"):  # a client without it: one call per record
        kw: dict[str, Any] = {} if on_delivery is None else {"on_delivery": on_delivery}
        for value, key in zip(values, keys, strict=True):
            produce(producer, topic, value, key, **kw)
        return
    msgs = [{"value": v, "key": k} for v, k in zip(values, keys, strict=True)]
    while True:
        queued = producer.produce_batch(topic, msgs, on_delivery=on_delivery)
        if queued == len(msgs):
            return
        failed = [m for m in msgs if "_error" in m]
        err = failed[0]["_error"]
        code = err.code() if isinstance(err, KafkaError) else None
        if code != KafkaError._QUEUE_FULL:
            raise KafkaException(err)
        # The queue is shared by every partition and only the caller's poll frees it: once
        # full, every later record of the call is refused too, so the retry is the tail.
        for m in failed:
            del m["_error"]
        msgs = failed
        producer.poll(0.05)


def seek(consumer: ConsumerLike, offsets: Mapping[TP, int], assigned: Iterable[TP]) -> None:
    """Seek each assigned partition to its offset; others belong to another member now."""
    owned = set(assigned)
    for (topic, part), off in sorted(offsets.items()):
        if (topic, part) not in owned:
            continue
        try:
            consumer.seek(TopicPartition(topic, part, off))
        except KafkaException as exc:  # revoked meanwhile: its new owner re-reads it
            log.warning("seek %s[%d]@%d failed: %s", topic, part, off, exc)


class InFlightBatch(Generic[P]):
    """One consumed batch whose outputs await acknowledgement; `payload` is the caller's."""

    __slots__ = ("done_at", "errors", "first", "left", "next", "payload", "size")

    def __init__(
        self, first: list[TopicPartition], nxt: list[TopicPartition], size: int, payload: P
    ) -> None:
        self.first = first
        self.next = nxt
        self.size = size
        self.payload = payload
        self.left = 0  # outputs produced and not yet acknowledged
        self.errors: list[str] = []
        self.done_at = 0.0  # wall time of the last acknowledgement

    def expect(self, outputs: int) -> None:
        """Count `outputs` more records produced with `ack` as their delivery callback."""
        self.left += outputs
        if self.left == 0:
            self.done_at = time.time()

    def ack(self, err: KafkaError | None, msg: Any) -> None:
        """Delivery callback for each of the batch's outputs."""
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")
        self.left -= 1
        if self.left == 0:
            self.done_at = time.time()

    @property
    def done(self) -> bool:
        return self.left <= 0 or bool(self.errors)


Complete = Callable[[InFlightBatch[P]], None]
Rewound = Callable[[list[InFlightBatch[P]]], None]


class DeliveryLedger(Generic[P]):
    """In-flight batches of one consumer/producer pair, completed in consumption order."""

    def __init__(
        self,
        consumer: ConsumerLike,
        producer: ProducerLike,
        *,
        on_complete: Complete[P] | None = None,
        on_rewind: Rewound[P] | None = None,
        delivery_timeout_s: float = 30.0,
        commit_interval_s: float = 1.0,
        max_inflight_events: int = 100_000,
        max_inflight_batches: int = 4096,
        acks: Literal["each", "errors"] = "each",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.on_complete = on_complete
        self.on_rewind = on_rewind
        self.delivery_timeout_s = delivery_timeout_s
        self.commit_interval_s = commit_interval_s
        self.max_inflight_events = max_inflight_events
        self.max_inflight_batches = max_inflight_batches
        self.errors_only = acks == "errors"
        self.assigned: set[TP] = set()
        self._clock = clock
        self._inflight: deque[InFlightBatch[P]] = deque()
        self._inflight_events = 0
        self._uncommitted = False
        self._next_commit = clock()

    # ------------------------------------------------------------------ state
    @property
    def inflight(self) -> int:
        """Batches produced and not yet completed."""
        return len(self._inflight)

    @property
    def inflight_events(self) -> int:
        return self._inflight_events

    @property
    def uncommitted(self) -> bool:
        """Offsets were stored since the last commit."""
        return self._uncommitted

    def open(
        self, msgs: Sequence[MessageLike], payload: P, topic: str | None = None
    ) -> InFlightBatch[P]:
        """A batch for `msgs` (not yet tracked: produce its outputs, then `track` it)."""
        first, nxt = batch_offsets(msgs, topic)
        return InFlightBatch(first, nxt, len(msgs), payload)

    def track(self, batch: InFlightBatch[P]) -> None:
        """Queue a batch whose outputs are produced; block while too much is in flight."""
        self._inflight.append(batch)
        self._inflight_events += batch.size
        self.producer.poll(0)
        over = (
            self._inflight_events > self.max_inflight_events
            or len(self._inflight) > self.max_inflight_batches
        )
        self.settle(block=over)

    # ------------------------------------------------------------------ completion
    def settle(self, block: bool = False, timeout: float | None = None) -> None:
        """Complete finished batches in order; rewind and raise on the first failed one.

        `block`: serve delivery reports until at least the oldest batch is done; `timeout`:
        until all of them are. A batch still unacknowledged after `delivery_timeout_s` (or
        `timeout`) fails. Raises `DeliveryFailedError` after rewinding the consumer.
        """
        drain_all = timeout is not None
        limit = self.delivery_timeout_s if timeout is None else timeout
        deadline = self._clock() + limit
        if self.errors_only and self._inflight:
            if block or drain_all:
                self.producer.flush(limit)
            self._acked_by_silence()
        while self._inflight:
            head = self._inflight[0]
            if not head.done:
                if not (block or drain_all):
                    return
                if self._clock() >= deadline:
                    head.errors.append(f"{head.left} outputs unacknowledged after {limit:.0f}s")
                else:
                    self.producer.poll(0.01)
                    continue
            self._inflight.popleft()
            self._inflight_events -= head.size
            if head.errors:
                self._fail(head)  # raises
            self._complete(head)
            block = False

    def _acked_by_silence(self) -> None:
        """Errors-only reports: with the producer's queue empty (undelivered reports count
        in its length), every batch without a reported error is acknowledged."""
        if len(self.producer) != 0:
            return
        now = time.time()
        for batch in self._inflight:
            if not batch.errors and batch.left > 0:
                batch.left = 0
                batch.done_at = now

    def wait(self, timeout: float) -> bool:
        """Serve delivery reports for up to `timeout` s, completing finished batches.

        True once nothing is in flight. A batch still waiting is not failed here (the
        producer's own message timeout decides); a failed one rewinds and raises."""
        deadline = self._clock() + timeout
        while True:
            remaining = max(deadline - self._clock(), 0.0)
            if self.errors_only:
                self.producer.flush(min(remaining, 1.0))
            else:
                self.producer.poll(min(remaining, 0.01))
            self.settle()
            if not self._inflight:
                return True
            if self._clock() >= deadline:
                return False

    def drain(self, timeout: float | None = None) -> bool:
        """Complete every in-flight batch (before a commit); False if one failed."""
        if not self._inflight:
            return True
        try:
            self.settle(timeout=self.delivery_timeout_s if timeout is None else timeout)
        except DeliveryFailedError as exc:
            log.warning("in-flight outputs failed while draining (%s); not committed", exc)
            return False
        return True

    def complete_untracked(self, batch: InFlightBatch[P]) -> None:
        """Report a batch whose offsets were committed another way (a transaction)."""
        batch.done_at = batch.done_at or time.time()
        if self.on_complete is not None:
            self.on_complete(batch)

    def _complete(self, batch: InFlightBatch[P]) -> None:
        try:
            self.consumer.store_offsets(offsets=batch.next)
            self._uncommitted = True
        except KafkaException as exc:  # partition revoked meanwhile: its new owner redoes it
            log.warning("could not store offsets %s: %s", format_partitions(batch.next), exc)
        if self.on_complete is not None:
            self.on_complete(batch)

    def _fail(self, head: InFlightBatch[P]) -> NoReturn:
        """Rewind every partition to the oldest unacknowledged batch; drop them all."""
        offsets: dict[TP, int] = {}
        dropped = [head, *self._inflight]
        for batch in dropped:
            for tp in batch.first:
                key = (tp.topic, tp.partition)
                offsets[key] = min(offsets.get(key, tp.offset), tp.offset)
        self._inflight.clear()
        self._inflight_events = 0
        if self.on_rewind is not None:
            self.on_rewind(dropped[::-1])
        seek(self.consumer, offsets, self.assigned)
        raise DeliveryFailedError(
            f"{len(head.errors)} outputs failed (first: {head.errors[0]}); rewound", head.errors
        )

    def owned(self, msgs: Sequence[M]) -> list[M]:
        """The records of `msgs` whose partitions are still assigned: a revoke callback runs
        inside `consume()`, which may still return records fetched for the revoked
        partitions; their new owner processes them, so this member must not."""
        assigned = self.assigned
        return [m for m in msgs if (m.topic() or "", m.partition() or 0) in assigned]

    def rewind(self, msgs: Sequence[MessageLike]) -> None:
        """Seek back to the first offset, per partition, of a batch that failed to produce."""
        first, _ = batch_offsets(msgs)
        seek(self.consumer, {(tp.topic, tp.partition): tp.offset for tp in first}, self.assigned)

    # ------------------------------------------------------------------ commits
    def maybe_commit(self) -> bool:
        """Commit the stored offsets asynchronously if the commit interval has passed."""
        now = self._clock()
        if now < self._next_commit:
            return False
        self._next_commit = now + self.commit_interval_s
        self.commit(asynchronous=True)
        return True

    def commit(self, asynchronous: bool = False, *, quiet: bool = False) -> str | None:
        """Commit the stored offsets; returns why it failed (None: committed, or nothing was
        stored since the last commit). Logged unless `quiet` (the caller logs it)."""
        try:
            self.consumer.commit(asynchronous=asynchronous)
            self._uncommitted = False
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError._NO_OFFSET:
                self._uncommitted = False
                return None
            if not quiet:
                log.warning("offset commit failed: %s", exc)
            return str(exc)
        return None

    # ------------------------------------------------------------------ rebalance
    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self.assigned.update((p.topic, p.partition) for p in partitions)

    def revoke(self, partitions: Iterable[TopicPartition], *, commit: bool = True) -> None:
        """Hand partitions over: finish what is in flight and commit it first."""
        if commit:
            self.drain()
            self.commit(asynchronous=False)
        self.assigned.difference_update((p.topic, p.partition) for p in partitions)

    def lose(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions lost without a handover: nothing may be committed for them."""
        self.assigned.difference_update((p.topic, p.partition) for p in partitions)

    def clear(self) -> None:
        """Forget everything in flight and assigned (the clients are being closed)."""
        self._inflight.clear()
        self._inflight_events = 0
        self.assigned.clear()


class TransactionalProducer(Protocol):
    """The transactional calls of a `confluent_kafka.Producer`."""

    def send_offsets_to_transaction(self, offsets: Any, metadata: Any, timeout: float) -> None: ...
    def commit_transaction(self, timeout: float) -> None: ...
    def abort_transaction(self, timeout: float) -> None: ...


class GroupConsumer(Protocol):
    def consumer_group_metadata(self) -> Any: ...


def _kafka_error(exc: KafkaException) -> KafkaError | None:
    err = exc.args[0] if exc.args else None
    return err if isinstance(err, KafkaError) else None


def commit_transaction(
    producer: TransactionalProducer,
    consumer: GroupConsumer,
    offsets: list[TopicPartition],
    *,
    timeout_s: float = 30.0,
    give_up_s: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Add the input `offsets` to the open transaction and commit it, as Kafka's
    transactional clients require (librdkafka `rd_kafka_commit_transaction`, Java
    `KafkaProducer.commitTransaction`):

    - a retriable error (a timeout: the commit may have gone through and goes on in the
      background) -> call the same function again; never abort: an abort after a commit
      that went through is refused, and a rewind would write the batch a second time;
    - an abortable error (`txn_requires_abort`: fenced consumer generation, a failed
      output) -> abort; raises `TransactionAbortedError` (the caller rewinds its input);
    - a fatal error, or still ambiguous after `give_up_s` -> `TransactionFatalError`
      (only a new producer can go on; its `init_transactions` settles the old one).
    """
    deadline = clock() + give_up_s
    metadata = consumer.consumer_group_metadata()
    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "send_offsets_to_transaction",
            lambda: producer.send_offsets_to_transaction(offsets, metadata, timeout_s),
        ),
        ("commit_transaction", lambda: producer.commit_transaction(timeout_s)),
    ]
    for name, step in steps:
        while True:
            try:
                step()
                break
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or err.fatal():
                    raise TransactionFatalError(f"{name}: {exc}") from exc
                if err.txn_requires_abort():
                    abort_transaction(producer, timeout_s)
                    raise TransactionAbortedError(f"{name}: {exc}; aborted") from exc
                if not err.retriable() or clock() >= deadline:
                    raise TransactionFatalError(f"{name}: {exc} (outcome unknown)") from exc
                log.warning("%s: %s; retrying the same call", name, exc)


def abort_transaction(producer: TransactionalProducer, timeout_s: float = 30.0) -> None:
    """Abort the open transaction (TransactionFatalError if the producer cannot)."""
    try:
        producer.abort_transaction(timeout_s)
    except KafkaException as exc:
        err = _kafka_error(exc)
        if err is None or err.fatal() or not err.retriable():
            raise TransactionFatalError(f"abort_transaction: {exc}") from exc
        producer.abort_transaction(timeout_s)


def format_partitions(tps: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in tps) or "(none)"


__all__ = [
    "ConsumerLike",
    "DeliveryFailedError",
    "DeliveryLedger",
    "InFlightBatch",
    "MessageLike",
    "ProducerLike",
    "TransactionAbortedError",
    "TransactionFatalError",
    "abort_transaction",
    "backoff",
    "batch_offsets",
    "commit_transaction",
    "format_partitions",
    "produce",
    "produce_many",
    "seek",
]
