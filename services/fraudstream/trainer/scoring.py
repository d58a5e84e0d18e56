"""Fitting the score's parameters on the training rows' reconstruction errors.

See `fraudstream.model.manifest.ScoreSpec` for the formulas. The parameters come from the
training rows only (the validation rows choose the threshold, the test rows judge).

`max_mahalanobis` (the default) takes the larger of the classic and the robust distance,
each scaled on validation: the robust one ranks the frauds that break normal rows' error
relations far above every normal (high precision at 0.17 % prevalence), the classic one
also catches frauds that deviate moderately in many directions (recall at 1 % FPR).

For `mahalanobis` the error covariance can be estimated three ways (`covariance`):
- `classic`: the sample covariance of all training errors;
- `robust`: the Minimum Covariance Determinant (scikit-learn's MinCovDet), which ignores
  the most atypical training rows, so a few odd normals do not widen the directions in
  which normal errors are nearly zero: the directions frauds violate;
- `both`: the sum of the two quadratic forms, which is again one quadratic form
  `(e - m)' (P1 + P2) (e - m) + c` with `m = (P1 + P2)^-1 (P1 m1 + P2 m2)`; the constant `c`
  changes neither the ranking nor the threshold and is dropped.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.manifest import ErrorComponent, ScoreSpec
from fraudstream.trainer.settings import ScoreKind

log = logging.getLogger(__name__)

Covariance = Literal["classic", "robust", "both"]
# Ridge added to the error covariance, relative to its mean variance: keeps the inverse
# finite when a direction has (almost) no error on normal rows.
RIDGE = 1e-6
# MCD: share of training rows the robust estimate is computed from.
SUPPORT_FRACTION = 0.9
# MCD is O(n) but slow in absolute terms; beyond this many rows a random subset is used.
MCD_MAX_ROWS = 20_000


def _classic(errors: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mean = errors.mean(axis=0)
    cov = np.cov(errors, rowvar=False)
    cov = cov + RIDGE * max(float(np.trace(cov)) / cov.shape[0], 1e-12) * np.eye(cov.shape[0])
    return mean, np.linalg.inv(cov)


def _robust(
    errors: NDArray[np.float64], seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    from sklearn.covariance import MinCovDet

    rows = errors
    if len(rows) > MCD_MAX_ROWS:
        idx = np.random.default_rng(seed).choice(len(rows), MCD_MAX_ROWS, replace=False)
        rows = rows[np.sort(idx)]
    mcd = MinCovDet(support_fraction=SUPPORT_FRACTION, random_state=seed).fit(rows)
    cov = np.asarray(mcd.covariance_, np.float64)
    cov = cov + RIDGE * max(float(np.trace(cov)) / cov.shape[0], 1e-12) * np.eye(cov.shape[0])
    return np.asarray(mcd.location_, np.float64), np.linalg.inv(cov)


# max_mahalanobis: each component is divided by this quantile of its validation scores.
SCALE_QUANTILES = {"classic": 0.99, "robust": 0.99}


def _quadratic(errors: NDArray[np.float64], mean: NDArray[np.float64], prec: Any) -> Any:
    e = errors - mean
    return np.einsum("ij,jk,ik->i", e, prec, e)


def fit_score(
    kind: ScoreKind,
    errors: NDArray[np.float64],
    covariance: Covariance = "classic",
    seed: int = 0,
    val_errors: NDArray[np.float64] | None = None,
) -> ScoreSpec:
    """ScoreSpec for `kind` from reconstruction errors `x - x_hat` of training rows.

    `max_mahalanobis` combines the classic and the robust estimate; each is scaled by the
    99th percentile of its distances on the validation normals (`val_errors`), so both
    flag the same share of normal rows and neither dominates by units alone.
    """
    if kind == "max_mahalanobis":
        if val_errors is None or len(val_errors) == 0:
            raise ValueError("max_mahalanobis needs validation errors for its scales")
        n = errors.shape[1]
        parts = []
        for name, (mean, prec) in (
            ("classic", _classic(errors)),
            ("robust", _robust(errors, seed)),
        ):
            prec = (prec + prec.T) / 2.0
            q = float(np.quantile(_quadratic(val_errors, mean, prec), SCALE_QUANTILES[name]))
            parts.append(
                ErrorComponent(
                    name=name,
                    error_mean=mean.tolist(),
                    error_precision=prec.tolist(),
                    scale=max(q / n, 1e-12),
                )
            )
        return ScoreSpec(kind="max_mahalanobis", components=parts)
    if kind == "mse":
        return ScoreSpec(kind="mse")
    if kind == "normalized_mse":
        scale = np.maximum((errors**2).mean(axis=0), 1e-12)
        return ScoreSpec(kind="normalized_mse", feature_scale=scale.tolist())
    if covariance == "classic":
        mean, precision = _classic(errors)
    elif covariance == "robust":
        mean, precision = _robust(errors, seed)
    else:
        m1, p1 = _classic(errors)
        m2, p2 = _robust(errors, seed)
        precision = p1 + p2
        mean = np.asarray(np.linalg.solve(precision, p1 @ m1 + p2 @ m2), np.float64)
    precision = (precision + precision.T) / 2.0  # exactly symmetric
    return ScoreSpec(
        kind="mahalanobis", error_mean=mean.tolist(), error_precision=precision.tolist()
    )
