"""Fitting the score's parameters on the training rows' reconstruction errors.

See `fraudstream.model.manifest.ScoreSpec` for the formulas. The parameters come from the
training rows only (the validation rows choose the threshold, the test rows judge).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.manifest import ScoreSpec
from fraudstream.trainer.settings import ScoreKind

# Ridge added to the error covariance, relative to its mean variance: keeps the inverse
# finite when a direction has (almost) no error on normal rows.
RIDGE = 1e-6


def fit_score(kind: ScoreKind, errors: NDArray[np.float64]) -> ScoreSpec:
    """ScoreSpec for `kind` from reconstruction errors `x - x_hat` of training rows."""
    if kind == "mse":
        return ScoreSpec(kind="mse")
    if kind == "normalized_mse":
        scale = np.maximum((errors**2).mean(axis=0), 1e-12)
        return ScoreSpec(kind="normalized_mse", feature_scale=scale.tolist())
    mean = errors.mean(axis=0)
    cov = np.cov(errors, rowvar=False)
    cov = cov + RIDGE * max(float(np.trace(cov)) / cov.shape[0], 1e-12) * np.eye(cov.shape[0])
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2.0  # exactly symmetric
    return ScoreSpec(
        kind="mahalanobis", error_mean=mean.tolist(), error_precision=precision.tolist()
    )
