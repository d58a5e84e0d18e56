"""Shared pieces of the Kafka benchmarks (bench_partition.py, bench_produce_paths.py; the
broker also for bench_producer.py, bench_serde.py, bench_trainer.py), so
they time the same thing the same way: a broker (FRAUDSTREAM_KAFKA_BOOTSTRAP's, or the
project's local one started for the run), a fresh topic with its producer, and the timed
produce loop. A module beside the scripts, not a script: `python benchmarks/x.py` puts this
folder on sys.path, so the scripts import it as `benchkit`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from fraudstream.kafka import create_topics, producer_config
from fraudstream.kafka.delivery import produce_many
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port

BATCH = 2000  # records per produce call: the scorer's batch size

# how one batch is handed to the producer: (producer, topic, values, keys)
SendBatch = Callable[[Producer, str, Sequence[bytes], Sequence[bytes]], None]


@dataclass(frozen=True)
class Broker:
    """Where the benchmark produces to, and the broker's pid when this run started it (its
    CPU can then be read from /proc)."""

    bootstrap: str
    pid: int | None


@contextmanager
def broker(prefix: str) -> Iterator[Broker]:
    """FRAUDSTREAM_KAFKA_BOOTSTRAP's broker when set, otherwise a local one in a temporary
    directory, stopped and removed afterwards."""
    bootstrap = os.environ.get("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield Broker(bootstrap, None)
        return
    work = Path(tempfile.mkdtemp(prefix=prefix))
    local = LocalKafka(work, port=free_port(), controller_port=free_port(), log_level="WARN")
    try:
        yield Broker(local.start(timeout=180), local.pid())
    finally:
        local.stop()
        shutil.rmtree(work, ignore_errors=True)


def new_topic_producer(
    bootstrap: str, admin: Any, prefix: str, partitions: int, **config: Any
) -> tuple[str, Producer]:
    """A new topic of `partitions` partitions and a producer that already knows its leaders
    (so the first batch does not time a metadata round trip)."""
    topic = f"{prefix}-{uuid.uuid4().hex[:6]}"
    create_topics(admin, [topic], partitions=partitions)
    p = Producer(producer_config(bootstrap, **config))
    p.list_topics(topic, timeout=10)
    return topic, p


def produce_timed(
    p: Producer,
    topic: str,
    values: Sequence[bytes],
    keys: Sequence[bytes],
    send: SendBatch = produce_many,
) -> tuple[float, float]:
    """Produce every record in batches of BATCH (`send`, default `produce_many`), serving
    delivery reports between batches, then flush: (wall seconds, process CPU seconds),
    librdkafka's threads included. Fails if anything is left undelivered."""
    c0, t0 = time.process_time(), time.monotonic()
    for b in range(0, len(values), BATCH):
        send(p, topic, values[b : b + BATCH], keys[b : b + BATCH])
        p.poll(0)
    assert p.flush(120) == 0, "records left undelivered after 120 s"
    return time.monotonic() - t0, time.process_time() - c0
