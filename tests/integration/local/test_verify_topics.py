"""Reading topics back on the real broker: bounded snapshot, every record once, headers kept,
counts from watermarks."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.kafka import producer_config
from fraudstream.local.topics import topic_count, wait_for_count
from fraudstream.testing.verify import IdLedger, decode_records, read_records

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_read_topic_ledger_and_counts(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("verify", partitions=3)
    p = Producer(producer_config(kafka_bootstrap))
    for i in range(3000):
        p.produce(topic, orjson.dumps({"Id": i}), str(i % 7), headers=[("h", str(i).encode())])
    p.produce(topic, b"\x07junk", b"x")
    p.produce(topic, orjson.dumps({"Id": 5}), b"dup")  # a duplicate delivery of id 5
    assert p.flush(30) == 0
    assert wait_for_count(kafka_bootstrap, topic, 3002, timeout=30, settle_s=0.5) == 3002
    assert topic_count(kafka_bootstrap, "no-such-topic-xyz") == 0
    recs = read_records(kafka_bootstrap, topic)
    assert len(recs) == 3002
    assert len({(r.partition, r.offset) for r in recs}) == 3002
    from fraudstream.testing.verify import ValueDecoder

    good, bad = decode_records(recs, ValueDecoder("http://127.0.0.1:1"))
    assert len(bad) == 1 and bad[0].value == b"\x07junk"
    ledger = IdLedger(set(range(3001)))
    ledger.add(v["id"] for v in good)
    assert ledger.lost == {3000}
    assert ledger.duplicates == 1
    assert ledger.unexpected == set()
    assert "lost=1" in ledger.summary()
    with_h = [r for r in recs if r.headers.get("h") == b"42"]
    assert len(with_h) == 1


def test_wait_for_count_times_out(kafka_bootstrap: str, topic_factory: Callable[..., str]) -> None:
    from fraudstream.local.errors import ComponentStartError

    topic = topic_factory("empty")
    with pytest.raises(ComponentStartError, match="holds 0 records"):
        wait_for_count(kafka_bootstrap, topic, 1, timeout=1.5)
