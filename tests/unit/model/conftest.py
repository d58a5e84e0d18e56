"""Fixtures for the model-artifact tests: a small random autoencoder and its manifest."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.model import (
    HYBRID_FORMAT_VERSION,
    LayerSpec,
    ModelManifest,
    Preprocessing,
    ScoreSpec,
    SupervisedSpec,
    make_version,
)

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


def _build_hybrid(
    seed: int = 0,
    inputs: tuple[str, ...] = ("features", "errors", "anomaly"),
    units: tuple[int, ...] = (16,),
    score: ScoreSpec | None = None,
) -> tuple[ModelManifest, Weights, Weights]:
    """A random hybrid: the autoencoder of `_build` plus a supervised stack."""
    manifest, weights = _build(seed=seed, score=score)
    rng = np.random.default_rng(seed + 100)
    n = len(manifest.features)
    width = sum(1 if b == "anomaly" else n for b in inputs)
    dims = [width, *units, 1]
    acts = ["tanh"] * len(units) + ["linear"]
    sup_weights: Weights = [
        (rng.normal(0, 0.4, (i, o)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))
        for i, o in itertools.pairwise(dims)
    ]
    spec = SupervisedSpec(
        inputs=list(inputs),  # type: ignore[arg-type]
        input_mean=rng.normal(0, 0.2, width).tolist(),
        input_std=rng.uniform(0.5, 2.0, width).tolist(),
        reference=rng.normal(0, 0.1, width).tolist(),
        layers=[LayerSpec(units=d, activation=a) for d, a in zip(dims[1:], acts, strict=True)],
    )
    hybrid = manifest.model_copy(
        update={"supervised": spec, "format_version": HYBRID_FORMAT_VERSION}
    )
    return ModelManifest.model_validate(hybrid.model_dump()), weights, sup_weights


@pytest.fixture
def build_hybrid() -> Callable[..., tuple[ModelManifest, Weights, Weights]]:
    """Factory: (manifest, autoencoder weights, supervised weights) of a random hybrid."""
    return _build_hybrid


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
