"""10,000 records through the real broker: each arrives once, in order per partition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Producer

from fraudstream.kafka import consumer_config, producer_config

N = 10_000
PARTITIONS = 4


def test_roundtrip_exactly_once_in_order(
    kafka_bootstrap: str, topic_factory: Callable[..., str], unique_id: str
) -> None:
    topic = topic_factory("roundtrip", partitions=PARTITIONS)
    producer = Producer(producer_config(kafka_bootstrap))
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for i in range(N):
        producer.produce(topic, key=f"user{i % 37}", value=str(i).encode(), on_delivery=on_delivery)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []

    consumer = Consumer(consumer_config(kafka_bootstrap, f"rt-{unique_id}"))
    consumer.subscribe([topic])
    seen: dict[int, list[tuple[str, int]]] = defaultdict(list)
    total = 0
    try:
        idle = 0
        while total < N and idle < 30:
            msgs = consumer.consume(1000, timeout=1.0)
            if not msgs:
                idle += 1
                continue
            for m in msgs:
                assert m.error() is None, m.error()
                seen[m.partition()].append((m.key().decode(), int(m.value())))
                consumer.store_offsets(m)
                total += 1
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    values = [v for recs in seen.values() for _, v in recs]
    assert len(values) == N
    assert sorted(values) == list(range(N)), "every record arrives exactly once"
    for recs in seen.values():
        # Within a partition, records of one key keep the order they were produced in.
        per_key: dict[str, list[int]] = defaultdict(list)
        for key, v in recs:
            per_key[key].append(v)
        for vs in per_key.values():
            assert vs == sorted(vs)
        assert [v for _, v in recs] == sorted(v for _, v in recs)
    # Keys are spread by the partitioner and each key lives in exactly one partition.
    key_parts: dict[str, set[int]] = defaultdict(set)
    for p, recs in seen.items():
        for key, _ in recs:
            key_parts[key].add(p)
    assert all(len(ps) == 1 for ps in key_parts.values())
    assert len(seen) > 1
