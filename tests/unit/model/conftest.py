"""Fixtures for the model-artifact tests: a small random autoencoder and its manifest."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.model import LayerSpec, ModelManifest, Preprocessing, ScoreSpec, make_version

Weights = list[tuple[np.ndarray, np.ndarray]]


def _build(
    seed: int = 0,
    hours: bool = False,
    score: ScoreSpec | None = None,
    units: tuple[int, ...] = (14, 7),
) -> tuple[ModelManifest, Weights]:
    rng = np.random.default_rng(seed)
    features = list(FEATURE_COLUMNS)
    sources = list(FEATURE_COLUMNS)
    transforms: list[Any] = ["identity"] * 28 + ["log1p"]
    if hours:
        features += ["hour_sin", "hour_cos"]
        sources += ["Time", "Time"]
        transforms += ["hour_sin", "hour_cos"]
    n = len(features)
    dims = [n, *units, *reversed(units[:-1]), n]
    acts = ["tanh"] * (len(dims) - 2) + ["linear"]
    layers = [LayerSpec(units=d, activation=a) for d, a in zip(dims[1:], acts, strict=True)]
    weights: Weights = [
        (rng.normal(0, 0.3, (i, o)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))
        for i, o in itertools.pairwise(dims)
    ]
    pre = Preprocessing(
        sources=sources,
        transforms=transforms,
        mean=rng.normal(0, 0.1, n).tolist(),
        std=rng.uniform(0.5, 2.0, n).tolist(),
    )
    payload = {"features": features, "layers": [layer.model_dump() for layer in layers]}
    manifest = ModelManifest(
        version=make_version(weights, payload),
        features=features,
        preprocessing=pre,
        layers=layers,
        threshold=1.5,
        threshold_strategy="fpr",
        threshold_params={"fpr": 0.01},
        score=score or ScoreSpec(),
    )
    return manifest, weights


@pytest.fixture
def build_model() -> Callable[..., tuple[ModelManifest, Weights]]:
    """Factory: (manifest, weights) of a random autoencoder over V1..V28, Amount[, hours]."""
    return _build


@pytest.fixture
def raw_rows() -> Callable[[int, bool], np.ndarray]:
    """Factory: n raw rows (V1..V28, Amount[, Time]) with realistic ranges."""

    def make(n: int, hours: bool = False) -> np.ndarray:
        rng = np.random.default_rng(42)
        v = rng.normal(0, 1.5, (n, 28))
        amount = rng.exponential(80.0, (n, 1))
        cols = [v, amount]
        if hours:
            cols.append(rng.uniform(0, 172_800, (n, 1)))
        return np.hstack(cols)

    return make
