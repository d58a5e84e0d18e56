"""Reading topics back on the real broker: bounded snapshots, transactions, tails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from fraudstream.kafka.clients import producer_config
from fraudstream.kafka.errors import TopicReadError
from fraudstream.kafka.reader import iter_snapshot, open_snapshot, read_topic, reader_consumer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _produce(bootstrap: str, topic: str, values: list[bytes], partitions: int = 1) -> None:
    p = Producer(producer_config(bootstrap))
    for i, v in enumerate(values):
        p.produce(topic, v, b"k", partition=i % partitions)
    assert p.flush(30) == 0


def test_a_snapshot_reads_every_partition_to_its_end(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("snap", partitions=3)
    values = [str(i).encode() for i in range(300)]
    _produce(kafka_bootstrap, topic, values, partitions=3)
    got = read_topic(kafka_bootstrap, topic)
    assert sorted(int(m.value()) for m in got) == list(range(300))
    assert {m.partition() for m in got} == {0, 1, 2}
    assert len(read_topic(kafka_bootstrap, topic, max_records=40)) == 40
    future = int(time.time() * 1000) + 3_600_000
    assert read_topic(kafka_bootstrap, topic, since_ms=future) == []


def test_a_snapshot_stops_at_the_end_offsets_taken_when_it_opened(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("bounded")
    _produce(kafka_bootstrap, topic, [b"a"] * 10)
    consumer = reader_consumer(kafka_bootstrap)
    try:
        snap = open_snapshot(consumer, topic)
        _produce(kafka_bootstrap, topic, [b"b"] * 5)  # written after the snapshot opened
        values = [m.value() for batch in iter_snapshot(consumer, snap) for m in batch]
    finally:
        consumer.close()
    assert snap.total == 10 and values == [b"a"] * 10


def test_a_snapshot_ends_despite_transaction_markers_and_skips_aborted_records(
    kafka_bootstrap: str, topic_factory: Callable[..., str], unique_id: str
) -> None:
    topic = topic_factory("txn")
    p = Producer(producer_config(kafka_bootstrap, transactional_id=f"reader-{unique_id}"))
    p.init_transactions(30)
    for kind, n in (("ok", 10), ("aborted", 5), ("ok", 3)):
        p.begin_transaction()
        for _ in range(n):
            p.produce(topic, kind.encode(), b"k")
        p.flush(30)
        if kind == "ok":
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    t0 = time.monotonic()
    committed = read_topic(kafka_bootstrap, topic, timeout=30)
    assert [m.value() for m in committed] == [b"ok"] * 13
    assert time.monotonic() - t0 < 20, "the last offset is a marker: the read must still end"
    everything = read_topic(kafka_bootstrap, topic, read_committed=False, timeout=30)
    assert sorted(m.value() for m in everything) == [b"aborted"] * 5 + [b"ok"] * 13


def test_a_missing_topic_raises_unless_missing_is_ok(kafka_bootstrap: str, unique_id: str) -> None:
    with pytest.raises(TopicReadError, match="does not exist"):
        read_topic(kafka_bootstrap, f"no-such-{unique_id}")
    assert read_topic(kafka_bootstrap, f"no-such-{unique_id}", missing_ok=True) == []


def test_a_tail_waits_for_records_still_being_written(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("tail", partitions=2)

    def later() -> None:
        for i in range(5):
            time.sleep(0.3)
            _produce(kafka_bootstrap, topic, [str(i).encode()] * 20, partitions=2)

    writer = threading.Thread(target=later)
    writer.start()
    got = read_topic(kafka_bootstrap, topic, expect=100, idle_s=1.0, timeout=60)
    writer.join()
    assert len(got) == 100
