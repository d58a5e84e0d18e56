"""A framework-free forward pass of the trained autoencoder (NumPy only).

The scorer's hot path uses this instead of TensorFlow: a handful of dense layers is a few
matrix products, and importing TensorFlow would cost seconds and hundreds of MB per replica.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fraudstream.model.activations import activation
from fraudstream.model.errors import FeatureMismatchError, ModelCorruptError
from fraudstream.model.manifest import SECONDS_PER_DAY, ModelManifest

Array = NDArray[np.float64]


class NumpyModel:
    """Preprocess raw columns, reconstruct, and score exactly as the trainer did."""

    def __init__(
        self, manifest: ModelManifest, weights: Sequence[tuple[NDArray[Any], NDArray[Any]]]
    ) -> None:
        check_weights(manifest, weights)
        self.manifest = manifest
        self._layers: list[tuple[Array, Array, Callable[[Array], Array]]] = [
            (np.asarray(w, np.float64), np.asarray(b, np.float64), activation(spec.activation))
            for (w, b), spec in zip(weights, manifest.layers, strict=True)
        ]
        p = manifest.preprocessing
        self._mean = np.asarray(p.mean, np.float64)
        self._std = np.asarray(p.std, np.float64)
        raw = manifest.raw_inputs
        self._src_idx = np.asarray([raw.index(s) for s in p.sources], np.intp)
        self._transforms = list(p.transforms)
        sc = manifest.score
        self._err_scale = (
            np.asarray(sc.feature_scale, np.float64) if sc.kind == "normalized_mse" else None
        )
        self._err_mean = np.asarray(sc.error_mean, np.float64) if sc.kind == "mahalanobis" else None
        self._err_prec = (
            np.asarray(sc.error_precision, np.float64) if sc.kind == "mahalanobis" else None
        )
        self._components = [
            (
                np.asarray(c.error_mean, np.float64),
                np.asarray(c.error_precision, np.float64),
                float(c.scale),
            )
            for c in (sc.components or [])
            if sc.kind == "max_mahalanobis"
        ]

    # -- identity -------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def threshold(self) -> float:
        return self.manifest.threshold

    @property
    def features(self) -> list[str]:
        return list(self.manifest.features)

    @property
    def raw_inputs(self) -> list[str]:
        return self.manifest.raw_inputs

    # -- forward pass ---------------------------------------------------------------------
    def raw_matrix(self, records: Sequence[Mapping[str, object]]) -> Array:
        """Build the raw input matrix from dict records, matching names case-insensitively.

        Raises FeatureMismatchError naming the missing fields (of the first bad record).
        """
        wanted = self.raw_inputs
        out = np.empty((len(records), len(wanted)), np.float64)
        for i, rec in enumerate(records):
            lower = {str(k).lower(): v for k, v in rec.items()}
            missing = [c for c in wanted if lower.get(c.lower()) is None]
            if missing:
                raise FeatureMismatchError(f"record {i} lacks fields: {', '.join(missing)}")
            out[i] = [float(lower[c.lower()]) for c in wanted]  # type: ignore[arg-type]
        return out

    def preprocess(self, x_raw: ArrayLike) -> Array:
        """Raw columns (`raw_inputs` order) -> standardized model input (`features` order)."""
        raw = self._as_matrix(x_raw, len(self.raw_inputs), "raw_inputs")
        return (apply_transforms(raw[:, self._src_idx], self._transforms) - self._mean) / self._std

    def reconstruct(self, x: ArrayLike) -> Array:
        """Standardized input -> the autoencoder's reconstruction (same shape)."""
        h = self._as_matrix(x, len(self.features), "features")
        for w, b, act in self._layers:
            h = act(h @ w + b)
        return h

    def feature_errors(self, x_raw: ArrayLike) -> Array:
        """Per-feature squared error (normalized if the score is), shape (n, n_features).

        The row mean of this matrix is the score, so its largest entries explain it.
        """
        x = self.preprocess(x_raw)
        return self.errors_from_reconstruction(x, self.reconstruct(x))

    def errors_from_reconstruction(self, x: Array, x_hat: Array) -> Array:
        """The score's per-feature terms for a given input and reconstruction."""
        d = np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)
        if self._components:
            terms = np.stack([(d - m) * ((d - m) @ p) / s for m, p, s in self._components])
            best = terms.mean(axis=2).argmax(axis=0)  # component with the largest score
            return np.asarray(np.take_along_axis(terms, best[None, :, None], 0)[0], np.float64)
        if self._err_prec is not None and self._err_mean is not None:
            e = d - self._err_mean
            return np.asarray(e * (e @ self._err_prec), np.float64)
        err = d**2
        if self._err_scale is not None:
            err = err / self._err_scale
        return err

    def score(self, x_raw: ArrayLike) -> Array:
        """Per-event anomaly score (higher = more anomalous), shape (n,)."""
        return np.asarray(self.feature_errors(x_raw).mean(axis=1), np.float64)

    def is_anomalous(self, scores: ArrayLike) -> NDArray[np.bool_]:
        """Scores strictly above the stored threshold."""
        return np.asarray(scores, np.float64) > self.threshold

    @staticmethod
    def _as_matrix(x: ArrayLike, n_cols: int, what: str) -> Array:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1 and arr.shape[0] == n_cols:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != n_cols:
            raise FeatureMismatchError(
                f"expected a matrix with {n_cols} columns ({what}), got shape {arr.shape}"
            )
        return arr


def apply_transforms(cols: Array, transforms: Sequence[str]) -> Array:
    """Apply each feature's transform to its source column (before standardizing).

    Shared with the trainer so training and serving cannot drift apart.
    """
    out = np.empty(cols.shape, np.float64)
    for j, t in enumerate(transforms):
        c = cols[:, j]
        if t == "identity":
            out[:, j] = c
        elif t == "log1p":
            out[:, j] = np.log1p(np.maximum(c, 0.0))
        elif t == "hour_sin":
            out[:, j] = np.sin(2.0 * np.pi * (np.mod(c, SECONDS_PER_DAY) / SECONDS_PER_DAY))
        elif t == "hour_cos":
            out[:, j] = np.cos(2.0 * np.pi * (np.mod(c, SECONDS_PER_DAY) / SECONDS_PER_DAY))
        else:
            raise ModelCorruptError(f"unknown transform {t!r}")
    return out


def check_weights(
    manifest: ModelManifest, weights: Sequence[tuple[NDArray[Any], NDArray[Any]]]
) -> None:
    """Raise ModelCorruptError unless the weights chain the manifest's layers with finite values."""
    if len(weights) != len(manifest.layers):
        raise ModelCorruptError(
            f"weights hold {len(weights)} layers, the manifest describes {len(manifest.layers)}"
        )
    n_in = len(manifest.features)
    for i, ((w, b), spec) in enumerate(zip(weights, manifest.layers, strict=True)):
        w_arr, b_arr = np.asarray(w), np.asarray(b)
        if w_arr.shape != (n_in, spec.units) or b_arr.shape != (spec.units,):
            raise ModelCorruptError(
                f"layer {i}: W{i} has shape {w_arr.shape} and b{i} {b_arr.shape}; "
                f"expected ({n_in}, {spec.units}) and ({spec.units},)"
            )
        if not (np.isfinite(w_arr).all() and np.isfinite(b_arr).all()):
            raise ModelCorruptError(f"layer {i}: W{i}/b{i} hold NaN or infinite values")
        try:
            activation(spec.activation)
        except KeyError as exc:
            raise ModelCorruptError(f"layer {i}: {exc.args[0]}") from None
        n_in = spec.units
