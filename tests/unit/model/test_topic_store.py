"""The model topic's record format without a broker: a bundle is chunked, reassembled,
verified; damaged, foreign, incomplete or mislabelled records never become a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraudstream.model import (
    ModelCorruptError,
    ModelNotFoundError,
    ModelStoreError,
    load_model,
    save_model,
)
from fraudstream.model.topic_store import TopicModelStore, _Tail, bundle_version, chunk_records


@pytest.fixture
def saved(tmp_path: Path, build_model: Callable[..., tuple]) -> Callable[[int], Path]:
    def make(seed: int) -> Path:
        manifest, weights = build_model(seed=seed)
        return save_model(tmp_path / "models", manifest, weights)

    return make


def _store() -> TopicModelStore:
    # Never connects: records are fed to it as its reader would.
    return TopicModelStore("127.0.0.1:1", "models-unit", chunk_bytes=1024)


def _feed(
    store: TopicModelStore, records: list[tuple[bytes, bytes | None]], start: int = 0
) -> None:
    for i, (key, value) in enumerate(records):
        store._apply(key, value, start + i)


def _candidates(store: TopicModelStore) -> list[str]:
    store._refresh = lambda: None  # type: ignore[method-assign]  # nothing to read
    return store.candidates()


def test_a_bundle_in_many_chunks_reassembles_to_the_same_model(saved, raw_rows):
    path = saved(1)
    version, bundle = bundle_version(path)
    records = chunk_records(version, bundle, 1024)
    assert len(records) == -(-len(bundle) // 1024) > 5
    assert [k for k, _ in records][:2] == [f"{version}/00000".encode(), f"{version}/00001".encode()]
    assert bundle_version(path)[1] == bundle, "the same version gives the same bytes"
    store = _store()
    _feed(store, list(reversed(records)))  # order of arrival does not matter
    assert _candidates(store) == [version]
    x = raw_rows(50)
    np.testing.assert_array_equal(store.load(version).score(x), load_model(path).score(x))


def test_the_last_published_version_comes_first_and_a_republished_one_again(saved):
    (v1, b1), (v2, b2) = bundle_version(saved(1)), bundle_version(saved(2))
    store = _store()
    _feed(store, chunk_records(v1, b1, 4096), 0)
    _feed(store, chunk_records(v2, b2, 4096), 100)
    assert _candidates(store) == [v2, v1]
    _feed(store, chunk_records(v1, b1, 4096), 200)  # a rollback: republish v1
    assert _candidates(store) == [v1, v2]


def test_an_incomplete_version_is_no_candidate(saved):
    version, bundle = bundle_version(saved(1))
    records = chunk_records(version, bundle, 1024)
    store = _store()
    _feed(store, records[:-1])
    assert _candidates(store) == []
    with pytest.raises(ModelNotFoundError, match="not \\(completely\\)"):
        store.load(version)
    _feed(store, [(records[0][0], None)], 50)  # a tombstone drops a chunk
    _feed(store, records[-1:], 51)
    assert _candidates(store) == []


def test_a_damaged_chunk_fails_the_checksum(saved):
    version, bundle = bundle_version(saved(1))
    records = chunk_records(version, bundle, 1024)
    key, value = records[3]
    head, _, data = value.partition(b"\n")
    records[3] = (key, head + b"\n" + bytes([data[0] ^ 0xFF]) + data[1:])
    store = _store()
    _feed(store, records)
    assert _candidates(store) == [version]  # complete, so the scorer tries it ...
    with pytest.raises(ModelCorruptError, match="checksum mismatch"):
        store.load(version)  # ... and refuses it


def test_a_bundle_whose_manifest_names_another_version_is_refused(saved):
    (v1, b1), (v2, _) = bundle_version(saved(1)), bundle_version(saved(2))
    store = _store()
    _feed(store, chunk_records(v2, b1, 1 << 20))  # v1's bytes under v2's name
    with pytest.raises(ModelCorruptError, match=f"the manifest says version {v1}"):
        store.load(v2)


def test_records_that_are_no_chunks_are_skipped_and_counted(saved):
    version, bundle = bundle_version(saved(1))
    ((key, value),) = chunk_records(version, bundle, 1 << 20)
    head = json.loads(value.partition(b"\n")[0])
    store = _store()
    _feed(
        store,
        [
            (b"junk", b"not a model"),
            (b"junk", json.dumps({**head, "format": 99}).encode() + b"\n"),
            (b"other/00000", value),  # key and header disagree
            (key, json.dumps({**head, "chunk": 3}).encode() + b"\n"),
        ],
    )
    assert store.corrupt_records == 4
    assert _candidates(store) == []
    _feed(store, [(key, value)], 10)
    assert _candidates(store) == [version]
    assert store.corrupt_records == 4


def test_publishing_a_directory_without_weights_names_the_file(tmp_path, saved):
    path = saved(1)
    (path / "weights.npz").unlink()
    with pytest.raises(ModelNotFoundError, match=r"weights\.npz is missing"):
        bundle_version(path)


class _Record:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self) -> None:
        return None

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k%d" % self._offset

    def value(self) -> bytes:
        return b"v%d" % self._offset


class _Partition:
    """What the reader sees of a partition of `size` records: it delivers from the offset
    assigned, and nothing from `stall_at` on (a broker that stops answering)."""

    def __init__(self, size: int, stall_at: int | None = None) -> None:
        self.size, self.stall_at, self.next = size, stall_at, 0

    def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
        return 0, self.size

    def assign(self, tps: list[Any]) -> None:
        self.next = tps[0].offset

    def poll(self, timeout: float) -> _Record | None:
        if self.next >= self.size or self.next == self.stall_at:
            return None
        self.next += 1
        return _Record(self.next - 1)


def test_a_read_cut_short_by_its_timeout_resumes_where_it_stopped() -> None:
    """The audit history appended every event again after a timed-out read (its position
    moved only when a read completed); the tail's moves with each record applied."""
    tail = _Tail("127.0.0.1:1", "models-unit__lifecycle")
    tail._consumer = _Partition(5, stall_at=3)  # type: ignore[assignment]
    applied: list[int] = []
    with pytest.raises(ModelStoreError, match="not read to its end"):
        tail.read_new(0.2, lambda key, value, offset: applied.append(offset))
    assert applied == [0, 1, 2] and tail.position == 3
    tail._consumer.stall_at = None  # type: ignore[union-attr]
    assert tail.read_new(5.0, lambda key, value, offset: applied.append(offset))
    assert applied == [0, 1, 2, 3, 4] and tail.position == 5
    assert tail.read_new(5.0, lambda key, value, offset: applied.append(offset))  # nothing new
    assert applied == [0, 1, 2, 3, 4]
