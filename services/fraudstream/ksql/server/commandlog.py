"""The command topic: every statement that changed the engine's state, in order.

Like ksqlDB's `_confluent-ksql-<service id>_command_topic`: a single-partition topic with
infinite retention. On start the server replays it into a fresh engine (same statements,
same variables, same order, so the same query ids), then restarts each persistent query's
loop, which resumes from its consumer group's committed offsets.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import BaseModel, Field

from fraudstream.errors import KsqlError
from fraudstream.kafka.admin import create_topics
from fraudstream.kafka.clients import consumer_config, producer_config


class Command(BaseModel):
    """One recorded statement (the value of a command-topic record, JSON)."""

    statement: str
    variables: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)


def command_topic_name(service_id: str) -> str:
    return f"_confluent-ksql-{service_id}_command_topic"


class CommandLog:
    """Append and replay commands on a Kafka topic (one partition: a total order)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def ensure_topic(self, admin: AdminClient) -> None:
        create_topics(
            admin,
            [self.topic],
            partitions=1,
            config={"cleanup.policy": "delete", "retention.ms": "-1"},
        )
        # created now, not at the first statement: an idempotent producer's start (producer
        # id from the broker) took ~0.5 s of the first CREATE's response time
        with self._lock:
            if self._producer is None:
                self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        return Producer(producer_config(self.bootstrap, linger_ms=0))

    def read_all(self, timeout: float = 30.0) -> list[tuple[int, Command]]:
        """Every command up to the current end of the topic, with its offset."""
        consumer = Consumer(
            consumer_config(self.bootstrap, f"{self.topic}-reader", enable_partition_eof=True)
        )
        out: list[tuple[int, Command]] = []
        try:
            tp = TopicPartition(self.topic, 0)
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            if high <= low:
                return out
            consumer.assign([TopicPartition(self.topic, 0, low)])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        break
                    raise KsqlError(f"reading command topic {self.topic}: {err}")
                offset = int(msg.offset() or 0)
                value = msg.value()
                if value:
                    out.append((offset, Command.model_validate_json(value)))
                if offset + 1 >= high:
                    break
            else:
                raise KsqlError(f"command topic {self.topic} not read to its end in {timeout}s")
        finally:
            consumer.close()
        return out

    def append(self, command: Command, timeout: float = 30.0) -> int:
        """Write one command and wait for the broker's ack; returns its offset."""
        with self._lock:
            if self._producer is None:
                self._producer = self._new_producer()
            result: dict[str, Any] = {}

            def on_delivery(err: KafkaError | None, msg: Any) -> None:
                result["err"] = err
                result["offset"] = None if msg is None else msg.offset()

            self._producer.produce(
                self.topic, value=command.model_dump_json().encode(), on_delivery=on_delivery
            )
            self._producer.flush(timeout)
        if result.get("err") is not None or result.get("offset") is None:
            raise KsqlError(f"could not write command topic {self.topic}: {result.get('err')}")
        return int(result["offset"])

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(10)
                self._producer = None
