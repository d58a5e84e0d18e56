"""The hybrid artifact (format 2): forward pass, explanation, round trip, errors, old artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fraudstream.model import (
    ModelCorruptError,
    ModelManifest,
    NumpyModel,
    ScoreSpec,
    hybrid_score,
    load_model,
    save_model,
)
from fraudstream.model.numpy_model import ANOMALY_FLOOR


def _reference_logit(
    model: NumpyModel, manifest: ModelManifest, raw: np.ndarray, sup
) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The supervised logit written out by hand from the manifest's description."""
    spec = manifest.supervised
    assert spec is not None
    x = model.preprocess(raw)
    x_hat = model.reconstruct(x)
    a = np.maximum(model.errors_from_reconstruction(x, x_hat).mean(axis=1), ANOMALY_FLOOR)
    parts = {"features": x, "errors": x - x_hat, "anomaly": np.log(a)[:, None]}
    z = (np.hstack([parts[b] for b in spec.inputs]) - spec.input_mean) / spec.input_std
    h = z
    for (w, b), layer in zip(sup, spec.layers, strict=True):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if layer.activation == "tanh":
            h = np.tanh(h)
    return h[:, 0]


@pytest.mark.parametrize("inputs", [("features", "errors", "anomaly"), ("features",), ("anomaly",)])
def test_hybrid_score_is_softplus_of_the_logit(build_hybrid, raw_rows, inputs) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid(inputs=inputs)
    model = NumpyModel(manifest, ae, sup)
    raw = raw_rows(50)
    logit = _reference_logit(model, manifest, raw, sup)
    # the float32 serving path against the float64 reference: the parity bound
    np.testing.assert_allclose(model.score(raw), np.logaddexp(0.0, logit), rtol=1e-5)
    assert (model.score(raw) >= 0).all()
    # the autoencoder alone stays available and is the format-1 score
    plain = NumpyModel(manifest.model_copy(update={"supervised": None, "format_version": 1}), ae)
    np.testing.assert_array_equal(model.anomaly_score(raw), plain.score(raw))


def test_hybrid_ranks_differently_from_the_autoencoder(build_hybrid, raw_rows) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid()
    model = NumpyModel(manifest, ae, sup)
    raw = raw_rows(200)
    assert np.corrcoef(model.score(raw), model.anomaly_score(raw))[0, 1] < 0.999


# The serving path stacks the per-feature blocks into one matrix in the manifest's order and
# takes the anomaly input apart: every layout must keep the exact attribution.
@pytest.mark.parametrize(
    "inputs",
    [
        ("features", "errors", "anomaly"),
        ("errors", "anomaly", "features"),
        ("features", "errors"),
        ("anomaly",),
    ],
)
def test_explanation_is_exact_and_sums_to_the_score(build_hybrid, raw_rows, inputs) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid(units=(8, 4), inputs=inputs)
    model = NumpyModel(manifest, ae, sup)
    raw = raw_rows(80)
    logit, contrib = model.logit_contributions(raw)
    np.testing.assert_allclose(
        logit, _reference_logit(model, manifest, raw, sup), rtol=1e-5, atol=1e-5
    )
    # DeepLIFT's rescale rule: contributions add up to the logit's distance from the reference
    np.testing.assert_allclose(contrib.sum(axis=1), logit - model.reference_logit, atol=1e-4)
    fe = model.feature_errors(raw)
    assert fe.shape == (80, len(model.features))
    assert (fe >= 0).all()
    np.testing.assert_allclose(fe.mean(axis=1), model.score(raw), rtol=1e-12)
    # the largest term is the feature pushing hardest towards fraud
    row = int(np.argmax(contrib.max(axis=1)))
    assert int(np.argmax(fe[row])) == int(np.argmax(contrib[row]))


def test_feature_dominating_the_logit_is_named_first(build_hybrid, raw_rows) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, _ = build_hybrid(inputs=("features",), units=())
    n = len(manifest.features)
    w = np.zeros((n, 1), np.float32)
    w[5, 0] = 3.0  # only V6 matters, and more is more fraudulent
    model = NumpyModel(manifest, ae, [(w, np.zeros(1, np.float32))])
    raw = raw_rows(10)
    raw[:, 5] = 50.0
    fe = model.feature_errors(raw)
    assert (fe.argmax(axis=1) == 5).all()
    np.testing.assert_allclose(fe[:, 5], n * model.score(raw))


def test_round_trip_through_the_artifact(tmp_path: Path, build_hybrid, raw_rows) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid()
    path = save_model(tmp_path, manifest, ae, supervised_weights=sup)
    on_disk = json.loads((path / "manifest.json").read_text())
    assert on_disk["format_version"] == 2
    assert on_disk["supervised"]["inputs"] == ["features", "errors", "anomaly"]
    with np.load(path / "weights.npz") as npz:
        assert sorted(npz.files) == sorted(
            [f"{p}{i}" for i in range(len(ae)) for p in ("W", "b")]
            + [f"S{p}{i}" for i in range(len(sup)) for p in ("W", "b")]
        )
    loaded = load_model(path)
    assert loaded.is_hybrid and loaded.manifest == manifest
    raw = raw_rows(40)
    np.testing.assert_array_equal(loaded.score(raw), NumpyModel(manifest, ae, sup).score(raw))
    np.testing.assert_array_equal(
        loaded.feature_errors(raw), NumpyModel(manifest, ae, sup).feature_errors(raw)
    )


def test_plain_manifest_on_disk_is_unchanged_and_old_artifacts_load(
    tmp_path: Path, build_model, raw_rows
) -> None:  # type: ignore[no-untyped-def]
    manifest, weights = build_model()
    path = save_model(tmp_path, manifest, weights)
    on_disk = json.loads((path / "manifest.json").read_text())
    assert "supervised" not in on_disk and on_disk["format_version"] == 1
    # an artifact written before hybrids existed: no supervised key, no S* arrays
    model = load_model(path)
    assert not model.is_hybrid
    raw = raw_rows(20)
    np.testing.assert_allclose(model.feature_errors(raw).mean(axis=1), model.score(raw))
    with pytest.raises(ModelCorruptError, match="no supervised part"):
        model.logit_contributions(raw)


def test_hybrid_serves_through_the_scorer_contract(build_hybrid) -> None:  # type: ignore[no-untyped-def]
    from fraudstream.scorer.reload import canned_batch, prepare

    manifest, ae, sup = build_hybrid()
    serving = prepare(NumpyModel(manifest, ae, sup))
    # one forward pass per batch suffices: the score is the mean of the explanation terms
    assert serving.score_is_mean
    scores, fe = serving.score(canned_batch(16))
    assert scores.shape == (16,) and fe.shape == (16, len(manifest.features))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(format_version=1), "cannot hold a supervised part"),
        (lambda m: m["supervised"].update(input_mean=[0.0]), "same length"),
        (lambda m: m["supervised"]["layers"][-1].update(units=2), "1 linear unit"),
        (lambda m: m["supervised"].update(inputs=["features", "features", "anomaly"]), "unique"),
        (lambda m: m["supervised"]["input_std"].__setitem__(0, 0.0), "input_std"),
    ],
)
def test_broken_hybrid_manifest(tmp_path: Path, build_hybrid, edit, match: str) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid()
    path = save_model(tmp_path, manifest, ae, supervised_weights=sup)
    doc = json.loads((path / "manifest.json").read_text())
    edit(doc)
    (path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(ModelCorruptError, match=match):
        load_model(path)


def test_format_2_without_supervised_part_is_refused(tmp_path: Path, build_model) -> None:
    manifest, weights = build_model()
    path = save_model(tmp_path, manifest, weights)
    doc = json.loads((path / "manifest.json").read_text())
    doc["format_version"] = 2
    (path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(ModelCorruptError, match="needs a supervised part"):
        load_model(path)


def test_missing_or_misshapen_supervised_weights(tmp_path: Path, build_hybrid) -> None:  # type: ignore[no-untyped-def]
    manifest, ae, sup = build_hybrid()
    with pytest.raises(ModelCorruptError, match="supervised weights hold 0 layers"):
        save_model(tmp_path, manifest, ae)
    with pytest.raises(ModelCorruptError, match="layer S0"):
        NumpyModel(manifest, ae, [(sup[0][0][:-1], sup[0][1]), sup[1]])
    path = save_model(tmp_path, manifest, ae, supervised_weights=sup)
    with np.load(path / "weights.npz") as npz:
        kept = {k: npz[k] for k in npz.files if k != "SW1"}
    np.savez(path / "weights.npz", **kept)  # type: ignore[arg-type]
    with pytest.raises(ModelCorruptError, match="missing arrays SW1"):
        load_model(path)


def test_anomaly_input_uses_the_mahalanobis_score(build_hybrid, build_model, raw_rows) -> None:  # type: ignore[no-untyped-def]
    n = 29
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (n, n))
    spec = ScoreSpec(
        kind="mahalanobis", error_mean=[0.0] * n, error_precision=(a @ a.T / n).tolist()
    )
    manifest, ae, sup = build_hybrid(inputs=("anomaly",), units=(), score=spec)
    model = NumpyModel(manifest, ae, sup)
    raw = raw_rows(30)
    w, b = sup[0]
    s = manifest.supervised
    assert s is not None
    z = (
        np.log(np.maximum(model.anomaly_score(raw), ANOMALY_FLOOR)) - s.input_mean[0]
    ) / s.input_std[0]
    np.testing.assert_allclose(
        model.score(raw), hybrid_score(z * float(w[0, 0]) + float(b[0])), rtol=1e-5
    )
