"""A real (tiny) hybrid training run, and the cold start that stays the plain autoencoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fraudstream.model import hybrid_score, load_model
from fraudstream.testing.datasets import synthetic_dataset
from fraudstream.trainer.data import Dataset
from fraudstream.trainer.features import raw_inputs_matrix
from fraudstream.trainer.pipeline import choose_split, run_training
from fraudstream.trainer.settings import TrainerSettings

pytestmark = [
    pytest.mark.timeout(1500),  # a real training; slow on the shared, loaded machine
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Keras 3 on NumPy 2 __array__
]


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("hybrid")
    ds = synthetic_dataset(2000, seed=5, fraud_rate=0.06)
    settings = TrainerSettings(epochs=5, classifier_epochs=8, batch_size=128, seed=3, log_dir=None)
    return ds, run_training(ds, settings, root / "models")


def test_frauds_in_training_make_a_hybrid_artifact(hybrid) -> None:  # type: ignore[no-untyped-def]
    ds, outcome = hybrid
    names = sorted(p.name for p in outcome.path.iterdir())
    assert names == [
        "README.md",
        "classifier.keras",
        "manifest.json",
        "metrics.json",
        "model.keras",
        "weights.npz",
    ]
    doc = json.loads((outcome.path / "manifest.json").read_text())
    assert doc["format_version"] == 2
    assert doc["supervised"]["inputs"] == ["features", "errors", "anomaly"]
    assert doc["supervised"]["layers"] == [
        {"units": 16, "activation": "tanh"},
        {"units": 1, "activation": "linear"},
    ]
    assert doc["training"]["classifier"]["epochs_run"] >= 1
    metrics = outcome.metrics
    assert metrics["served"] == "hybrid" == outcome.served
    # every fraud falls in the period of its own time
    assert sum(metrics["frauds"].values()) == int((ds.label == 1).sum())
    assert metrics["frauds"]["train"] >= 20 and metrics["frauds"]["test"] > 0
    assert set(metrics["baselines"]) == {
        "isolation_forest",
        "pca_reconstruction",
        "supervised_only",
    }
    assert {"hybrid", "autoencoder", "supervised_only"} <= set(outcome.test_scores)
    assert set(outcome.val_model_scores) == set(outcome.test_scores)
    # the synthetic frauds are learnable: far better than a random ranking (0.5)
    assert metrics["hybrid"]["roc_auc"] > 0.9
    card = (outcome.path / "README.md").read_text()
    assert "Hybrid" in card and "supervised_only" in card


def test_numpy_hybrid_matches_keras_on_the_saved_files(hybrid) -> None:  # type: ignore[no-untyped-def]
    import keras

    ds, outcome = hybrid
    model = load_model(outcome.path)
    assert model.is_hybrid
    ae = keras.models.load_model(outcome.path / "model.keras")
    clf = keras.models.load_model(outcome.path / "classifier.keras")
    x_raw = raw_inputs_matrix(ds.raw, model.raw_inputs)
    x = model.preprocess(x_raw)
    z = model.supervised_inputs(x, ae.predict(x.astype(np.float32), verbose=0))
    keras_scores = hybrid_score(clf.predict(z.astype(np.float32), verbose=0)[:, 0])
    numpy_scores = model.score(x_raw)
    rel = np.abs(keras_scores - numpy_scores) / np.maximum(1.0, np.abs(numpy_scores))
    assert rel.max() < 1e-5
    assert outcome.metrics["parity_max_rel_diff"] < 1e-5
    np.testing.assert_allclose(model.feature_errors(x_raw).mean(axis=1), numpy_scores, rtol=1e-12)


def test_threshold_is_chosen_on_validation_normals(hybrid) -> None:  # type: ignore[no-untyped-def]
    _, outcome = hybrid
    v = outcome.val_scores[outcome.val_labels == 0]
    assert (v > outcome.manifest.threshold).mean() == pytest.approx(0.01, abs=0.006)
    assert (outcome.val_labels == 1).any()  # validation holds the frauds of its period


def _without_frauds(ds: Dataset) -> Dataset:
    keep = ds.label != 1
    return Dataset(raw=ds.raw[keep], label=ds.label[keep], lineage=ds.lineage)


def test_cold_start_trains_todays_autoencoder_unchanged(tmp_path: Path) -> None:
    ds = _without_frauds(synthetic_dataset(1000, seed=8, fraud_rate=0.05))
    common = dict(epochs=3, batch_size=128, seed=4, log_dir=None, baselines=False)
    auto = run_training(ds, TrainerSettings(**common), tmp_path / "a", publish=False)
    off = run_training(ds, TrainerSettings(hybrid="off", **common), tmp_path / "b", publish=False)
    assert auto.served == off.served == "autoencoder"
    a, b = load_model(auto.path), load_model(off.path)
    assert not a.is_hybrid and a.manifest.format_version == 1
    assert "supervised" not in json.loads((auto.path / "manifest.json").read_text())
    assert not (auto.path / "classifier.keras").exists()
    with np.load(auto.path / "weights.npz") as wa, np.load(off.path / "weights.npz") as wb:
        assert wa.files == wb.files
        for k in wa.files:
            np.testing.assert_array_equal(wa[k], wb[k])
    assert a.threshold == b.threshold
    assert auto.metrics["split"] == off.metrics["split"]


def test_too_few_labelled_frauds_keep_the_plain_split() -> None:
    ds = synthetic_dataset(2000, seed=9, fraud_rate=0.05)
    split, hybrid = choose_split(ds, TrainerSettings(hybrid_min_frauds=10_000))
    assert not hybrid
    assert (ds.label[split.train] == 0).all()  # normals only: today's protocol
    split, hybrid = choose_split(ds, TrainerSettings())
    assert hybrid and (ds.label[split.train] == 1).any()
    split, hybrid = choose_split(ds, TrainerSettings(hybrid="off"))
    assert not hybrid and (ds.label[split.test] == 1).sum() == (ds.label == 1).sum()
