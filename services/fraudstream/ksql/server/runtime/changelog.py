"""A stateful query's state in a compacted changelog topic: restored at start, written with
each batch, and undone (`StateJournal`) when a batch is read again, so an in-memory aggregate
never counts a record twice."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fraudstream.errors import KafkaUnavailableError, SerdeError
from fraudstream.kafka.admin import create_topics
from fraudstream.kafka.clients import admin_config, consumer_config
from fraudstream.kafka.delivery import InFlightBatch
from fraudstream.ksql.engine.state import (
    StateStore,
    changelog_entry,
    changelog_key,
    decode_state,
    encode_state,
)

log = logging.getLogger(__name__)

# (raw changelog key, its raw value before a batch; None: the key did not exist)
Undo = list[tuple[bytes, bytes | None]]


def group_has_offsets(bootstrap: str, group_id: str, timeout: float = 15.0) -> bool:
    """Whether the consumer group committed any offset: its query processed input before."""
    admin = AdminClient(admin_config(bootstrap))
    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout
    )
    try:
        res = futures[group_id].result(timeout=timeout + 5)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"committed offsets of {group_id}: {exc}") from exc
    return any(tp.offset >= 0 for tp in res.topic_partitions or [])


def changelog_topic(group_id: str) -> str:
    """The compacted topic holding a stateful query's state, named after ksqlDB's internal
    topics (`_confluent-ksql-<service id>query_<query id>-Aggregate-Materialize-changelog`)."""
    return f"{group_id}-Aggregate-Materialize-changelog"


class StateJournal:
    """A query's state stores and the image of them last written to its changelog.

    `drain()` returns the changes of a batch and its undo log (each changed key's value in
    the image before the batch); `undo(logs)` applies the undo logs of batches the ledger
    dropped, newest first; `rollback_pending()` reverts changes not yet drained (a batch
    paused midway). The image holds encoded values, so operators that mutate their state in
    place cannot alter what an undo returns to.
    """

    def __init__(self, stores: Iterable[StateStore]) -> None:
        self.stores = {s.name: s for s in stores}
        self.image: dict[bytes, bytes] = {}
        self.errors = 0
        for store in self.stores.values():
            store.track()

    def restore(self, raw_key: bytes, raw_value: bytes | None) -> bool:
        """Apply one changelog record (SerdeError if it does not decode); False if its store
        is not one of this query's."""
        name, key, value, deleted = changelog_entry(raw_key, raw_value)
        store = self.stores.get(name)
        if store is None:
            return False
        store.restore(key, value, deleted)
        self._image(raw_key, None if deleted else raw_value)
        return True

    def drain(self) -> tuple[list[tuple[bytes, bytes | None]], Undo]:
        """(changelog records of every key changed since the last drain, their undo log)."""
        entries: list[tuple[bytes, bytes | None]] = []
        undo: Undo = []
        for store in self.stores.values():
            for key, value, deleted in store.drain():
                try:
                    raw_key = changelog_key(store.name, key)
                    raw_value = None if deleted else encode_state(value)
                except SerdeError as exc:
                    self.errors += 1
                    log.warning("state changelog of %s: %s", store.name, exc)
                    continue
                undo.append((raw_key, self.image.get(raw_key)))
                self._image(raw_key, raw_value)
                entries.append((raw_key, raw_value))
        return entries, undo

    def rollback_pending(self) -> int:
        """Revert every key changed since the last drain to the image; returns how many."""
        n = 0
        for store in self.stores.values():
            if not store.dirty:
                continue
            for key in list(store.dirty):
                try:
                    prior = self.image.get(changelog_key(store.name, key))
                except SerdeError:  # never drained, so never in the image
                    prior = None
                self._set(store, key, prior)
                n += 1
            store.dirty.clear()
        return n

    def undo(self, logs: Iterable[Undo]) -> list[tuple[bytes, bytes | None]]:
        """Apply undo logs (newest batch first); returns the changelog records that put the
        topic back where the image is (the dropped batches' records may have been written)."""
        fixed: dict[bytes, bytes | None] = {}
        for undo in logs:
            for raw_key, prior in undo:
                name, key, _, _ = changelog_entry(raw_key, None)
                store = self.stores.get(name)
                if store is None:
                    continue
                self._set(store, key, prior)
                self._image(raw_key, prior)
                fixed[raw_key] = prior
        return list(fixed.items())

    @staticmethod
    def _set(store: StateStore, key: Any, raw: bytes | None) -> None:
        if raw is None:
            store.restore(key, None, True)
        else:
            store.restore(key, decode_state(raw), False)

    def _image(self, raw_key: bytes, raw_value: bytes | None) -> None:
        if raw_value is None:
            self.image.pop(raw_key, None)
        else:
            self.image[raw_key] = raw_value


class Changelog:
    """A stateful query's state stores, written to and restored from a compacted topic.

    After each batch the runtime `write()`s every changed key (latest value, or a tombstone
    for a deleted one, e.g. an evicted window) with that batch's outputs; the batch's
    offsets are committed only after both are acked. At start, `restore()` reads the topic to
    its end before the query consumes anything, so it resumes from the committed offsets with
    the state those offsets had. Compaction keeps the topic at one record per live key.
    Batches dropped by a delivery failure are undone (`undo_batches`) before they are read
    again, and the topic is put back with them.
    """

    def __init__(
        self, query: Any, bootstrap: str, topic: str, *, stop: threading.Event | None = None
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.stop = stop or threading.Event()
        self.journal = StateJournal(query.state_stores)
        admin = AdminClient(admin_config(bootstrap))
        create_topics(admin, [topic], partitions=1, config={"cleanup.policy": "compact"})

    @property
    def errors(self) -> int:
        return self.journal.errors

    def restore(self, timeout: float = 120.0) -> int:
        """Load the topic into the stores; returns the number of records read."""
        consumer = Consumer(
            consumer_config(self.bootstrap, f"{self.topic}-restore", enable_partition_eof=False)
        )
        count = 0
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, 0), timeout=10)
            if high <= low:
                return 0
            consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
            deadline = time.monotonic() + timeout
            next_offset = low
            while next_offset < high and not self.stop.is_set():
                if time.monotonic() > deadline:
                    raise KafkaUnavailableError(
                        f"state restore from {self.topic} timed out at offset {next_offset}"
                        f" of {high}"
                    )
                for msg in consumer.consume(num_messages=5000, timeout=0.5):
                    if msg.error() is not None:
                        continue
                    next_offset = int(msg.offset() or 0) + 1
                    try:
                        if self.journal.restore(msg.key() or b"", msg.value()):
                            count += 1
                    except SerdeError as exc:
                        self.journal.errors += 1
                        log.warning("state changelog %s: %s", self.topic, exc)
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
        log.info("restored %d state records from %s", count, self.topic)
        return count

    def write(
        self, producer: Producer, on_delivery: Callable[..., None] | None = None
    ) -> tuple[int, Undo]:
        """Produce every key changed since the last write; (how many, the batch's undo log).

        `on_delivery`: the batch's delivery callback (the state joins the batch's outputs)."""
        entries, undo = self.journal.drain()
        self._produce(producer, entries, on_delivery)
        return len(entries), undo

    def undo_batches(self, producer: Producer) -> Callable[[list[InFlightBatch[Undo]]], None]:
        """The ledger's `on_rewind`: undo the dropped batches' state (newest first) and write
        the restored values, so neither memory nor the topic keeps what will be redone."""

        def rewound(batches: list[InFlightBatch[Undo]]) -> None:
            fixed = self.journal.undo(b.payload for b in batches)
            self._produce(producer, fixed, None)
            if fixed:
                log.info("undid %d state keys of %d dropped batches", len(fixed), len(batches))

        return rewound

    def _produce(
        self,
        producer: Producer,
        entries: list[tuple[bytes, bytes | None]],
        on_delivery: Callable[..., None] | None,
    ) -> None:
        kw: dict[str, Any] = {} if on_delivery is None else {"on_delivery": on_delivery}
        for raw_key, raw_value in entries:
            while True:
                try:
                    producer.produce(self.topic, raw_value, raw_key, **kw)
                    break
                except BufferError:
                    producer.poll(0.05)

    def close(self) -> None:
        """Nothing held between writes; kept for symmetry with the other feeders."""
