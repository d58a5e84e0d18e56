"""The artifact on disk: round trip, atomic LATEST, and clear errors for broken files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fraudstream.model import (
    ModelCorruptError,
    ModelError,
    ModelManifest,
    ModelNotFoundError,
    list_versions,
    load_model,
    make_version,
    resolve_latest,
    save_model,
    write_latest,
)


def test_round_trip_scores_identically(tmp_path: Path, build_model, raw_rows) -> None:
    manifest, weights = build_model(hours=True)
    path = save_model(tmp_path, manifest, weights, extra_files={"README.md": "# card\n"})
    assert path == tmp_path / manifest.version
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "manifest.json", "weights.npz"]
    loaded = load_model(path)
    assert loaded.manifest == manifest
    raw = raw_rows(30, True)
    from fraudstream.model import NumpyModel

    np.testing.assert_array_equal(loaded.score(raw), NumpyModel(manifest, weights).score(raw))
    on_disk = json.loads((path / "manifest.json").read_text())
    assert on_disk["raw_inputs"][-1] == "Time"
    assert on_disk["format_version"] == 1


def test_save_leaves_no_temp_dir_and_refuses_overwrite(tmp_path: Path, build_model) -> None:
    manifest, weights = build_model()
    save_model(tmp_path, manifest, weights)
    with pytest.raises(ModelError, match="already exists"):
        save_model(tmp_path, manifest, weights)
    assert [p.name for p in tmp_path.iterdir()] == [manifest.version]


def test_failed_save_cleans_up(tmp_path: Path, build_model) -> None:
    manifest, weights = build_model()
    with pytest.raises(FileNotFoundError):
        save_model(tmp_path, manifest, weights, keras_path=tmp_path / "nope.keras")
    assert list(tmp_path.iterdir()) == []


def test_latest_pointer(tmp_path: Path, build_model) -> None:
    assert resolve_latest(tmp_path) is None
    m1, w1 = build_model(seed=1)
    m2, w2 = build_model(seed=2)
    assert m1.version != m2.version
    save_model(tmp_path, m1, w1)
    save_model(tmp_path, m2, w2)
    write_latest(tmp_path, m1.version)
    assert resolve_latest(tmp_path) == tmp_path / m1.version
    assert load_model(tmp_path).version == m1.version
    write_latest(tmp_path, m2.version)
    assert load_model(tmp_path).version == m2.version
    assert list_versions(tmp_path) == sorted([m1.version, m2.version])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_latest_refuses_missing_version(tmp_path: Path, build_model) -> None:
    m, w = build_model()
    save_model(tmp_path, m, w)
    write_latest(tmp_path, m.version)
    with pytest.raises(ModelNotFoundError):
        write_latest(tmp_path, "20990101T000000Z-deadbeef")
    assert (tmp_path / "LATEST").read_text().strip() == m.version
    (tmp_path / "LATEST").write_text("garbage\n")
    with pytest.raises(ModelCorruptError, match="not a model version"):
        resolve_latest(tmp_path)
    (tmp_path / "LATEST").write_text("20990101T000000Z-deadbeef\n")
    with pytest.raises(ModelNotFoundError, match=r"has no manifest\.json"):
        load_model(tmp_path)


def test_version_name_has_time_and_content_hash(build_model) -> None:
    _, w = build_model(seed=3)
    v1 = make_version(w, {"a": 1})
    v2 = make_version(w, {"a": 2})
    assert v1[:17] != v2[:17] or v1[-8:] != v2[-8:]
    assert v1[-8:] != v2[-8:]
    assert len(v1) == len("20260101T000000Z-") + 8


@pytest.fixture
def saved(tmp_path: Path, build_model) -> tuple[Path, ModelManifest]:
    manifest, weights = build_model()
    return save_model(tmp_path, manifest, weights), manifest


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(tmp_path / "nothing")


def test_missing_files(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    (path / "weights.npz").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no weights\.npz"):
        load_model(path)
    (path / "manifest.json").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no manifest\.json"):
        load_model(path)


def test_truncated_weights(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    data = (path / "weights.npz").read_bytes()
    (path / "weights.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelCorruptError, match="unreadable weights"):
        load_model(path)


def _rewrite_weights(path: Path, **changes: np.ndarray) -> None:
    with np.load(path / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    os.remove(path / "weights.npz")
    np.savez(path / "weights.npz", **arrays)


def test_nan_weights(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    with np.load(path / "weights.npz") as npz:
        w1 = npz["W1"].copy()
    w1[0, 0] = np.nan
    _rewrite_weights(path, W1=w1)
    with pytest.raises(ModelCorruptError, match="layer 1: W1/b1 hold NaN"):
        load_model(path)


def test_shape_mismatch(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    _rewrite_weights(path, W0=np.zeros((29, 13), np.float32))
    with pytest.raises(ModelCorruptError, match=r"layer 0: W0 has shape \(29, 13\)"):
        load_model(path)


def test_missing_layer_array(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    with np.load(path / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "b2"}
    np.savez(path / "weights.npz", **arrays)
    with pytest.raises(ModelCorruptError, match="missing arrays b2"):
        load_model(path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(threshold="NaN"), "threshold"),
        (lambda m: m["preprocessing"]["std"].__setitem__(3, 0.0), "std"),
        (lambda m: m["preprocessing"]["mean"].pop(), "preprocessing.mean has 28"),
        (lambda m: m["layers"][-1].update(units=30), "last layer has 30 units"),
        (lambda m: m.update(format_version=2), "format_version"),
        (lambda m: m["layers"][0].update(activation="gelu_new"), "unsupported activation"),
        (lambda m: m.update(version="latest"), "version"),
    ],
)
def test_broken_manifest(saved, edit, match: str) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    data = json.loads((path / "manifest.json").read_text())
    edit(data)
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=match):
        load_model(path)


def test_manifest_not_json(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelCorruptError, match="invalid manifest"):
        load_model(path)
