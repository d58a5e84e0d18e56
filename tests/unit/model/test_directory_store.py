"""The directory store behind the `ModelStore` interface: LATEST is the one candidate;
publishing copies a version in and moves LATEST."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fraudstream.model import (
    DirectoryModelStore,
    ModelCorruptError,
    ModelNotFoundError,
    open_store,
    save_model,
    write_latest,
)
from fraudstream.model.topic_store import TopicModelStore


def test_latest_is_the_only_candidate_and_loads(tmp_path: Path, build_model: Callable[..., tuple]):
    store = DirectoryModelStore(tmp_path)
    assert store.candidates() == []
    m1, w1 = build_model(seed=1)
    m2, w2 = build_model(seed=2)
    save_model(tmp_path, m1, w1)
    save_model(tmp_path, m2, w2)
    write_latest(tmp_path, m1.version)
    assert store.candidates() == [m1.version]
    assert store.load(m1.version).version == m1.version
    with pytest.raises(ModelNotFoundError):
        store.load("../etc")


def test_publish_copies_a_version_in_and_points_latest_at_it(tmp_path, build_model):
    m1, w1 = build_model(seed=1)
    made = save_model(tmp_path / "trainer", m1, w1)
    store = DirectoryModelStore(tmp_path / "served")
    assert store.publish(made) == m1.version
    assert (tmp_path / "served" / m1.version / "weights.npz").is_file()
    assert store.candidates() == [m1.version]
    assert store.publish(tmp_path / "served" / m1.version) == m1.version  # in place: no copy


def test_a_broken_latest_is_reported_not_replaced(tmp_path):
    (tmp_path / "LATEST").write_text("garbage\n")
    with pytest.raises(ModelCorruptError):
        DirectoryModelStore(tmp_path).candidates()


def test_open_store_picks_the_kind(tmp_path):
    d = open_store("directory", model_dir=tmp_path, bootstrap="x:1", topic="t", chunk_bytes=1024)
    assert isinstance(d, DirectoryModelStore) and d.location == str(tmp_path)
    t = open_store("topic", model_dir=tmp_path, bootstrap="x:1", topic="t", chunk_bytes=2048)
    assert isinstance(t, TopicModelStore) and t.chunk_bytes == 2048 and t.location.endswith(" t")
