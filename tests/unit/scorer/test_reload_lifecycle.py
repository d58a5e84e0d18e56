"""The watcher follows lifecycle changes: a promote switches version, a set-threshold
override changes the serving threshold of the same version without reloading it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fraudstream.model import DirectoryModelStore
from fraudstream.model.lifecycle import mark_candidate, promote, rollback, set_threshold
from fraudstream.scorer.reload import ModelWatcher, canned_batch
from fraudstream.testing.scorer import publish_pca_model


def test_threshold_override_applies_to_its_version_only(tmp_path: Path) -> None:
    v1 = publish_pca_model(tmp_path, seed=1)
    v2 = publish_pca_model(tmp_path, seed=2, publish=False)
    store = DirectoryModelStore(tmp_path)
    watcher = ModelWatcher(store)
    assert watcher.check() and watcher.current is not None
    first = watcher.current
    manifest_t = first.threshold
    assert not watcher.check(), "nothing changed"

    set_threshold(store, manifest_t * 2, by="t", reason="budget")
    assert watcher.check()
    now = watcher.current
    assert now is not first and now.version == v1 and now.model is first.model
    assert now.threshold == now.writer.threshold == manifest_t * 2
    scores, _ = now.score(canned_batch())
    assert np.array_equal(scores, first.score(canned_batch())[0]), "same model, same scores"

    promote(store, v2, by="t", reason="new")
    assert watcher.check() and watcher.current.version == v2
    assert watcher.current.threshold == float(store.manifest(v2).threshold), "not inherited"

    rollback(store, by="t", reason="back")
    assert watcher.check() and watcher.current.version == v1
    assert watcher.current.threshold == manifest_t * 2, "a rollback restores v1's override"


def test_the_candidate_is_loaded_as_challenger_beside_the_champion(tmp_path: Path) -> None:
    v1 = publish_pca_model(tmp_path, seed=1)
    v2 = publish_pca_model(tmp_path, seed=2, publish=False)
    store = DirectoryModelStore(tmp_path)
    watcher = ModelWatcher(store)
    watcher.check()
    assert watcher.challenger is None
    mark_candidate(store, v2, by="t", reason="shadow")
    assert watcher.check()
    assert watcher.current is not None and watcher.current.version == v1
    assert watcher.challenger is not None and watcher.challenger.version == v2
    c_scores, _ = watcher.challenger.score(canned_batch())
    assert not np.array_equal(c_scores, watcher.current.score(canned_batch())[0])
    assert not watcher.check(), "nothing changed"
    promote(store, v2, by="t", reason="won")
    assert watcher.check()
    assert watcher.current.version == v2 and watcher.challenger is None
