"""Push queries (`EMIT CHANGES` over HTTP): a consumer of their own, no commits."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaException,
)

from fraudstream.kafka.clients import consumer_config
from fraudstream.ksql.server.runtime.feeder import start_feeder
from fraudstream.ksql.server.runtime.reporting import engine_records

log = logging.getLogger(__name__)


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
        in_record, _ = engine_records()
        stream_topics, feeder = start_feeder(
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
