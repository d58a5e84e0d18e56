"""The table side of a stream-table join, kept caught up before each stream batch."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    TopicPartition,
)

from fraudstream.errors import TransientError
from fraudstream.kafka.clients import consumer_config
from fraudstream.kafka.delivery import backoff

log = logging.getLogger(__name__)


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


def start_feeder(
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
