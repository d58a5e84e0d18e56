"""The NumPy forward pass: preprocessing, reconstruction and scores computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.model import FeatureMismatchError, NumpyModel, ScoreSpec


def _reference_forward(manifest, weights, raw):  # type: ignore[no-untyped-def]
    """An independent, loop-based re-implementation to check the vectorized one against."""
    n_feat = len(manifest.features)
    raw_names = manifest.raw_inputs
    x = np.zeros((raw.shape[0], n_feat))
    for j, (src, t) in enumerate(
        zip(manifest.preprocessing.sources, manifest.preprocessing.transforms, strict=True)
    ):
        col = raw[:, raw_names.index(src)]
        if t == "log1p":
            col = np.log(1.0 + col)
        elif t == "hour_sin":
            col = np.sin(2 * np.pi * ((col / 3600.0) % 24) / 24)
        elif t == "hour_cos":
            col = np.cos(2 * np.pi * ((col / 3600.0) % 24) / 24)
        x[:, j] = (col - manifest.preprocessing.mean[j]) / manifest.preprocessing.std[j]
    h = x
    for (w, b), spec in zip(weights, manifest.layers, strict=True):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if spec.activation == "tanh":
            h = np.tanh(h)
        elif spec.activation == "relu":
            h = np.maximum(h, 0)
    return x, h


@pytest.mark.parametrize("hours", [False, True])
def test_score_matches_reference_mse(build_model, raw_rows, hours: bool) -> None:
    manifest, weights = build_model(hours=hours)
    raw = raw_rows(50, hours)
    model = NumpyModel(manifest, weights)
    x_ref, xhat_ref = _reference_forward(manifest, weights, raw)
    np.testing.assert_allclose(model.preprocess(raw), x_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.reconstruct(x_ref), xhat_ref, rtol=1e-10, atol=1e-10)
    expected = ((x_ref - xhat_ref) ** 2).mean(axis=1)
    np.testing.assert_allclose(model.score(raw), expected, rtol=1e-10)
    assert model.raw_inputs == ([*manifest.features[:29], "Time"] if hours else manifest.features)


def test_normalized_score_divides_by_feature_scale(build_model, raw_rows) -> None:
    scale = np.linspace(0.1, 3.0, 29)
    manifest, weights = build_model(
        score=ScoreSpec(kind="normalized_mse", feature_scale=scale.tolist())
    )
    plain_manifest = manifest.model_copy(update={"score": ScoreSpec()})
    raw = raw_rows(20)
    plain = NumpyModel(plain_manifest, weights).feature_errors(raw)
    norm = NumpyModel(manifest, weights).feature_errors(raw)
    np.testing.assert_allclose(norm, plain / scale, rtol=1e-12)
    np.testing.assert_allclose(NumpyModel(manifest, weights).score(raw), norm.mean(axis=1))


def test_feature_errors_explain_the_outlier(build_model, raw_rows) -> None:
    manifest, weights = build_model()
    model = NumpyModel(manifest, weights)
    raw = raw_rows(5)
    raw[2, 13] = 80.0  # V14 far outside anything normal
    errors = model.feature_errors(raw)
    assert errors.shape == (5, 29)
    assert int(np.argmax(errors[2])) == 13
    assert model.score(raw)[2] == pytest.approx(errors[2].mean())
    assert model.score(raw)[2] > model.score(raw)[[0, 1, 3, 4]].max()


def test_single_row_and_threshold(build_model, raw_rows) -> None:
    manifest, weights = build_model()
    model = NumpyModel(manifest, weights)
    row = raw_rows(1)[0]
    assert model.score(row).shape == (1,)
    flags = model.is_anomalous(np.array([manifest.threshold - 1e-9, manifest.threshold + 1e-9]))
    assert flags.tolist() == [False, True]


def test_wrong_column_count_is_a_clear_error(build_model, raw_rows) -> None:
    model = NumpyModel(*build_model())
    with pytest.raises(FeatureMismatchError, match="29 columns"):
        model.score(raw_rows(3)[:, :28])


def test_raw_matrix_maps_names_case_insensitively(build_model, raw_rows) -> None:
    manifest, weights = build_model(hours=True)
    model = NumpyModel(manifest, weights)
    raw = raw_rows(2, True)
    records = [
        {name.upper(): float(v) for name, v in zip(model.raw_inputs, row, strict=True)}
        for row in raw
    ]
    np.testing.assert_array_equal(model.raw_matrix(records), raw)
    del records[1]["TIME"]
    with pytest.raises(FeatureMismatchError, match="record 1 lacks fields: Time"):
        model.raw_matrix(records)


def test_mahalanobis_score_is_the_error_distance(build_model, raw_rows) -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(29, 29))
    prec = a @ a.T + 29 * np.eye(29)  # symmetric positive definite
    mu = rng.normal(0, 0.1, 29)
    manifest, weights = build_model(
        score=ScoreSpec(kind="mahalanobis", error_mean=mu.tolist(), error_precision=prec.tolist())
    )
    model = NumpyModel(manifest, weights)
    raw = raw_rows(10)
    x = model.preprocess(raw)
    e = x - model.reconstruct(x) - mu
    expected = np.array([row @ prec @ row for row in e]) / 29
    np.testing.assert_allclose(model.score(raw), expected, rtol=1e-10)
    np.testing.assert_allclose(model.feature_errors(raw).sum(axis=1), expected * 29, rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "normalized_mse"}, "needs feature_scale"),
        ({"kind": "normalized_mse", "feature_scale": [1.0, 0.0]}, "finite and > 0"),
        ({"kind": "mahalanobis", "error_mean": [0.0, 0.0]}, "needs error_mean"),
        (
            {"kind": "mahalanobis", "error_mean": [0.0, 0.0], "error_precision": [[1.0]]},
            "2 x 2",
        ),
    ],
)
def test_score_spec_validation(kwargs, match: str) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=match):
        ScoreSpec(**kwargs)


def test_score_params_must_match_features(build_model) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="has 3 entries, features has 29"):
        build_model(score=ScoreSpec(kind="normalized_mse", feature_scale=[1.0, 1.0, 1.0]))


def test_max_mahalanobis_takes_the_larger_scaled_component(build_model, raw_rows) -> None:
    from fraudstream.model import ErrorComponent

    rng = np.random.default_rng(8)
    # each component stresses one half of the features: either may win on a given row
    halves = [
        np.r_[np.full(15, 10.0), np.full(14, 0.1)],
        np.r_[np.full(15, 0.1), np.full(14, 10.0)],
    ]
    comps = [
        ErrorComponent(
            error_mean=rng.normal(0, 0.1, 29).tolist(),
            error_precision=np.diag(h).tolist(),
            scale=scale,
        )
        for h, scale in zip(halves, (1.0, 1.3), strict=True)
    ]
    manifest, weights = build_model(score=ScoreSpec(kind="max_mahalanobis", components=comps))
    model = NumpyModel(manifest, weights)
    raw = raw_rows(40)
    x = model.preprocess(raw)
    d = x - model.reconstruct(x)
    per = []
    for c in comps:
        e = d - np.asarray(c.error_mean)
        per.append(np.einsum("ij,jk,ik->i", e, np.asarray(c.error_precision), e) / c.scale / 29)
    np.testing.assert_allclose(model.score(raw), np.maximum(*per), rtol=1e-10)
    terms = model.feature_errors(raw)
    np.testing.assert_allclose(terms.mean(axis=1), np.maximum(*per), rtol=1e-10)
    assert (np.asarray(per[0]) > per[1]).any() and (np.asarray(per[1]) > per[0]).any()
