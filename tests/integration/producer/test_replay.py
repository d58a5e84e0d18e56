"""Replays through the real broker: exactly the produced events come back, with the right fields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Message
from tests.integration.producer.conftest import record_json, record_key

from fraudstream.errors import ProducerError
from fraudstream.events import RAW_FIELDS, RawCardEvent
from fraudstream.producer.csvsource import read_csv_events
from fraudstream.producer.replay import replay, replay_records
from fraudstream.producer.synthetic import generate_events, generate_records
from fraudstream.producer.users import make_users, publish_users

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _source_events(sample: Path | None) -> list[dict[str, Any]]:
    if sample is not None:
        return list(read_csv_events(sample, users=500, start="2013-09-01T00:00:00Z"))
    return list(generate_events(5000, seed=1, users=500))


def test_real_sample_round_trip(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
    sample_csv: Path | None,
) -> None:
    events = _source_events(sample_csv)
    topic = topic_factory("src", partitions=4)
    stats = replay(events, bootstrap=kafka_bootstrap, topic=topic)
    assert stats.ok and stats.delivered == len(events) and stats.failed == 0
    msgs = read_topic(topic, len(events))
    assert len(msgs) == len(events)
    by_id = {e["Id"]: e for e in events}
    seen: set[int] = set()
    for m in msgs:
        value = record_json(m)
        assert tuple(value) == RAW_FIELDS
        assert value == by_id[value["Id"]]  # every field, exactly as produced
        assert record_key(m) == value["User"].encode()
        seen.add(value["Id"])
    assert seen == set(by_id)
    RawCardEvent(**record_json(msgs[0]))
    if sample_csv is not None:
        assert sum(record_json(m)["Class"] for m in msgs) == 492


def test_synthetic_records_round_trip_and_user_partitioning(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
) -> None:
    n = 30_000
    topic = topic_factory("syn", partitions=3)
    stats = replay_records(
        generate_records(n, seed=4, users=300), bootstrap=kafka_bootstrap, topic=topic
    )
    assert (stats.produced, stats.delivered, stats.failed) == (n, n, 0)
    msgs = read_topic(topic, n)
    assert len(msgs) == n
    ids = sorted(record_json(m)["Id"] for m in msgs)
    assert ids == list(range(n))
    # Each user's events live in one partition (key = User) and keep their order there.
    part_of: dict[bytes, int | None] = {}
    last_id: dict[bytes, int] = {}
    for m in msgs:
        key = record_key(m)
        assert part_of.setdefault(key, m.partition()) == m.partition()
        eid = record_json(m)["Id"]
        assert eid > last_id.get(key, -1)
        last_id[key] = eid


def test_rate_2000_per_second_for_3_seconds_within_10_percent(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
) -> None:
    topic = topic_factory("rate")
    stats = replay_records(
        generate_records(None, seed=3),
        bootstrap=kafka_bootstrap,
        topic=topic,
        rate=2000,
        limit=6000,
    )
    assert stats.delivered == 6000 and stats.failed == 0
    assert stats.rate == pytest.approx(2000, rel=0.10)
    msgs = read_topic(topic, 6000)
    assert len(msgs) == 6000
    # Independent check: the records' create timestamps span ~3 s.
    stamps = sorted(m.timestamp()[1] for m in msgs)
    assert (stamps[-1] - stamps[0]) / 1000 == pytest.approx(3.0, rel=0.10)


def test_undeliverable_events_are_counted_as_failed(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    # The broker rejects every batch: records are larger than the topic allows.
    topic = topic_factory("tiny", config={"max.message.bytes": "100"})
    events = list(generate_events(200, seed=5))
    stats = replay(
        events,
        bootstrap=kafka_bootstrap,
        topic=topic,
        flush_timeout=30,
        producer_overrides={"message.timeout.ms": 10_000},
    )
    assert stats.produced == 200
    assert stats.failed == 200 and stats.delivered == 0 and not stats.ok
    assert stats.errors and "too large" in stats.errors[0].lower()


def test_loop_with_limit_renumbers_passes(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
) -> None:
    base = list(generate_events(50, seed=8))
    topic = topic_factory("loop")

    def passes(k: int) -> list[dict[str, Any]]:
        return [e | {"Id": e["Id"] + 50 * k} for e in base]

    stats = replay(passes, bootstrap=kafka_bootstrap, topic=topic, loop=True, limit=120)
    assert (stats.delivered, stats.passes) == (120, 3)
    ids = sorted(record_json(m)["Id"] for m in read_topic(topic, 120))
    assert ids == list(range(120))


def test_events_that_cannot_be_encoded_are_counted_not_sent(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
) -> None:
    events: list[dict[str, Any]] = list(generate_events(20, seed=6))
    broken = dict(events[3])
    del broken["User"]
    odd = dict(events[4]) | {"Amount": {1, 2}}  # a set is not JSON
    topic = topic_factory("invalid")
    stats = replay([*events, broken, odd], bootstrap=kafka_bootstrap, topic=topic)
    assert (stats.produced, stats.delivered, stats.failed) == (20, 20, 2)
    assert not stats.ok
    assert "missing key 'User'" in stats.errors[0] and "Id 3" in stats.errors[0]
    assert len(read_topic(topic, 20)) == 20


def test_users_table_publish_fails_loudly_when_the_broker_rejects_it(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("users-tiny", config={"max.message.bytes": "50"})
    with pytest.raises(ProducerError, match=r"users: 5 of 5 records not delivered"):
        publish_users(make_users(5), bootstrap=kafka_bootstrap, topic=topic, timeout=30)
