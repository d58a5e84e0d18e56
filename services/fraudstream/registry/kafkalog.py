"""The `_schemas` topic as a replicated log: one reader thread applies every record.

Writes follow Confluent's KafkaStore protocol: produce (acks=all, idempotent), learn the
record's offset from the delivery report, then block until the reader thread has applied
that offset. So an answer to a client always reflects state rebuilt from the topic, and a
restarted server that reads to the end sees exactly what earlier clients were told.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from fraudstream.kafka.admin import create_topics, wait_for_broker
from fraudstream.registry.errors import RegistryStoreError

log = logging.getLogger(__name__)

TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}

Apply = Callable[[bytes | None, bytes | None], None]


class KafkaLog:
    """Single-partition compacted topic with read-your-own-writes."""

    def __init__(
        self, bootstrap: str, topic: str, apply: Apply, write_timeout: float = 30.0
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.write_timeout = write_timeout
        self._apply = apply
        self._cond = threading.Condition()
        self._next_offset = 0  # offset of the next record the reader will apply
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._reader_error: str | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Create the topic if needed, then read it to its end before returning."""
        deadline = time.monotonic() + timeout
        admin = wait_for_broker(self.bootstrap, timeout=timeout)
        create_topics(admin, [self.topic], partitions=1, config=TOPIC_CONFIG, timeout=timeout)
        md = admin.list_topics(self.topic, timeout=timeout).topics[self.topic]
        if len(md.partitions) != 1:
            raise RegistryStoreError(
                f"schemas topic {self.topic} must have exactly 1 partition, "
                f"has {len(md.partitions)}"
            )
        self._producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                # a write the client was told failed (50002) must not land later: librdkafka
                # gives up on it before `append` stops waiting for the delivery report
                "message.timeout.ms": max(int(self.write_timeout * 800), 1000),
                "log_level": 3,
            }
        )
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"fraudstream-registry-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                "log_level": 3,
            }
        )
        high = self._end_offset(deadline)
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread = threading.Thread(target=self._run, name="registry-reader", daemon=True)
        self._thread.start()
        log.info("reading %s to offset %d", self.topic, high)
        try:
            self.wait_for(high - 1, max(deadline - time.monotonic(), 0.1))
        except RegistryStoreError:
            self.stop()
            raise

    def _end_offset(self, deadline: float) -> int:
        """The topic's end offset; retried while a just-created partition has no leader yet."""
        assert self._consumer is not None
        while True:
            try:
                _low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, 0), timeout=max(deadline - time.monotonic(), 1.0)
                )
                return int(high)
            except KafkaException:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None

    # ---- reader ------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            try:
                msg = self._consumer.poll(0.1)
            except KafkaException as exc:  # pragma: no cover - broker trouble
                log.warning("schemas reader poll failed: %s", exc)
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
                    log.error("schemas reader fatal error: %s", err)
                else:
                    log.warning("schemas reader: %s", err)
                continue
            offset = msg.offset() or 0
            try:
                self._apply(msg.key(), msg.value())
            except Exception:  # never let one record stop the reader
                log.exception("failed to apply _schemas record at offset %s", offset)
            self._advance(offset + 1)

    def _advance(self, next_offset: int) -> None:
        with self._cond:
            if next_offset > self._next_offset:
                self._next_offset = next_offset
                self._cond.notify_all()

    def wait_for(self, offset: int, timeout: float) -> None:
        """Block until the record at `offset` (and all before it) has been applied."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next_offset <= offset:
                if self._reader_error:
                    raise RegistryStoreError(f"schemas reader failed: {self._reader_error}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RegistryStoreError(
                        f"timed out after {timeout:.1f}s reading {self.topic} to offset {offset} "
                        f"(at {self._next_offset})"
                    )
                self._cond.wait(min(remaining, 0.5))

    @property
    def position(self) -> int:
        with self._cond:
            return self._next_offset

    # ---- writer ------------------------------------------------------------------------
    def append(self, key: bytes, value: bytes | None, timeout: float = 30.0) -> int:
        """Write one record and wait until the reader has applied it; return its offset."""
        if self._producer is None:
            raise RegistryStoreError("schemas log is not started")
        result: dict[str, object] = {}
        done = threading.Event()

        def on_delivery(err: KafkaError | None, msg: object) -> None:
            result["err"] = err
            result["offset"] = msg.offset() if err is None else None  # type: ignore[attr-defined]
            done.set()

        deadline = time.monotonic() + timeout
        self._producer.produce(
            self.topic, key=key, value=value, partition=0, on_delivery=on_delivery
        )
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RegistryStoreError(f"timed out writing to {self.topic}")
            self._producer.poll(min(remaining, 0.1))
        if result.get("err") is not None:
            raise RegistryStoreError(f"could not write to {self.topic}: {result['err']}")
        offset = int(result["offset"])  # type: ignore[call-overload]
        self.wait_for(offset, max(deadline - time.monotonic(), 0.1))
        return offset
