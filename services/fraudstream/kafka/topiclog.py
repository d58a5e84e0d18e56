"""A single-partition topic used as a log: append, read your own writes, replay.

One partition gives a total order. Two ways to read it:

- `replay()`: every record from the start to the end *as of now*, once (a command log read
  at start-up, as ksqlDB replays its command topic);
- `follow(apply)`: a reader thread applies every record, ours and other writers', in order;
  `start` returns once the topic is read to its end, and `append` then blocks until the
  reader has applied the new record (Confluent's KafkaStore protocol). So an answer based on
  the applied state always reflects the topic, and a restarted reader rebuilds exactly it.

Writes are idempotent with acks=all; a write that `append` reported as failed must not land
later, so librdkafka gives up on it (`message.timeout.ms`) before `append` stops waiting.
Errors are `TopicLogError` (and `KafkaUnavailableError` for a broker that never answers).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fraudstream.kafka.admin import create_topics, wait_for_broker
from fraudstream.kafka.clients import client_config, producer_config
from fraudstream.kafka.errors import TopicLogError

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]
Entry = tuple[int, bytes | None, bytes | None]  # offset, key, value

COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1"}


class TopicLog:
    """Append to, follow and replay one single-partition topic."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        config: Mapping[str, str] | None = None,
        write_timeout: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.config = dict(COMPACTED if config is None else config)
        self.write_timeout = write_timeout
        self._producer: Producer | None = None
        self._write_lock = threading.Lock()
        # follower state
        self._apply: Apply | None = None
        self._consumer: Consumer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._next_offset = 0  # offset of the next record the follower will apply
        self._reader_error: str | None = None

    # ------------------------------------------------------------------ topic + producer
    def ensure_topic(self, timeout: float = 60.0, admin: AdminClient | None = None) -> None:
        """Create the topic (one partition) if needed, check it has one, open the producer.

        The producer starts now, not at the first write: an idempotent producer's start
        (a producer id from the broker) would otherwise delay the first answer."""
        if admin is None:
            admin = wait_for_broker(self.bootstrap, timeout=timeout)
        create_topics(admin, [self.topic], partitions=1, config=self.config, timeout=timeout)
        md = admin.list_topics(self.topic, timeout=timeout).topics[self.topic]
        if len(md.partitions) != 1:
            raise TopicLogError(
                f"topic {self.topic} must have exactly 1 partition, has {len(md.partitions)}"
            )
        with self._write_lock:
            if self._producer is None:
                self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        conf = producer_config(
            self.bootstrap,
            linger_ms=0,
            # a write `append` reported as failed must not land later: librdkafka gives up
            # on it before `append` stops waiting for the delivery report
            message_timeout_ms=max(int(self.write_timeout * 800), 1000),
        )
        conf["log_level"] = 3
        return Producer(conf)

    def _consumer_for(self, purpose: str) -> Consumer:
        return Consumer(
            client_config(
                self.bootstrap,
                **{
                    "group.id": f"fraudstream-{purpose}-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 100,
                    "log_level": 3,
                },
            )
        )

    def _end_offset(self, consumer: Consumer, deadline: float) -> tuple[int, int]:
        """(low, high) watermarks; retried while a new partition has no leader yet."""
        while True:
            try:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, 0), timeout=max(deadline - time.monotonic(), 1.0)
                )
                return int(low), int(high)
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    raise TopicLogError(f"cannot read the end of {self.topic}: {exc}") from exc
                time.sleep(0.2)

    # ------------------------------------------------------------------ writes
    def append(self, key: bytes | None, value: bytes | None, timeout: float | None = None) -> int:
        """Write one record and wait for its ack (and, when following, until it is applied).

        Returns its offset; raises TopicLogError if it was not written within `timeout`."""
        limit = self.write_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        result: dict[str, Any] = {}
        done = threading.Event()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            result["err"] = err
            result["offset"] = None if err is not None or msg is None else msg.offset()
            done.set()

        with self._write_lock:
            if self._producer is None:
                self._producer = self._new_producer()
            producer = self._producer
            producer.produce(self.topic, value, key, partition=0, on_delivery=on_delivery)
            while not done.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TopicLogError(f"timed out writing to {self.topic}")
                producer.poll(min(remaining, 0.1))
        if result.get("err") is not None or result.get("offset") is None:
            raise TopicLogError(f"could not write to {self.topic}: {result.get('err')}")
        offset = int(result["offset"])
        if self._apply is not None:
            self.wait_for(offset, max(deadline - time.monotonic(), 0.1))
        return offset

    # ------------------------------------------------------------------ replay
    def replay(self, timeout: float = 30.0) -> list[Entry]:
        """Every record from the start of the topic to its end as of now, in order."""
        consumer = self._consumer_for("replay")
        out: list[Entry] = []
        deadline = time.monotonic() + timeout
        try:
            low, high = self._end_offset(consumer, deadline)
            if high <= low:
                return out
            consumer.assign([TopicPartition(self.topic, 0, low)])
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        return out
                    raise TopicLogError(f"reading {self.topic}: {err}")
                offset = int(msg.offset() or 0)
                out.append((offset, msg.key(), msg.value()))
                if offset + 1 >= high:
                    return out
            raise TopicLogError(f"{self.topic} not read to its end in {timeout:.0f}s")
        finally:
            consumer.close()

    # ------------------------------------------------------------------ follower
    def start(self, apply: Apply, timeout: float = 60.0) -> None:
        """Ensure the topic, then follow it with `apply`; returns once read to its end."""
        deadline = time.monotonic() + timeout
        self.ensure_topic(timeout)
        self._apply = apply
        self._stop.clear()
        self._consumer = self._consumer_for("follow")
        _low, high = self._end_offset(self._consumer, deadline)
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread = threading.Thread(target=self._run, name=f"{self.topic}-reader", daemon=True)
        self._thread.start()
        log.info("reading %s to offset %d", self.topic, high)
        try:
            self.wait_for(high - 1, max(deadline - time.monotonic(), 0.1))
        except TopicLogError:
            self.stop()
            raise

    def _run(self) -> None:
        consumer, apply = self._consumer, self._apply
        assert consumer is not None and apply is not None
        while not self._stop.is_set():
            try:
                msg = consumer.poll(0.1)
            except KafkaException as exc:  # pragma: no cover - broker trouble
                log.warning("%s reader poll failed: %s", self.topic, exc)
                time.sleep(0.5)
                continue
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._advance(msg.offset() or 0)
                elif err.fatal():  # pragma: no cover
                    self._reader_error = str(err)
                    log.error("%s reader fatal error: %s", self.topic, err)
                else:
                    log.warning("%s reader: %s", self.topic, err)
                continue
            offset = msg.offset() or 0
            try:
                apply(msg.key(), msg.value())
            except Exception:  # never let one record stop the reader
                log.exception("failed to apply %s record at offset %s", self.topic, offset)
            self._advance(offset + 1)

    def _advance(self, next_offset: int) -> None:
        with self._cond:
            if next_offset > self._next_offset:
                self._next_offset = next_offset
                self._cond.notify_all()

    def wait_for(self, offset: int, timeout: float) -> None:
        """Block until the follower has applied the record at `offset` and all before it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next_offset <= offset:
                if self._reader_error:
                    raise TopicLogError(f"{self.topic} reader failed: {self._reader_error}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TopicLogError(
                        f"timed out after {timeout:.1f}s reading {self.topic} to offset {offset} "
                        f"(at {self._next_offset})"
                    )
                self._cond.wait(min(remaining, 0.5))

    @property
    def position(self) -> int:
        """Offset of the next record the follower will apply."""
        with self._cond:
            return self._next_offset

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Stop following and close the clients (pending writes get 5 s to finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._apply = None
        with self._write_lock:
            if self._producer is not None:
                self._producer.flush(5)
                self._producer = None


__all__ = ["COMPACTED", "FOREVER", "Apply", "Entry", "TopicLog"]
