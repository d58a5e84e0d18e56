"""Scorers load their model from the compacted model topic (FRAUDSTREAM_MODEL_STORE=topic):
with the model directory deleted entirely a fresh scorer serves the latest version, and a
corrupt model record is refused and counted while the old model serves on."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.kafka.admin import create_topics, delete_topics
from fraudstream.kafka.clients import producer_config
from fraudstream.kafka.reader import read_topic
from fraudstream.model import load_model
from fraudstream.model.announcements import announce
from fraudstream.model.topic_store import TopicModelStore, bundle_version, chunk_records
from fraudstream.testing.scorer import decode_all, make_events, publish_pca_model
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


@pytest.fixture
def model_topics(kafka_admin: AdminClient) -> Iterator[tuple[str, str]]:
    """(model store topic, announcement topic), unique to the test."""
    names = (f"model-store-{uuid.uuid4().hex[:10]}", f"model-news-{uuid.uuid4().hex[:10]}")
    create_topics(kafka_admin, names[1:])  # the listener needs the announcement topic
    yield names
    delete_topics(kafka_admin, list(names))


def _publish(bootstrap: str, topic: str, version_dir: Path) -> str:
    store = TopicModelStore(bootstrap, topic, chunk_bytes=16 * 1024)
    try:
        return store.publish(version_dir)
    finally:
        store.close()


def _reloads(text: str, result: str) -> float:
    m = re.search(rf'fraudstream_model_reloads_total\{{result="{result}"\}} ([0-9.]+)', text)
    return float(m.group(1)) if m else 0.0


def test_fresh_scorer_loads_the_latest_model_from_the_topic_with_no_model_directory(
    tmp_path: Path,
    kafka_bootstrap: str,
    schema_registry_url: str,
    topics: Any,
    live_producer: Any,
    model_topics: tuple[str, str],
    run_scorer: Callable[..., Any],
) -> None:
    store_topic, news_topic = model_topics
    trainer_dir = tmp_path / "trainer-models"
    v1 = publish_pca_model(trainer_dir, seed=3)
    v2 = publish_pca_model(trainer_dir, seed=8, bias=0.05)
    m2 = load_model(trainer_dir / v2)
    assert _publish(kafka_bootstrap, store_topic, trainer_dir / v1) == v1
    assert _publish(kafka_bootstrap, store_topic, trainer_dir / v2) == v2
    shutil.rmtree(tmp_path)  # every model directory, the scorer fixture's included
    assert not tmp_path.exists()

    rs = run_scorer(
        model_store="topic",
        topic_model_store=store_topic,
        topic_models=news_topic,
        model_dir=tmp_path / "models",
    )
    rs.wait_ready(60)
    assert rs.scorer.serving is not None and rs.scorer.serving.version == v2
    events = make_events(600)
    live_producer.send(events)
    recs = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, topics.scores, expect=600, timeout=60, read_committed=False),
    )
    assert sorted(r["id"] for r in recs) == [e["Id"] for e in events]
    assert {r["model_version"] for r in recs} == {v2}
    by_id = {e["Id"]: e for e in events}
    x = np.array([[by_id[r["id"]][c] for c in FEATURE_COLUMNS] for r in recs])
    np.testing.assert_allclose([r["score"] for r in recs], m2.score(x), rtol=1e-9)
    text = httpx.get(rs.url("/metrics")).text
    assert _reloads(text, "ok") == 1.0 and _reloads(text, "failed") == 0.0
    assert not (tmp_path / "models").exists(), "the topic store writes no directory"


def test_corrupt_model_record_is_refused_and_counted_and_the_old_model_serves_on(
    tmp_path: Path,
    kafka_bootstrap: str,
    schema_registry_url: str,
    topics: Any,
    live_producer: Any,
    model_topics: tuple[str, str],
    run_scorer: Callable[..., Any],
) -> None:
    store_topic, news_topic = model_topics
    made = tmp_path / "trainer-models"
    v1 = publish_pca_model(made, seed=3)
    _publish(kafka_bootstrap, store_topic, made / v1)
    rs = run_scorer(
        model_store="topic",
        topic_model_store=store_topic,
        topic_models=news_topic,
        model_dir=tmp_path / "none",
        reload_interval_s=30.0,  # only the announcement makes it look again
    )
    rs.wait_ready(60)
    wait_until(
        lambda: rs.scorer.announcements is not None and rs.scorer.announcements.assigned.is_set(),
        30,
        "the announcement listener's assignment",
    )

    # v2 arrives damaged: one byte of one chunk flipped, plus a record that is no chunk.
    v2 = publish_pca_model(made, seed=8, bias=0.05)
    version, bundle = bundle_version(made / v2)
    records = chunk_records(version, bundle, 16 * 1024)
    key, value = records[-1]
    records[-1] = (key, value[:-1] + bytes([value[-1] ^ 0x40]))
    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(store_topic, b"garbage", b"junk")
    for k, v in records:
        producer.produce(store_topic, v, k)
    assert producer.flush(10) == 0
    from fraudstream.model import read_manifest

    announce(kafka_bootstrap, news_topic, read_manifest(made / v2), f"{store_topic}/{v2}")
    wait_until(
        lambda: _reloads(httpx.get(rs.url("/metrics")).text, "failed"),
        30,
        "a refused reload",
        done=lambda k: k >= 1,
    )
    assert rs.scorer.watcher.store.corrupt_records == 1
    assert rs.scorer.serving is not None and rs.scorer.serving.version == v1

    events = make_events(300)
    live_producer.send(events)
    msgs = read_topic(kafka_bootstrap, topics.scores, expect=300, timeout=60, read_committed=False)
    versions = Counter(r["model_version"] for r in decode_all(schema_registry_url, msgs))
    assert versions == {v1: 300}, "the old model serves on"

    # A good version published afterwards is taken at its announcement.
    v3 = publish_pca_model(made, seed=11, bias=0.02)
    _publish(kafka_bootstrap, store_topic, made / v3)
    announce(kafka_bootstrap, news_topic, read_manifest(made / v3), f"{store_topic}/{v3}")
    wait_until(
        lambda: getattr(rs.scorer.serving, "version", None), 30, "v3", done=lambda v: v == v3
    )
    text = httpx.get(rs.url("/metrics")).text
    assert _reloads(text, "ok") == 2.0
    assert _reloads(text, "failed") >= 1.0
    assert f'fraudstream_model_info{{version="{v3}"}} 1.0' in text


def _committed(admin: AdminClient, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on `topic` (what KEDA's Kafka scaler reads)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    parts = [TopicPartition(topic, p) for p in range(4)]
    (fut,) = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, parts)]
    ).values()
    return {tp.partition: tp.offset for tp in fut.result(10).topic_partitions if tp.offset >= 0}


def test_no_offsets_are_committed_before_a_model_is_loaded(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topics: Any,
    live_producer: Any,
    model_topics: tuple[str, str],
    run_scorer: Callable[..., Any],
) -> None:
    """KEDA (offsetResetPolicy=latest, scaleToZeroOnInvalidOffset) sees lag 0 while the group
    has no committed offset: a scorer without a model must not join the group."""
    store_topic, news_topic = model_topics
    rs = run_scorer(
        model_store="topic",
        topic_model_store=store_topic,
        topic_models=news_topic,
        model_dir=tmp_path / "none",
    )
    live_producer.send(make_events(200))
    time.sleep(2.0)
    assert rs.scorer.serving is None and not rs.scorer.assigned
    group = rs.scorer.settings.group
    assert _committed(kafka_admin, group, topics.input) == {}
    v1 = publish_pca_model(tmp_path / "made", seed=3)
    _publish(kafka_bootstrap, store_topic, tmp_path / "made" / v1)
    rs.wait_ready(60)
    wait_until(
        lambda: _committed(kafka_admin, group, topics.input),
        30,
        "200 offsets committed",
        done=lambda c: sum(c.values()) == 200,
    )
