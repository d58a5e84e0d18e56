"""`create_topics` takes the replication factor from the settings (never a hard-coded 1):
-1 (the default) leaves it to the broker's default.replication.factor; a factor the cluster
cannot satisfy is refused with a one-line error naming the topic."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.config import get_settings
from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka.admin import create_topics, delete_topics

pytestmark = pytest.mark.integration


def _replicas(admin: AdminClient, topic: str) -> set[int]:
    md = admin.list_topics(topic, timeout=10).topics[topic]
    return {len(p.replicas) for p in md.partitions.values()}


def test_default_is_the_brokers_replication_factor(kafka_admin: AdminClient) -> None:
    assert get_settings().topic_replication_factor == -1
    topic = f"rf-{uuid.uuid4().hex[:8]}"
    create_topics(kafka_admin, [topic], partitions=2)
    try:
        assert _replicas(kafka_admin, topic) == {1}  # the one local broker's default
    finally:
        delete_topics(kafka_admin, [topic])


def test_setting_is_used_and_an_impossible_factor_is_refused(
    kafka_admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_TOPIC_REPLICATION_FACTOR", "3")
    get_settings.cache_clear()
    topic = f"rf-{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(KafkaUnavailableError, match=f"could not create topic {topic}"):
            create_topics(kafka_admin, [topic], partitions=1)
    finally:
        monkeypatch.delenv("FRAUDSTREAM_TOPIC_REPLICATION_FACTOR")
        get_settings.cache_clear()
    assert topic not in kafka_admin.list_topics(timeout=10).topics


def test_partition_counts_are_settings_per_topic(
    kafka_admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    named, other = f"parts-{uuid.uuid4().hex[:8]}", f"parts-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FRAUDSTREAM_TOPIC_PARTITIONS", f'{{"{named}": 6}}')
    get_settings.cache_clear()
    try:
        create_topics(kafka_admin, [named, other], partitions=2)
        md = kafka_admin.list_topics(timeout=10).topics
        assert len(md[named].partitions) == 6  # the setting wins over the creator's count
        assert len(md[other].partitions) == 2  # a topic it does not name keeps the caller's
    finally:
        monkeypatch.delenv("FRAUDSTREAM_TOPIC_PARTITIONS")
        get_settings.cache_clear()
        delete_topics(kafka_admin, [named, other])
