"""Feature definition and the scaler, fitted on training rows only.

V1..V28 pass through, Amount goes through log1p (it spans 0..25,000 with a long tail),
and optionally the hour of day from Time as sin/cos (a circular feature). Everything is
then standardized with the training rows' mean and std, stored in the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.events import V_COLUMNS
from fraudstream.model.manifest import Preprocessing
from fraudstream.model.numpy_model import apply_transforms
from fraudstream.trainer.data import RAW_COLUMNS


def feature_spec(hour_features: bool) -> tuple[list[str], list[str], list[Any]]:
    """(features, sources, transforms) in model input order."""
    features = [*V_COLUMNS, "Amount"]
    sources = [*V_COLUMNS, "Amount"]
    transforms: list[Any] = ["identity"] * len(V_COLUMNS) + ["log1p"]
    if hour_features:
        features += ["hour_sin", "hour_cos"]
        sources += ["Time", "Time"]
        transforms += ["hour_sin", "hour_cos"]
    return features, sources, transforms


def source_matrix(raw: NDArray[np.float64], sources: list[str]) -> NDArray[np.float64]:
    """Columns of a RAW_COLUMNS matrix in `sources` order (one per feature)."""
    return raw[:, [RAW_COLUMNS.index(s) for s in sources]]


def fit_preprocessing(raw_train: NDArray[np.float64], hour_features: bool) -> Preprocessing:
    """Fit the per-feature standardization on the training rows."""
    _, sources, transforms = feature_spec(hour_features)
    t = apply_transforms(source_matrix(raw_train, sources), transforms)
    mean = t.mean(axis=0)
    std = t.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)  # a constant column must not divide by zero
    return Preprocessing(
        sources=sources, transforms=transforms, mean=mean.tolist(), std=std.tolist()
    )


def transform(pre: Preprocessing, raw: NDArray[np.float64]) -> NDArray[np.float64]:
    """Apply a fitted preprocessing to a RAW_COLUMNS matrix (what NumpyModel does)."""
    t = apply_transforms(source_matrix(raw, pre.sources), pre.transforms)
    return (t - np.asarray(pre.mean)) / np.asarray(pre.std)


def raw_inputs_matrix(raw: NDArray[np.float64], raw_inputs: list[str]) -> NDArray[np.float64]:
    """The matrix a scorer would pass to NumpyModel.score for these rows."""
    return source_matrix(raw, raw_inputs)
