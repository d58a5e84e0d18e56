"""One persistent query on its own consumer: consume -> process -> produce, at-least-once.

Its consumer group is named like ksqlDB's (`_confluent-ksql-<service id>query_<query id>`); a
batch's offsets are committed only after every output record of that batch is acknowledged,
so a restarted server resumes where the last committed batch ended. Records that fail to
process go to the processing-log topic and are counted; the loop never dies on a bad record.
A transient failure (registry or broker down) pauses the query on the batch: nothing of it is
produced, its state changes are rolled back, nothing is committed, and it is read again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaException,
    Message,
    Producer,
)

from fraudstream.errors import TransientError
from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.kafka.errors import DeliveryFailedError
from fraudstream.ksql.engine.state import (
    MaterializedTable,
)
from fraudstream.ksql.server.runtime.changelog import (
    Changelog,
    Undo,
    changelog_topic,
    group_has_offsets,
)
from fraudstream.ksql.server.runtime.feeder import TableFeeder, start_feeder
from fraudstream.ksql.server.runtime.loop import (
    LoopThread,
    query_consumer_config,
    query_producer,
    run_records,
)
from fraudstream.ksql.server.runtime.reporting import (
    ProcessingLogSink,
    RunnerStats,
    engine_records,
)

log = logging.getLogger(__name__)


class QueryRunner(LoopThread):
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
        super().__init__(f"ksql-query-{self.query_id}", f"query {self.query_id}")
        with contextlib.suppress(AttributeError, TypeError):
            query.on_error = self._on_error

    # -- lifecycle ------------------------------------------------------------------------

    # -- the loop -------------------------------------------------------------------------

    def _on_error(self, entry: Any) -> None:
        self.stats.processing_error(self.query_id, entry, self._processing_log)

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
        in_record, _ = engine_records()
        producer = query_producer(self.bootstrap)

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

        stream_topics, feeder = start_feeder(
            self.query, self.table_topics, self.bootstrap, self.group_id, in_record, self._stop
        )
        consumer = Consumer(query_consumer_config(self.bootstrap, self.group_id))
        ledger: DeliveryLedger[Undo] = self._ledger(
            consumer,
            producer,
            on_rewind=None if changelog is None else changelog.undo_batches(producer),
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

        def commit() -> str | None:
            return ledger.commit(asynchronous=False, quiet=True)

        try:
            self._consume_loop(
                consumer,
                producer,
                ledger,
                lambda msgs: self._batch(msgs, ledger, producer, feeder, changelog, in_record),
                commit,
            )
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
        good = ledger.owned(self._good(msgs))
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
        produced = self._produce_outputs(outs, batch, producer)
        self.stats.produced += produced
        if changelog is not None:
            written, batch.payload = changelog.write(producer, on_delivery=batch.ack)
            produced += written
        batch.expect(produced)
        try:
            ledger.track(batch)
        except DeliveryFailedError as exc:  # an earlier batch failed: rewound (and undone)
            self._delivery_failed(exc)

    def _process(self, msgs: list[Message], in_record: Any) -> list[Any]:
        """Run each record through the query; its outputs, in order. Raises TransientError
        (the batch pauses) when the registry or the broker did not answer."""
        recs = [
            in_record(
                msg.topic(), msg.key(), msg.value(), msg.timestamp()[1], msg.partition(),
                msg.offset(), msg.headers() or (),
            )
            for msg in msgs
        ]  # fmt: skip
        outs: list[Any] = []
        run_records(self.query.process, recs, outs, self._on_error)
        return outs

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        self.stats.delivery_errors += max(len(exc.errors), 1)
        self.stats.last_error = exc.errors[-1] if exc.errors else str(exc)
        self._warn(f"delivery failed: {self.stats.last_error}")

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
