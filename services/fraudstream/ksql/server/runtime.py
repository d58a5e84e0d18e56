"""Persistent and push queries as consume -> process -> produce loops on the real broker.

The engine's queries are pure (`process(InRecord) -> list[OutRecord]`); this module feeds them
from Kafka. Each persistent query has its own consumer group (named like ksqlDB's,
`_confluent-ksql-<service id>query_<query id>`) and commits a batch's offsets only after every
output record of that batch is acknowledged by the broker: at-least-once, so a restarted
server resumes where the last committed batch ended. Records that fail to process are written
to the processing-log topic and counted; the loop never dies on a bad record.

A *transient* failure (`TransientError`: the Schema Registry or the broker did not answer)
is not a bad record: the query pauses on the batch (its outputs are not produced, its state
changes are rolled back, the consumer is rewound to it, nothing is committed) and tries it
again with backoff until the dependency answers. A batch read again after a delivery failure
is undone first too (`StateJournal`), so in-memory aggregates never count a record twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fraudstream.errors import KafkaUnavailableError, SerdeError, TransientError
from fraudstream.kafka.admin import create_topics
from fraudstream.kafka.clients import admin_config, consumer_config, producer_config
from fraudstream.kafka.delivery import DeliveryLedger, InFlightBatch, backoff
from fraudstream.kafka.errors import DeliveryFailedError
from fraudstream.ksql.engine.state import (
    MaterializedTable,
    StateStore,
    changelog_entry,
    changelog_key,
    decode_state,
    encode_state,
)

log = logging.getLogger(__name__)

ProcessingLogSink = Callable[[dict[str, Any]], None]
# (raw changelog key, its raw value before a batch; None: the key did not exist)
Undo = list[tuple[bytes, bytes | None]]


def query_group_id(service_id: str, query_id: str) -> str:
    """ksqlDB's consumer group name for a persistent query."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def _engine_records() -> tuple[Any, Any]:
    from fraudstream.ksql.engine.engine import InRecord, OutRecord

    return InRecord, OutRecord


def entry_to_dict(entry: Any) -> dict[str, Any]:
    """A processing-log entry (dataclass, pydantic model, dict or text) as a JSON-able dict."""
    if isinstance(entry, dict):
        return dict(entry)
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return dataclasses.asdict(entry)
    for attr in ("to_dict", "model_dump", "as_dict"):
        fn = getattr(entry, attr, None)
        if callable(fn):
            return dict(fn())
    return {"message": str(entry)}


def processing_log_record(query_id: str, entry: Any, *, level: str = "ERROR") -> dict[str, Any]:
    """ksqlDB's processing-log message shape (logger, level, time, message{type, ...})."""
    body = entry_to_dict(entry)
    kind = str(body.get("type", body.get("kind", "RECORD_PROCESSING_ERROR")))
    message = str(body.get("message", body.get("errorMessage", "")))
    record = body.get("record")
    if isinstance(record, bytes):
        record = record.decode("utf-8", "replace")
    return {
        "LOGGER": f"processing.{query_id}",
        "LEVEL": level,
        "TIME": int(time.time() * 1000),
        "MESSAGE": {
            "TYPE": kind,
            "ERRORMESSAGE": message,
            "RECORD": None if record is None else str(record),
            "TOPIC": body.get("topic"),
            "PARTITION": body.get("partition"),
            "OFFSET": body.get("offset"),
        },
    }


@dataclasses.dataclass
class RunnerStats:
    """Counters one query's loop keeps (read by LIST QUERIES / DESCRIBE and the tests)."""

    consumed: int = 0
    produced: int = 0
    processing_errors: int = 0
    delivery_errors: int = 0
    transient_errors: int = 0  # batches paused on an unreachable registry/broker
    restored: int = 0  # state changelog records read back at start
    last_error: str | None = None
    state: str = "PENDING"


class QueryRunner:
    """Runs one persistent query in a daemon thread until `stop()`."""

    def __init__(
        self,
        query: Any,
        *,
        bootstrap: str,
        group_id: str,
        table_topics: Iterable[str] = (),
        processing_log: ProcessingLogSink | None = None,
        batch_size: int = 5000,
        poll_timeout: float = 0.2,
        commit_interval: float = 1.0,
    ) -> None:
        self.query = query
        self.query_id: str = str(query.id)
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.table_topics = [t for t in table_topics if t in list(query.source_topics)]
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.commit_interval = commit_interval
        # stateful queries keep their state in a compacted changelog topic
        self.changelog_topic: str | None = (
            changelog_topic(group_id) if getattr(query, "state_stores", None) else None
        )
        self.stats = RunnerStats()
        self._processing_log = processing_log
        self._last_warning = 0.0
        self._paused = False  # the last batch hit a transient failure: read it again
        self._attempt = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ksql-query-{self.query_id}", daemon=True
        )
        with contextlib.suppress(AttributeError, TypeError):
            query.on_error = self._on_error

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once the consumer subscribed (tables bootstrapped)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the loop -------------------------------------------------------------------------

    def _on_error(self, entry: Any) -> None:
        self.stats.processing_errors += 1
        body = entry_to_dict(entry)
        self.stats.last_error = str(body.get("message", body))[:500]
        if self._processing_log is not None:
            try:
                self._processing_log(processing_log_record(self.query_id, entry))
            except Exception:  # never let the log break the query
                log.exception("query %s: could not write the processing log", self.query_id)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # the query stops, the server keeps running
            self.stats.state = "ERROR"
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("query %s failed", self.query_id)
        finally:
            self._ready.set()

    def _loop(self) -> None:
        in_record, _ = _engine_records()
        # Delivery reports only for failures: no Python callback per successful record; the
        # ledger takes a batch as acknowledged once the producer's queue is empty without an
        # error reported for it.
        conf = producer_config(self.bootstrap, linger_ms=10)
        conf["delivery.report.only.error"] = True
        producer = Producer(conf)

        changelog: Changelog | None = None
        if self.changelog_topic is not None:
            changelog = Changelog(self.query, self.bootstrap, self.changelog_topic, stop=self._stop)
            self.stats.restored = changelog.restore()
            table = getattr(self.query, "materialized", None)
            if isinstance(table, MaterializedTable):
                table.begin(
                    processed_before=self.stats.restored > 0
                    or group_has_offsets(self.bootstrap, self.group_id)
                )

        stream_topics, feeder = _start_feeder(
            self.query, self.table_topics, self.bootstrap, self.group_id, in_record, self._stop
        )
        consumer = Consumer(
            consumer_config(
                self.bootstrap,
                self.group_id,
                fetch_max_bytes=52_428_800,
                queued_min_messages=100_000,
                # A crashed server's membership expires in 10 s (default 45 s), so a
                # restarted one gets the partitions back quickly; a clean stop leaves at once.
                session_timeout_ms=10_000,
                heartbeat_interval_ms=2_000,
            )
        )
        # Batches are acknowledged at commit points (every `commit_interval` s, or when
        # idle): the broker's acks overlap with processing the next batches. No ledger
        # limit or timeout fires before librdkafka's own message timeout (300 s).
        ledger: DeliveryLedger[Undo] = DeliveryLedger(
            consumer,
            producer,
            on_rewind=None if changelog is None else changelog.undo_batches(producer),
            acks="errors",
            delivery_timeout_s=300.0,
            commit_interval_s=self.commit_interval,
            max_inflight_events=10**9,
            max_inflight_batches=10**9,
        )
        consumer.subscribe(
            stream_topics,
            on_assign=lambda _c, parts: ledger.assign(parts),
            # no commit on revoke: whatever was not committed is processed again by the
            # partition's next owner (at-least-once)
            on_revoke=lambda _c, parts: ledger.revoke(parts, commit=False),
            on_lost=lambda _c, parts: ledger.lose(parts),
        )
        self.stats.state = "RUNNING"
        self._ready.set()
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    msgs = consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
                except KafkaException as exc:  # broker gone for a while: wait, never die
                    self._warn(f"consume failed: {exc}")
                    time.sleep(0.5)
                    continue
                if msgs:
                    self._batch(msgs, ledger, producer, feeder, changelog, in_record)
                    if self._paused:
                        self._pause()
                        continue
                    if time.monotonic() - last_commit < self.commit_interval:
                        continue
                elif not (ledger.inflight or ledger.uncommitted):
                    producer.poll(0)
                    continue
                committed = self._commit_point(ledger)
                if committed is None:
                    return  # stopped while the broker was unreachable: nothing committed
                if committed:
                    last_commit = time.monotonic()
        finally:
            self._close(ledger, consumer, feeder, changelog)

    def _batch(
        self,
        msgs: list[Message],
        ledger: DeliveryLedger[Undo],
        producer: Producer,
        feeder: TableFeeder | None,
        changelog: Changelog | None,
        in_record: Any,
    ) -> None:
        """Process one consumed batch; its outputs and state changes join the ledger.

        A transient failure midway pauses the query on this batch (`_paused`): nothing of it
        is produced, its state changes are rolled back and the consumer re-reads it."""
        good: list[Message] = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                self._warn(f"consume error: {err}")
        good = ledger.owned(good)
        self.stats.consumed += len(msgs)
        if not good:
            return
        try:
            if feeder is not None:  # the table side first: joins see every earlier update
                try:
                    feeder.catch_up()
                except KafkaException as exc:
                    self._warn(f"table catch-up failed: {exc}")
            outs = self._process(good, in_record)
        except TransientError as exc:
            if changelog is not None:
                changelog.journal.rollback_pending()
            ledger.rewind(good)
            self.stats.transient_errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
            self._warn(f"paused on a batch of {len(good)} ({exc}); nothing committed")
            self._paused = True
            return
        self._paused = False
        self._attempt = 0
        batch = ledger.open(good, [])
        produced = self._produce_all(outs, batch, producer)
        self.stats.produced += produced
        if changelog is not None:
            written, batch.payload = changelog.write(producer, on_delivery=batch.ack)
            produced += written
        batch.expect(produced)
        try:
            ledger.track(batch)
        except DeliveryFailedError as exc:  # an earlier batch failed: rewound (and undone)
            self._delivery_failed(exc)

    def _pause(self) -> None:
        """Wait before reading the paused batch again (0.5 s doubling, at most 10 s)."""
        self._stop.wait(backoff(self._attempt, cap=10.0))
        self._attempt += 1

    def _process(self, msgs: list[Message], in_record: Any) -> list[Any]:
        """Run each record through the query; its outputs, in order. Raises TransientError
        (the batch pauses) when the registry or the broker did not answer."""
        process = self.query.process
        outs: list[Any] = []
        for msg in msgs:
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            rec = in_record(
                topic, msg.key(), msg.value(), msg.timestamp()[1], partition, offset,
                msg.headers() or (),
            )  # fmt: skip
            try:
                outs.extend(process(rec))
            except TransientError:
                raise
            except Exception as exc:  # engine contract: should not raise; be safe
                self._on_error(
                    {
                        "type": "RECORD_PROCESSING_ERROR",
                        "message": f"{type(exc).__name__}: {exc}",
                        "topic": topic,
                        "partition": partition,
                        "offset": offset,
                    }
                )
        return outs

    def _produce_all(self, outs: list[Any], batch: InFlightBatch[Undo], producer: Producer) -> int:
        """Produce a processed batch's outputs with the batch's delivery callback."""
        produce = producer.produce
        ack = batch.ack
        produced = 0
        for out in outs:
            if not out.headers:
                try:
                    produce(
                        out.topic, out.value, out.key, timestamp=out.timestamp or 0,
                        on_delivery=ack,
                    )  # fmt: skip
                    produced += 1
                    continue
                except BufferError:
                    pass
            if self._produce(producer, out, ack):
                produced += 1
            else:  # stopped with the local queue full: the batch must not be stored
                batch.errors.append(f"{out.topic}: not produced before stop")
        return produced

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        self.stats.delivery_errors += max(len(exc.errors), 1)
        self.stats.last_error = exc.errors[-1] if exc.errors else str(exc)
        self._warn(f"delivery failed: {self.stats.last_error}")

    def _commit_point(self, ledger: DeliveryLedger[Undo]) -> bool | None:
        """Wait for every output's ack, then commit the stored offsets.

        None: stopped before the broker answered; False: a delivery failed (the ledger
        rewound to the failed batch, which is read again); True: committed."""
        try:
            while not ledger.wait(1.0):
                if self._stop.is_set():
                    return None
        except DeliveryFailedError as exc:
            self._delivery_failed(exc)
            time.sleep(0.5)
            return False
        failed = ledger.commit(asynchronous=False, quiet=True)
        if failed is not None:  # the next commit covers these offsets
            self._warn(f"commit failed: {failed}")
        return True

    def _close(
        self,
        ledger: DeliveryLedger[Undo],
        consumer: Consumer,
        feeder: TableFeeder | None,
        changelog: Changelog | None,
    ) -> None:
        # A clean stop commits what it processed, so a restart neither skips nor repeats;
        # only acknowledged batches have stored offsets, so this never commits past a loss.
        with contextlib.suppress(DeliveryFailedError):
            ledger.wait(5.0)
        failed = ledger.commit(asynchronous=False, quiet=True)
        if failed is not None:
            self._warn(f"commit failed: {failed}")
        with contextlib.suppress(KafkaException, RuntimeError):
            consumer.close()
        ledger.clear()
        if feeder is not None:
            feeder.close()
        if changelog is not None:
            changelog.close()
        if self.stats.state == "RUNNING":
            self.stats.state = "TERMINATED"

    def _warn(self, message: str) -> None:
        """Log at most one warning every 10 s per query (an outage is not a log flood)."""
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            log.warning("query %s: %s", self.query_id, message)
            self._last_warning = now

    def _produce(self, producer: Producer, out: Any, ack: Callable[..., None]) -> bool:
        """The slow path: records with headers, or a full local queue (wait and retry).

        False if stopped while the local queue stayed full (the record was not produced)."""
        headers = list(out.headers) if out.headers else None
        while True:
            try:
                producer.produce(
                    out.topic,
                    value=out.value,
                    key=out.key,
                    timestamp=int(out.timestamp or 0),
                    headers=headers,
                    on_delivery=ack,
                )
                return True
            except BufferError:
                if self._stop.is_set():
                    return False
                producer.poll(0.05)


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


class TableFeeder:
    """Keeps the table side of a stream-table join current, ahead of the stream side.

    The table topics are read by their own consumer (no group: a table is rebuilt from its
    topic at every start, like a ksqlDB state store restored from its changelog). Before each
    batch of stream records, `catch_up()` reads the table topics to their end *as of now*:
    every table update written before those stream records were fetched is applied before
    they are joined, whatever order the broker's fetches return topics in.
    """

    def __init__(
        self,
        query: Any,
        topics: Iterable[str],
        *,
        bootstrap: str,
        group_id: str,
        in_record: Any,
        stop: threading.Event,
    ) -> None:
        self.query = query
        self.in_record = in_record
        self.stop = stop
        self.consumer = Consumer(consumer_config(bootstrap, f"{group_id}-table"))
        md = self.consumer.list_topics(timeout=10)
        self.partitions = [
            (t, p) for t in topics if t in md.topics for p in sorted(md.topics[t].partitions)
        ]
        self.next: dict[tuple[str, int], int] = {tp: 0 for tp in self.partitions}
        self.consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in self.partitions])
        self.applied = 0

    def catch_up(self, timeout: float = 60.0) -> int:
        """Apply table records up to the current end of every table partition."""
        ends: dict[tuple[str, int], int] = {}
        for t, p in self.partitions:
            low, high = self.consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            self.next[(t, p)] = max(self.next[(t, p)], low)
            if high > self.next[(t, p)]:
                ends[(t, p)] = high
        count = 0
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline and not self.stop.is_set():
            for msg in self.consumer.consume(num_messages=5000, timeout=0.2):
                if msg.error() is not None:
                    continue
                tp = (str(msg.topic()), int(msg.partition() or 0))
                offset = int(msg.offset() or 0)
                rec = self.in_record(
                    tp[0], msg.key(), msg.value(), msg.timestamp()[1], tp[1], offset, ()
                )
                try:
                    self.query.process(rec)
                except TransientError:  # registry/broker down: read it again later
                    self.next[tp] = offset
                    self._rewind()
                    self.applied += count
                    raise
                except Exception:  # errors reach the query's on_error
                    pass
                count += 1
                self.next[tp] = offset + 1
                if tp in ends and self.next[tp] >= ends[tp]:
                    del ends[tp]
        self.applied += count
        return count

    def _rewind(self) -> None:
        """Seek every table partition back to its next unapplied record (what the last
        consume() returned beyond it is read again, not skipped)."""
        for (t, p), off in self.next.items():
            with contextlib.suppress(KafkaException):
                self.consumer.seek(TopicPartition(t, p, off))

    def close(self) -> None:
        with contextlib.suppress(KafkaException, RuntimeError):
            self.consumer.close()


def _start_feeder(
    query: Any,
    table_topics: list[str],
    bootstrap: str,
    group_id: str,
    in_record: Any,
    stop: threading.Event,
) -> tuple[list[str], TableFeeder | None]:
    """The topics to consume as streams, and for a stream-table join the caught-up table feeder."""
    stream_topics = [t for t in query.source_topics if t not in table_topics]
    if not (table_topics and stream_topics):
        return list(query.source_topics), None
    feeder = TableFeeder(
        query, table_topics, bootstrap=bootstrap, group_id=group_id, in_record=in_record, stop=stop
    )
    attempt = 0
    while not stop.is_set():  # a table read as empty would make every join miss: wait
        try:
            feeder.catch_up()
            break
        except TransientError as exc:
            delay = backoff(attempt, cap=10.0)
            log.warning("table catch-up paused (%s); retrying in %.1fs", exc, delay)
            attempt += 1
            stop.wait(delay)
    return stream_topics, feeder


class PushQueryRunner:
    """A transient `SELECT ... EMIT CHANGES` read from Kafka; rows go to a callback.

    No committed offsets (a fresh group each time); `auto.offset.reset` decides where it
    starts: ksqlDB's default is `latest`, `earliest` reads the topics from the beginning.
    """

    def __init__(
        self,
        query: Any,
        *,
        bootstrap: str,
        group_id: str,
        offset_reset: str = "latest",
        table_topics: Iterable[str] = (),
    ) -> None:
        self.query = query
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.offset_reset = offset_reset
        self.table_topics = [t for t in table_topics if t in list(query.source_topics)]
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self, emit: Callable[[Any], bool]) -> None:
        """Consume until stopped or `emit` returns False (e.g. the LIMIT is reached)."""
        in_record, _ = _engine_records()
        stream_topics, feeder = _start_feeder(
            self.query, self.table_topics, self.bootstrap, self.group_id, in_record, self._stop
        )
        consumer = Consumer(
            consumer_config(
                self.bootstrap,
                self.group_id,
                auto_offset_reset=self.offset_reset,
                enable_partition_eof=False,
            )
        )
        consumer.subscribe(stream_topics)
        # Rows (column lists) when the engine offers them, else output records.
        process = getattr(self.query, "process_rows", None) or self.query.process
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=0.2)
                if msgs and feeder is not None:
                    feeder.catch_up()
                for msg in msgs:
                    if msg.error() is not None:
                        continue
                    rec = in_record(
                        msg.topic(),
                        msg.key(),
                        msg.value(),
                        msg.timestamp()[1],
                        msg.partition(),
                        msg.offset(),
                        tuple(msg.headers() or ()),
                    )
                    try:
                        outs = process(rec)
                    except Exception:
                        log.exception("push query: record failed")
                        continue
                    for out in outs:
                        if not emit(out):
                            self._stop.set()
                            return
                    if getattr(self.query, "done", False):
                        self._stop.set()
                        return
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            if feeder is not None:
                feeder.close()


def encode_log_record(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


# ------------------------------------------------------------------------ shared runtimes

# Kafka's default `offset.metadata.max.bytes`: a commit whose metadata is longer is refused.
_MAX_COMMIT_METADATA = 4096


def shared_group_id(service_id: str, topics: Iterable[str]) -> str:
    """The consumer group of the queries sharing one consumer of `topics` (ksqlDB's shared
    runtimes name theirs after the service id too: `_confluent-ksql-<id>-shared-...`)."""
    return f"_confluent-ksql-{service_id}shared_{'+'.join(sorted(topics))}"


def shareable(query: Any, table_topics: Iterable[str]) -> bool:
    """Whether a persistent query can run in a shared runtime: no state stores (a paused or
    rewound batch needs no changelog undo; a stream-stream join's window has none either
    way) and no table side to keep caught up."""
    tables = set(table_topics)
    return not getattr(query, "state_stores", None) and not any(
        t in tables for t in query.source_topics
    )


def share_groups(
    queries: dict[str, Any], table_topics: Iterable[str]
) -> dict[frozenset[str], tuple[str, ...]]:
    """The shared runtimes to run: stateless queries grouped by the topics they read, two
    or more per group, as many (in id order) as fit one commit's metadata."""
    tables = list(table_topics)
    by_topics: dict[frozenset[str], list[str]] = {}
    for qid in sorted(queries):
        q = queries[qid]
        if shareable(q, tables):
            by_topics.setdefault(frozenset(q.source_topics), []).append(qid)
    out: dict[frozenset[str], tuple[str, ...]] = {}
    for topics, ids in by_topics.items():
        fit: list[str] = []
        for qid in ids:  # {"<id>": <offset>} per member: at most ~30 bytes beyond the id
            if len(orjson.dumps({q: 2**63 - 1 for q in [*fit, qid]})) > _MAX_COMMIT_METADATA:
                break
            fit.append(qid)
        if len(fit) >= 2:
            out[topics] = tuple(fit)
    return out


class SharedMember:
    """One query of a shared runtime, as LIST QUERIES / DESCRIBE / the service see it."""

    changelog_topic: str | None = None

    def __init__(self, runtime: SharedQueryRunner, query: Any, group_id: str) -> None:
        self.runtime = runtime
        self.query = query
        self.query_id: str = str(query.id)
        self.group_id = group_id  # its own group: where it committed before it was shared
        self.stats = RunnerStats()
        # per assigned partition: the first offset this query processes (its own position)
        self.start: dict[tuple[str, int], int] = {}
        # per assigned partition: the offset up to which its outputs are acknowledged
        self.acked: dict[tuple[str, int], int] = {}

    def stop(self, timeout: float = 30.0) -> None:
        self.runtime.stop(timeout)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        return self.runtime.wait_ready(timeout)

    @property
    def alive(self) -> bool:
        return self.runtime.alive

    def on_error(self, entry: Any) -> None:
        self.stats.processing_errors += 1
        body = entry_to_dict(entry)
        self.stats.last_error = str(body.get("message", body))[:500]
        sink = self.runtime.processing_log
        if sink is not None:
            try:
                sink(processing_log_record(self.query_id, entry))
            except Exception:  # never let the log break the query
                log.exception("query %s: could not write the processing log", self.query_id)


class SharedQueryRunner:
    """Stateless persistent queries reading the same topics, fed by ONE consumer.

    Each source record is consumed once, wrapped in one `InRecord` (its decoded value is
    memoized on it, so queries with the same source decode it once) and handed to every
    member; the outputs of all members join one ledger batch, and the batch's offsets are
    committed only after every output is acknowledged (at-least-once, as `QueryRunner`).

    Every member keeps its own position: the group's commit per partition is the lowest
    member position, and the metadata of that commit holds each member's own
    (`{"<query id>": offset}`); a member processes a record only from its own position on,
    so a query joining the runtime later, or one that was ahead, neither replays nor skips.
    A member with no recorded position starts where its own per-query group committed (a
    server upgraded from one consumer per query resumes exactly), else from the earliest
    offset, as a new persistent query does. A clean stop writes each member's position back
    to its own group too, so a member that runs alone again (a sibling terminated) resumes.

    A transient failure of any member (registry down) pauses the whole batch: nothing of it
    is produced, the consumer is rewound, and it is read again with backoff. Members are
    fixed for the runner's life: the service replaces the runner when they change.
    """

    def __init__(
        self,
        queries: Iterable[Any],
        *,
        bootstrap: str,
        group_id: str,
        member_group_ids: dict[str, str],
        processing_log: ProcessingLogSink | None = None,
        batch_size: int = 5000,
        poll_timeout: float = 0.2,
        commit_interval: float = 1.0,
        stats: dict[str, RunnerStats] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.processing_log = processing_log
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.commit_interval = commit_interval
        self.members: list[SharedMember] = []
        for q in queries:
            member = SharedMember(self, q, member_group_ids[str(q.id)])
            if stats and member.query_id in stats:  # counters carry over a rebuild
                member.stats = stats[member.query_id]
                member.stats.state = "PENDING"
            self.members.append(member)
            with contextlib.suppress(AttributeError, TypeError):
                q.on_error = member.on_error
        topics = {t for m in self.members for t in m.query.source_topics}
        self.topics = sorted(topics)
        self._legacy: dict[str, dict[tuple[str, int], int]] = {}
        self._committed: dict[tuple[str, int], tuple[int, str]] = {}
        self._cooperative = True  # the consumer's assignment protocol (set with its config)
        self._last_warning = 0.0
        self._paused = False
        self._attempt = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ksql-shared-{len(self.members)}", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _set_state(self, state: str) -> None:
        for m in self.members:
            m.stats.state = state

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # the queries stop, the server keeps running
            for m in self.members:
                m.stats.state = "ERROR"
                m.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("shared runtime %s failed", self.group_id)
        finally:
            self._ready.set()

    # -- positions ------------------------------------------------------------------------

    def _read_legacy(self) -> None:
        """Each member's committed offsets in its own group (before sharing, or alone)."""
        admin = AdminClient(admin_config(self.bootstrap))
        for m in self.members:
            futures = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(m.group_id)], request_timeout=15
            )
            try:
                res = futures[m.group_id].result(timeout=20)
            except KafkaException as exc:  # never guess a position: fail, not replay
                raise KafkaUnavailableError(f"committed offsets of {m.group_id}: {exc}") from exc
            self._legacy[m.query_id] = {
                (str(tp.topic), int(tp.partition)): int(tp.offset)
                for tp in res.topic_partitions or []
                if tp.offset >= 0
            }

    def _on_assign(
        self, consumer: Consumer, ledger: DeliveryLedger[None], parts: list[TopicPartition]
    ) -> None:
        """Each member's start on the new partitions; the consumer starts at the lowest."""
        ledger.assign(parts)
        committed: list[TopicPartition] = []
        for attempt in range(3):  # the positions are needed: never guess them
            try:
                committed = consumer.committed(parts, timeout=30) if parts else []
                break
            except KafkaException as exc:
                if attempt == 2:  # the query stops (state ERROR), nothing replayed or skipped
                    msg = f"committed offsets of {self.group_id}: {exc}"
                    raise KafkaUnavailableError(msg) from exc
                self._stop.wait(backoff(attempt))
        by_tp = {(str(tp.topic), int(tp.partition)): tp for tp in committed}
        for part in parts:
            tp = (str(part.topic), int(part.partition))
            c = by_tp.get(tp)
            recorded: dict[str, int] = {}
            if c is not None and c.offset >= 0:
                recorded = _positions(c.metadata)
                self._committed[tp] = (int(c.offset), c.metadata or "")
            starts = []
            for m in self.members:
                known = [
                    off
                    for off in (recorded.get(m.query_id), self._legacy[m.query_id].get(tp))
                    if off is not None
                ]
                # both are acknowledged positions: the later one is the newer
                start = max(known) if known else 0  # 0: earliest, as a new query starts
                m.start[tp] = m.acked[tp] = start
                starts.append(start)
            part.offset = min(starts) if min(starts) > 0 else OFFSET_BEGINNING
        # the callback's own assignment sets where fetching starts (cooperative groups, the
        # project's default, take the increment; eager ones the whole assignment)
        if self._cooperative:
            consumer.incremental_assign(parts)
        else:
            consumer.assign(parts)

    def _forget(
        self, ledger: DeliveryLedger[None], parts: list[TopicPartition], lost: bool
    ) -> None:
        if lost:
            ledger.lose(parts)
        else:
            # no commit on revoke: whatever was not committed is processed again by the
            # partition's next owner (at-least-once)
            ledger.revoke(parts, commit=False)
        for part in parts:
            tp = (str(part.topic), int(part.partition))
            self._committed.pop(tp, None)
            for m in self.members:
                m.start.pop(tp, None)
                m.acked.pop(tp, None)

    def _completed(self, batch: InFlightBatch[None]) -> None:
        """A batch is acknowledged: every member is past it (or was already)."""
        for tp in batch.next:
            key = (str(tp.topic), int(tp.partition))
            for m in self.members:
                if key in m.acked and tp.offset > m.acked[key]:
                    m.acked[key] = tp.offset

    def _commit(self, consumer: Consumer, assigned: Iterable[tuple[str, int]]) -> str | None:
        """Commit the lowest member position per partition, every member's in the metadata."""
        offsets = []
        for tp in sorted(assigned):
            positions = {m.query_id: m.acked[tp] for m in self.members if tp in m.acked}
            if not positions:
                continue
            low = min(positions.values())
            meta = orjson.dumps(positions).decode()
            if self._committed.get(tp) == (low, meta):
                continue
            offsets.append((tp, low, meta))
        if not offsets:
            return None
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, off, metadata=md) for (t, p), off, md in offsets],
                asynchronous=False,
            )
        except KafkaException as exc:
            return str(exc)
        for tp, off, md in offsets:
            self._committed[tp] = (off, md)
        return None

    def _write_back(self, positions: dict[str, dict[tuple[str, int], int]]) -> None:
        """Each member's position into its own group: it resumes there if it runs alone."""
        admin = AdminClient(admin_config(self.bootstrap))
        requests = [
            ConsumerGroupTopicPartitions(
                group, [TopicPartition(t, p, off) for (t, p), off in sorted(acked.items())]
            )
            for group, acked in positions.items()
            if acked
        ]
        for req in requests:  # one group per call: the admin API takes one at a time
            try:
                admin.alter_consumer_group_offsets([req], request_timeout=15)[req.group_id].result(
                    timeout=20
                )
            except KafkaException as exc:  # the shared group's commit still holds them
                log.warning("positions of %s not written to its own group: %s", req.group_id, exc)

    # -- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        in_record, _ = _engine_records()
        conf = producer_config(self.bootstrap, linger_ms=10)
        conf["delivery.report.only.error"] = True
        producer = Producer(conf)
        self._read_legacy()
        conf = consumer_config(
            self.bootstrap,
            self.group_id,
            fetch_max_bytes=52_428_800,
            queued_min_messages=100_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        self._cooperative = "cooperative" in str(conf.get("partition.assignment.strategy", ""))
        consumer = Consumer(conf)
        ledger: DeliveryLedger[None] = DeliveryLedger(
            consumer,
            producer,
            on_complete=self._completed,
            acks="errors",
            delivery_timeout_s=300.0,
            commit_interval_s=self.commit_interval,
            max_inflight_events=10**9,
            max_inflight_batches=10**9,
        )
        consumer.subscribe(
            self.topics,
            on_assign=lambda c, parts: self._on_assign(c, ledger, parts),
            on_revoke=lambda _c, parts: self._forget(ledger, parts, lost=False),
            on_lost=lambda _c, parts: self._forget(ledger, parts, lost=True),
        )
        self._set_state("RUNNING")
        self._ready.set()
        log.info(
            "shared runtime %s: %s on one consumer of %s",
            self.group_id,
            ", ".join(m.query_id for m in self.members),
            ", ".join(self.topics),
        )
        last_commit = time.monotonic()
        stopped_unacked = False
        try:
            while not self._stop.is_set():
                try:
                    msgs = consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
                except KafkaException as exc:  # broker gone for a while: wait, never die
                    self._warn(f"consume failed: {exc}")
                    time.sleep(0.5)
                    continue
                if msgs:
                    self._batch(msgs, ledger, producer, in_record)
                    if self._paused:
                        self._stop.wait(backoff(self._attempt, cap=10.0))
                        self._attempt += 1
                        continue
                    if time.monotonic() - last_commit < self.commit_interval:
                        continue
                elif not ledger.inflight:
                    producer.poll(0)
                    if time.monotonic() - last_commit < self.commit_interval:
                        continue
                committed = self._commit_point(ledger, consumer)
                if committed is None:
                    stopped_unacked = True
                    return  # stopped while the broker was unreachable: nothing committed
                if committed:
                    last_commit = time.monotonic()
        finally:
            self._close(ledger, consumer, stopped_unacked)

    def _batch(
        self, msgs: list[Message], ledger: DeliveryLedger[None], producer: Producer, in_record: Any
    ) -> None:
        """One consumed batch through every member; all outputs join one ledger batch."""
        good: list[Message] = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                self._warn(f"consume error: {err}")
        good = ledger.owned(good)
        if not good:
            return
        recs = [
            in_record(
                msg.topic(), msg.key(), msg.value(), msg.timestamp()[1], msg.partition(),
                msg.offset(), msg.headers() or (), {},
            )
            for msg in good
        ]  # fmt: skip
        first: dict[tuple[str, int], int] = {}
        for rec in reversed(recs):  # the last one written per key stays: the lowest offset
            first[(rec.topic, rec.partition)] = rec.offset
        outs: list[Any] = []
        counts: list[int] = []
        for m in self.members:
            try:
                n = self._process(m, recs, outs, first)
            except TransientError as exc:
                ledger.rewind(good)
                m.stats.transient_errors += 1
                m.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._warn(f"paused on a batch of {len(good)} ({exc}); nothing committed")
                self._paused = True
                return
            counts.append(n)
        self._paused = False
        self._attempt = 0
        batch = ledger.open(good, None)
        produced = 0
        ack = batch.ack
        produce = producer.produce
        for out in outs:
            if not out.headers:  # the fast path: one C call per output
                try:
                    produce(
                        out.topic, out.value, out.key, timestamp=out.timestamp or 0,
                        on_delivery=ack,
                    )  # fmt: skip
                    produced += 1
                    continue
                except BufferError:
                    pass
            if self._produce(producer, out, ack):
                produced += 1
            else:  # stopped with the local queue full: the batch must not be stored
                batch.errors.append(f"{out.topic}: not produced before stop")
        for m, n in zip(self.members, counts, strict=True):
            m.stats.produced += n
        batch.expect(produced)
        try:
            ledger.track(batch)
        except DeliveryFailedError as exc:  # an earlier batch failed: rewound
            self._delivery_failed(exc)

    @staticmethod
    def _process(
        m: SharedMember, recs: list[Any], outs: list[Any], first: dict[tuple[str, int], int]
    ) -> int:
        """Run the member over the records from its own position on; its output count.

        `first`: the batch's lowest offset per partition; a member whose position is at or
        before all of them (the usual case) takes every record without a check each."""
        process = m.query.process
        start = m.start
        before = len(outs)
        if all(start.get(tp, 0) <= off for tp, off in first.items()):
            todo = recs
        else:  # before this query's own position: it processed those already
            todo = [r for r in recs if r.offset >= start.get((r.topic, r.partition), 0)]
        m.stats.consumed += len(todo)
        for rec in todo:
            try:
                outs.extend(process(rec))
            except TransientError:
                raise
            except Exception as exc:  # engine contract: should not raise; be safe
                m.on_error(
                    {
                        "type": "RECORD_PROCESSING_ERROR",
                        "message": f"{type(exc).__name__}: {exc}",
                        "topic": rec.topic,
                        "partition": rec.partition,
                        "offset": rec.offset,
                    }
                )
        return len(outs) - before

    def _produce(self, producer: Producer, out: Any, ack: Callable[..., None]) -> bool:
        headers = list(out.headers) if out.headers else None
        while True:
            try:
                producer.produce(
                    out.topic, out.value, out.key, timestamp=int(out.timestamp or 0),
                    headers=headers, on_delivery=ack,
                )  # fmt: skip
                return True
            except BufferError:
                if self._stop.is_set():
                    return False
                producer.poll(0.05)

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        for m in self.members:
            m.stats.delivery_errors += max(len(exc.errors), 1)
            m.stats.last_error = exc.errors[-1] if exc.errors else str(exc)
        self._warn(f"delivery failed: {exc.errors[-1] if exc.errors else exc}")

    def _commit_point(self, ledger: DeliveryLedger[None], consumer: Consumer) -> bool | None:
        """Wait for every output's ack, then commit every member's position."""
        try:
            while not ledger.wait(1.0):
                if self._stop.is_set():
                    return None
        except DeliveryFailedError as exc:
            self._delivery_failed(exc)
            time.sleep(0.5)
            return False
        failed = self._commit(consumer, ledger.assigned)
        if failed is not None:  # the next commit covers these offsets
            self._warn(f"commit failed: {failed}")
        return True

    def _close(self, ledger: DeliveryLedger[None], consumer: Consumer, unacked: bool) -> None:
        # A clean stop commits what was acknowledged (only acknowledged batches move a
        # member's position, so this never commits past a loss).
        with contextlib.suppress(DeliveryFailedError):
            ledger.wait(5.0)
        failed = self._commit(consumer, ledger.assigned)
        if failed is not None:
            self._warn(f"commit failed: {failed}")
        positions = {m.group_id: dict(m.acked) for m in self.members}  # close() revokes all
        with contextlib.suppress(KafkaException, RuntimeError):
            consumer.close()
        ledger.clear()
        if not unacked and failed is None:
            with contextlib.suppress(KafkaException):
                self._write_back(positions)
        for m in self.members:
            if m.stats.state == "RUNNING":
                m.stats.state = "TERMINATED"

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            log.warning("shared runtime %s: %s", self.group_id, message)
            self._last_warning = now


def _positions(metadata: str | None) -> dict[str, int]:
    """The member positions a shared runtime's commit carries ({} if none or not ours)."""
    if not metadata:
        return {}
    try:
        data = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int) and v >= 0}
