"""Model loading for serving: validation, refusal of broken artifacts, hot swap."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from fraudstream.model import NumpyModel, load_model, write_latest
from fraudstream.scorer.errors import ModelRejectedError
from fraudstream.scorer.reload import ModelWatcher, canned_batch, prepare
from fraudstream.testing.scorer import publish_pca_model


def test_serving_model_scores_like_the_model(model_store: tuple[Path, str]) -> None:
    d, version = model_store
    model = load_model(d / version)
    serving = prepare(model)
    x = canned_batch(200, seed=3)
    scores, fe = serving.score(x)
    raw = x[:, serving.input_idx]
    np.testing.assert_allclose(scores, model.score(raw), rtol=1e-12)
    np.testing.assert_allclose(fe, model.feature_errors(raw), rtol=1e-12)
    assert serving.version == version and serving.score_is_mean


def test_hour_features_take_time_from_the_event(tmp_path: Path) -> None:
    version = publish_pca_model(tmp_path, seed=4, hours=True)
    serving = prepare(load_model(tmp_path / version))
    assert list(serving.input_idx[-1:]) == [0], "Time is column 0 of the decoded rows"


def test_model_needing_unknown_inputs_is_refused(model_store: tuple[Path, str]) -> None:
    d, version = model_store
    model = load_model(d / version)
    raw = model.manifest.model_copy(
        update={
            "preprocessing": model.manifest.preprocessing.model_copy(
                update={"sources": ["Velocity", *model.manifest.preprocessing.sources[1:]]}
            )
        }
    )
    model.manifest = raw
    with pytest.raises(ModelRejectedError, match="Velocity"):
        prepare(model)


def test_watcher_waits_then_loads_then_refuses_broken_and_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    results: list[tuple[str, bool]] = []
    w = ModelWatcher(tmp_path, on_result=lambda v, ok, why: results.append((v, ok)))
    caplog.set_level(logging.WARNING)
    assert not w.check() and w.current is None
    assert "no model published" in caplog.text

    v1 = publish_pca_model(tmp_path, seed=1)
    assert w.check() and w.current is not None and w.current.version == v1
    assert not w.check(), "same version: no reload"

    # A broken version: NaN weights. LATEST points at it; the old model keeps serving.
    v2 = publish_pca_model(tmp_path, seed=2, publish=False)
    npz = dict(np.load(tmp_path / v2 / "weights.npz"))
    npz["W0"][0, 0] = np.nan
    np.savez(tmp_path / v2 / "weights.npz", **npz)
    write_latest(tmp_path, v2)
    caplog.clear()
    assert not w.check()
    assert w.current.version == v1
    assert f"model {v2} refused" in caplog.text and "NaN" in caplog.text
    assert not w.check(), "a refused version is not retried every poll"

    # A truncated manifest is refused too.
    v3 = publish_pca_model(tmp_path, seed=3, publish=False)
    (tmp_path / v3 / "manifest.json").write_text(json.dumps({"format_version": 1})[:10])
    write_latest_unchecked(tmp_path, v3)
    assert not w.check() and w.current.version == v1

    # A directory that vanished under LATEST.
    v4 = publish_pca_model(tmp_path, seed=4, publish=False)
    write_latest(tmp_path, v4)
    shutil.rmtree(tmp_path / v4)
    assert not w.check() and w.current.version == v1

    v5 = publish_pca_model(tmp_path, seed=5)
    assert w.check() and w.current.version == v5
    assert results == [(v1, True), (v2, False), (v3, False), (v5, True)]


def write_latest_unchecked(root: Path, version: str) -> None:
    (root / "LATEST").write_text(version + "\n")


def test_wake_checks_latest_before_the_interval(tmp_path: Path) -> None:
    import time

    first = publish_pca_model(tmp_path, seed=4)
    w = ModelWatcher(tmp_path, interval_s=60.0)
    w.start()
    try:
        assert w.current is not None and w.current.version == first
        second = publish_pca_model(tmp_path, seed=5, bias=0.5)
        time.sleep(0.3)
        assert w.current.version == first, "the 60 s poll has not run"
        w.wake()
        deadline = time.monotonic() + 10
        while w.current.version != second and time.monotonic() < deadline:
            time.sleep(0.02)
        assert w.current.version == second
    finally:
        w.stop()


def test_a_version_that_failed_on_a_transient_read_error_is_retried(tmp_path: Path) -> None:
    import time

    results: list[tuple[str, bool]] = []
    version = publish_pca_model(tmp_path, seed=5)
    weights = tmp_path / version / "weights.npz"
    aside = tmp_path / "weights.aside"
    weights.rename(aside)
    w = ModelWatcher(
        tmp_path, interval_s=0.01, on_result=lambda v, ok, why: results.append((v, ok))
    )
    assert not w.check() and w.current is None
    aside.rename(weights)  # the read error was transient
    time.sleep(0.05)
    assert w.check() and w.current is not None and w.current.version == version
    assert results == [(version, False), (version, True)]


def test_corrupt_compressed_weights_are_a_counted_failed_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zlib

    import fraudstream.model.store as store

    results: list[tuple[str, bool]] = []
    version = publish_pca_model(tmp_path, seed=6)

    def corrupt(*args: object, **kwargs: object) -> None:
        raise zlib.error("Error -3 while decompressing data: invalid distance too far back")

    monkeypatch.setattr(store.np, "load", corrupt)
    w = ModelWatcher(
        tmp_path, interval_s=0.01, on_result=lambda v, ok, why: results.append((v, ok))
    )
    assert not w.check() and w.current is None
    assert results == [(version, False)]


class _ListedStore:
    """A `ModelStore` over saved version directories, offered in a given order (the topic
    store's shape: several candidates, newest first) without a broker."""

    def __init__(self, root: Path, order: list[str]) -> None:
        self.root, self.order, self.closed = root, order, False

    @property
    def location(self) -> str:
        return f"listed {self.root}"

    def candidates(self) -> list[str]:
        return list(self.order)

    def load(self, version: str) -> NumpyModel:
        return load_model(self.root / version)

    def publish(self, version_dir: Path | str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True


def _broken(root: Path, seed: int) -> str:
    version = publish_pca_model(root, seed=seed, publish=False)
    npz = dict(np.load(root / version / "weights.npz"))
    npz["W1"][:] = np.nan
    np.savez(root / version / "weights.npz", **npz)
    return version


def test_fresh_watcher_passes_a_refused_newest_over_for_the_next_valid_one(tmp_path: Path):
    good = publish_pca_model(tmp_path, seed=3, publish=False)
    bad = _broken(tmp_path, seed=4)
    results: list[tuple[str, bool]] = []
    store = _ListedStore(tmp_path, [bad, good])
    w = ModelWatcher(store, on_result=lambda v, ok, why: results.append((v, ok)))
    assert w.check()
    assert w.current is not None and w.current.version == good
    assert results == [(bad, False), (good, True)]  # the refusal is counted
    assert not w.check()  # serving: a refused newest does not replace it, nor is it retried yet
    assert results == [(bad, False), (good, True)]
    w.stop()
    assert store.closed


def test_serving_watcher_keeps_its_model_when_the_newest_is_refused(tmp_path: Path):
    v1 = publish_pca_model(tmp_path, seed=3, publish=False)
    results: list[tuple[str, bool]] = []
    store = _ListedStore(tmp_path, [v1])
    w = ModelWatcher(store, interval_s=60.0, on_result=lambda v, ok, why: results.append((v, ok)))
    assert w.check() and w.current is not None and w.current.version == v1
    bad = _broken(tmp_path, seed=4)
    store.order = [bad, v1]
    assert not w.check()
    assert w.current.version == v1 and results[-1] == (bad, False)
    v3 = publish_pca_model(tmp_path, seed=5, publish=False)
    store.order = [v3, bad, v1]
    assert w.check() and w.current.version == v3
