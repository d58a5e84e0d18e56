"""The delivery ledger on the real broker: a batch whose output the broker refuses is
rewound and read again, the batch before it is committed, nothing after it is."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.kafka.errors import DeliveryFailedError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _consume(consumer: Consumer, n: int, timeout: float = 30.0) -> list[Message]:
    out: list[Message] = []
    for _ in range(int(timeout / 0.5)):
        out += [m for m in consumer.consume(n - len(out), timeout=0.5) if m.error() is None]
        if len(out) >= n:
            return out
    raise AssertionError(f"consumed {len(out)} of {n}")


@pytest.mark.parametrize("acks", ["each", "errors"])
def test_a_refused_output_rewinds_its_batch_and_only_acknowledged_batches_are_committed(
    kafka_bootstrap: str, topic_factory: Callable[..., str], unique_id: str, acks: str
) -> None:
    """`acks="errors"`: the producer reports failures only (the KSQL runtime's mode)."""
    source = topic_factory("in")
    # The broker refuses records over 2,000 bytes on this topic (MESSAGE_TOO_LARGE).
    sink = topic_factory("out", config={"max.message.bytes": "2000"})
    feed = Producer(producer_config(kafka_bootstrap))
    for i in range(10):
        feed.produce(source, str(i).encode(), b"k")
    assert feed.flush(30) == 0

    group = f"ledger-{unique_id}"
    consumer = Consumer(consumer_config(kafka_bootstrap, group))
    pconf = producer_config(kafka_bootstrap, linger_ms=0)
    pconf["delivery.report.only.error"] = acks == "errors"
    producer = Producer(pconf)
    done: list[Any] = []
    ledger: DeliveryLedger[str] = DeliveryLedger(
        consumer,
        producer,
        on_complete=lambda b: done.append((b.payload, b.done_at)),
        acks="errors" if acks == "errors" else "each",
    )
    tp = TopicPartition(source, 0, 0)
    consumer.assign([tp])
    ledger.assign([tp])
    try:
        msgs = _consume(consumer, 10)
        for name, part, big in (("first", msgs[:5], False), ("second", msgs[5:], True)):
            batch = ledger.open(part, name)
            batch.expect(len(part))
            for j, m in enumerate(part):
                value = os.urandom(5000) if big and j == 2 else m.value()  # incompressible
                producer.produce(sink, value, m.key(), on_delivery=batch.ack)
            ledger.track(batch)
            # one produce request per batch: the broker refuses a whole record batch
            assert producer.flush(30) == 0
        with pytest.raises(DeliveryFailedError, match="out-"):
            ledger.settle(timeout=30)
        assert [name for name, _ in done] == ["first"] and done[0][1] > 0
        # the consumer reads the failed batch again, from its first record
        again = _consume(consumer, 5)
        assert [m.offset() for m in again] == [5, 6, 7, 8, 9]
        ledger.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(source, 0)], timeout=10)
        assert committed[0].offset == 5, "only the acknowledged batch may be committed"
    finally:
        consumer.close()
