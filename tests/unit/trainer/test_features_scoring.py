"""Features (fitted on training rows only) and score parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fraudstream.trainer.data import RAW_COLUMNS
from fraudstream.trainer.features import feature_spec, fit_preprocessing, transform
from fraudstream.trainer.scoring import fit_score


def test_preprocessing_standardizes_training_rows(dataset) -> None:
    ds = dataset(500)
    pre = fit_preprocessing(ds.raw[:300], hour_features=True)
    x = transform(pre, ds.raw[:300])
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-9)
    amount = ds.raw[:300, RAW_COLUMNS.index("Amount")]
    assert pre.mean[28] == pytest.approx(np.log1p(amount).mean())
    feats, sources, transforms = feature_spec(True)
    assert feats[-2:] == ["hour_sin", "hour_cos"] and sources[-1] == "Time"
    assert transforms[28] == "log1p"
    # fitted on the first 300 only: the other rows are not exactly standardized
    assert abs(transform(pre, ds.raw[300:]).mean(axis=0)).max() > 1e-6


def test_hour_features_are_circular() -> None:
    raw = np.zeros((3, len(RAW_COLUMNS)))
    raw[:, RAW_COLUMNS.index("Time")] = [0.0, 86_400.0, 43_200.0]
    pre = fit_preprocessing(raw, hour_features=True)
    from fraudstream.model.numpy_model import apply_transforms
    from fraudstream.trainer.features import source_matrix

    t = apply_transforms(source_matrix(raw, pre.sources), pre.transforms)
    np.testing.assert_allclose(t[0, -2:], t[1, -2:], atol=1e-12)  # midnight == midnight
    np.testing.assert_allclose(t[2, -2:], [0.0, -1.0], atol=1e-12)  # noon


def test_constant_column_does_not_divide_by_zero() -> None:
    raw = np.ones((10, len(RAW_COLUMNS)))
    pre = fit_preprocessing(raw, hour_features=False)
    assert np.isfinite(transform(pre, raw)).all()


def test_mahalanobis_score_uses_error_correlations() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 1))
    errors = np.hstack([a + 0.01 * rng.normal(size=(2000, 1)), a])  # almost identical columns
    spec = fit_score("mahalanobis", errors)
    prec = np.asarray(spec.error_precision)
    same = np.array([1.0, 1.0]) - spec.error_mean
    opposite = np.array([1.0, -1.0]) - spec.error_mean
    # equal squared error, but breaking the correlation is far more anomalous
    assert opposite @ prec @ opposite > 1000 * (same @ prec @ same)
    assert fit_score("mse", errors).kind == "mse"
    norm = fit_score("normalized_mse", errors)
    np.testing.assert_allclose(norm.feature_scale, (errors**2).mean(axis=0))


def test_merged_members_compute_the_mean_reconstruction() -> None:
    from fraudstream.model import LayerSpec
    from fraudstream.model.activations import activation
    from fraudstream.trainer.network import merge_members, merged_specs

    rng = np.random.default_rng(4)
    dims = [6, 4, 2, 4, 6]
    acts = ["tanh", "tanh", "tanh", "linear"]
    members = [
        [
            (rng.normal(size=(i, o)).astype(np.float32), rng.normal(size=o).astype(np.float32))
            for i, o in itertools.pairwise(dims)
        ]
        for _ in range(3)
    ]

    def forward(weights, x):  # type: ignore[no-untyped-def]
        h = x
        for (w, b), a in zip(weights, acts, strict=True):
            h = activation(a)(h @ w.astype(np.float64) + b)
        return h

    x = rng.normal(size=(10, 6))
    merged = merge_members(members)
    assert [w.shape for w, _ in merged] == [(6, 12), (12, 6), (6, 12), (12, 6)]
    expected = np.mean([forward(m, x) for m in members], axis=0)
    np.testing.assert_allclose(forward(merged, x), expected, rtol=1e-5, atol=1e-6)
    member = [LayerSpec(units=d, activation=a) for d, a in zip(dims[1:], acts, strict=True)]
    assert [s.units for s in merged_specs(member, 3)] == [12, 6, 12, 6]


def test_robust_covariance_ignores_a_few_odd_training_rows() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(1000, 1))
    errors = np.hstack([a + 0.01 * rng.normal(size=(1000, 1)), a, rng.normal(size=(1000, 1))])
    errors[:30, 0] += rng.normal(0, 3, 30)  # odd rows that widen the "tight" direction
    probe = np.array([[1.0, -1.0, 0.0]])

    def dist(spec) -> float:  # type: ignore[no-untyped-def]
        e = probe - np.asarray(spec.error_mean)
        return float((e @ np.asarray(spec.error_precision) @ e.T)[0, 0])

    classic = dist(fit_score("mahalanobis", errors, "classic"))
    robust = dist(fit_score("mahalanobis", errors, "robust", seed=0))
    both = fit_score("mahalanobis", errors, "both", seed=0)
    assert robust > 20 * classic
    assert dist(both) == pytest.approx(classic + robust, rel=0.05)  # up to the dropped constant


def test_max_mahalanobis_components_flag_one_percent_of_validation_each() -> None:
    from fraudstream.model.manifest import ScoreSpec

    rng = np.random.default_rng(6)
    cov = np.array([[1.0, 0.95, 0.0], [0.95, 1.0, 0.0], [0.0, 0.0, 1.0]])
    train = rng.multivariate_normal(np.zeros(3), cov, 3000)
    val = rng.multivariate_normal(np.zeros(3), cov, 5000)
    spec = fit_score("max_mahalanobis", train, seed=0, val_errors=val)
    assert isinstance(spec, ScoreSpec) and spec.components is not None
    assert [c.name for c in spec.components] == ["classic", "robust"]
    for c in spec.components:
        e = val - np.asarray(c.error_mean)
        q = np.einsum("ij,jk,ik->i", e, np.asarray(c.error_precision), e) / 3 / c.scale
        assert (q > 1.0).mean() == pytest.approx(0.01, abs=0.002)
    with pytest.raises(ValueError, match="needs validation errors"):
        fit_score("max_mahalanobis", train)
