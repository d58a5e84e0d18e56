"""The model topic on a real broker: the trainer's publish step writes chunked versions to a
compacted topic created through kafka/admin.py; a fresh reader (no model directory at all)
finds every complete version, the last published first, and reads only what is new after."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from fraudstream.kafka.admin import delete_topics
from fraudstream.kafka.clients import producer_config
from fraudstream.model import ModelCorruptError, ModelNotFoundError, load_model
from fraudstream.model.topic_store import TopicModelStore
from fraudstream.testing.scorer import publish_pca_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def model_topic(kafka_admin: AdminClient) -> Iterator[str]:
    name = f"models-{uuid.uuid4().hex[:10]}"
    yield name
    delete_topics(kafka_admin, [name])


@pytest.fixture
def open_store(kafka_bootstrap: str, model_topic: str) -> Iterator[Callable[..., TopicModelStore]]:
    opened: list[TopicModelStore] = []

    def make(chunk_bytes: int = 16 * 1024, keep_versions: int = 10) -> TopicModelStore:
        store = TopicModelStore(
            kafka_bootstrap, model_topic, chunk_bytes=chunk_bytes, keep_versions=keep_versions
        )
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


def test_versions_survive_the_loss_of_every_model_directory(
    tmp_path: Path, kafka_admin: AdminClient, model_topic: str, open_store
) -> None:
    trainer_dir = tmp_path / "trainer-models"
    reader = open_store()
    assert reader.candidates() == []  # no topic yet: nothing published, no error
    v1 = publish_pca_model(trainer_dir, seed=3)
    v2 = publish_pca_model(trainer_dir, seed=8, bias=0.05)
    expected = load_model(trainer_dir / v2)
    writer = open_store()
    assert writer.publish(trainer_dir / v1) == v1
    assert writer.publish(trainer_dir / v2) == v2
    shutil.rmtree(trainer_dir)

    md = kafka_admin.list_topics(model_topic, timeout=10).topics[model_topic]
    assert len(md.partitions) == 1
    (cfg,) = kafka_admin.describe_configs([ConfigResource("topic", model_topic)]).values()
    assert cfg.result(10)["cleanup.policy"].value == "compact"

    fresh = open_store()
    assert fresh.candidates() == [v2, v1]
    x = np.random.default_rng(0).normal(0, 1.5, (40, 29))
    x[:, 28] = np.abs(x[:, 28]) * 50
    np.testing.assert_array_equal(fresh.load(v2).score(x), expected.score(x))
    # the first reader follows incrementally: it sees both now too
    assert reader.candidates() == [v2, v1]


def test_a_damaged_record_on_the_topic_is_refused_and_a_garbage_one_counted(
    tmp_path: Path, kafka_bootstrap: str, model_topic: str, open_store
) -> None:
    v1 = publish_pca_model(tmp_path, seed=3)
    v2 = publish_pca_model(tmp_path, seed=8, bias=0.05)
    store = open_store(chunk_bytes=8 * 1024)
    store.publish(tmp_path / v1)
    from fraudstream.model.topic_store import bundle_version, chunk_records

    version, bundle = bundle_version(tmp_path / v2)
    records = chunk_records(version, bundle, 8 * 1024)
    key, value = records[1]
    records[1] = (key, value[:-1] + bytes([value[-1] ^ 0x01]))
    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(model_topic, b"not a model", b"junk")
    for k, v in records:
        producer.produce(model_topic, v, k)
    assert producer.flush(10) == 0

    assert store.candidates() == [v2, v1]
    with pytest.raises(ModelCorruptError, match="checksum mismatch"):
        store.load(v2)
    assert store.corrupt_records == 1
    assert store.load(v1).version == v1


def test_the_trainers_publish_step_puts_the_version_on_the_topic(
    tmp_path: Path, kafka_bootstrap: str, model_topic: str, open_store
) -> None:
    """`fraudstream train` with FRAUDSTREAM_MODEL_STORE=topic: after LATEST, the topic."""
    from fraudstream.config import Settings
    from fraudstream.trainer.cli import _publish_to_topic

    version = publish_pca_model(tmp_path, seed=5)
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        model_store="topic",
        topic_model_store=model_topic,
        model_chunk_bytes=4096,
    )
    where = _publish_to_topic(tmp_path / version, settings)
    assert where == f"kafka topic {model_topic}/{version}"
    store = open_store()
    assert store.candidates() == [version]
    assert store.load(version).version == version
    assert store.corrupt_records == 0


def test_versions_beyond_the_kept_number_are_tombstoned(
    tmp_path: Path, model_topic: str, open_store
) -> None:
    versions = [publish_pca_model(tmp_path, seed=s) for s in (3, 4, 5)]
    writer = open_store(keep_versions=2)
    for v in versions:
        writer.publish(tmp_path / v)
    fresh = open_store()
    assert fresh.candidates() == versions[:0:-1]  # the newest two, newest first
    assert writer.prune() == []  # nothing left to drop
    with pytest.raises(ModelNotFoundError):
        fresh.load(versions[0])
