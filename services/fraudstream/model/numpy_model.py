"""A framework-free forward pass of the trained model (NumPy only).

The scorer's hot path uses this instead of TensorFlow: a handful of dense layers is a few
matrix products, and importing TensorFlow would cost seconds and hundreds of MB per replica.
A hybrid model (manifest format 2) adds a small supervised stack over the autoencoder's
input, its reconstruction error and its score; `score` and `feature_errors` keep their
meaning (the score is the row mean of the per-feature terms), so callers need no change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fraudstream.model.activations import activation
from fraudstream.model.errors import FeatureMismatchError, ModelCorruptError
from fraudstream.model.manifest import SECONDS_PER_DAY, ModelManifest, SupervisedSpec

Array = NDArray[np.float64]
WeightPairs = Sequence[tuple[NDArray[Any], NDArray[Any]]]
Layer = tuple[Array, Array, Callable[[Array], Array]]
# The anomaly input of the supervised part is log(max(score, ANOMALY_FLOOR)).
ANOMALY_FLOOR = 1e-12
# Below this |h - h_ref| DeepLIFT's rescale multiplier is replaced by the derivative.
_RESCALE_EPS = 1e-7
# ... and in the float32 hot path, where differences below ~1e-4 are rounding noise.
_RESCALE_EPS_32 = 1e-4


class NumpyModel:
    """Preprocess raw columns, reconstruct, and score exactly as the trainer did."""

    def __init__(
        self,
        manifest: ModelManifest,
        weights: WeightPairs,
        supervised_weights: WeightPairs | None = None,
    ) -> None:
        check_weights(manifest, weights)
        check_supervised_weights(manifest, supervised_weights)
        self.manifest = manifest
        self._layers: list[Layer] = [
            (np.asarray(w, np.float64), np.asarray(b, np.float64), activation(spec.activation))
            for (w, b), spec in zip(weights, manifest.layers, strict=True)
        ]
        self._sup: _Supervised | None = (
            _Supervised(manifest.supervised, supervised_weights or [], len(manifest.features))
            if manifest.supervised is not None
            else None
        )
        p = manifest.preprocessing
        self._mean = np.asarray(p.mean, np.float64)
        self._std = np.asarray(p.std, np.float64)
        raw = manifest.raw_inputs
        self._n_raw = len(raw)  # the manifest computes raw_inputs on each access
        self._n_features = len(manifest.features)
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
            # the precision pre-divided by the component's scale: one product less per event
            (
                np.asarray(c.error_mean, np.float64),
                np.asarray(c.error_precision, np.float64) / float(c.scale),
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

    @property
    def is_hybrid(self) -> bool:
        return self._sup is not None

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
        raw = self._as_matrix(x_raw, self._n_raw, "raw_inputs")
        return (apply_transforms(raw[:, self._src_idx], self._transforms) - self._mean) / self._std

    def reconstruct(self, x: ArrayLike) -> Array:
        """Standardized input -> the autoencoder's reconstruction (same shape)."""
        h = self._as_matrix(x, self._n_features, "features")
        for w, b, act in self._layers:
            h = act(h @ w + b)
        return h

    def feature_errors(self, x_raw: ArrayLike) -> Array:
        """Per-feature terms of the score, shape (n, n_features).

        The row mean of this matrix is the score, so its largest entries explain it. For
        the autoencoder they are the score's error terms; for a hybrid, the hybrid score
        split over the features by their positive contributions to the fraud logit.
        """
        x = self.preprocess(x_raw)
        d = x - self.reconstruct(x)
        terms = self._terms(d)
        if self._sup is None:
            return terms
        return self._sup.explain(x, d, terms)

    def anomaly_terms(self, x_raw: ArrayLike) -> Array:
        """The autoencoder's own per-feature terms (equal to feature_errors without a
        supervised part); their row mean is the unsupervised anomaly score."""
        x = self.preprocess(x_raw)
        return self.errors_from_reconstruction(x, self.reconstruct(x))

    def anomaly_score(self, x_raw: ArrayLike) -> Array:
        """The autoencoder's unsupervised score alone, shape (n,)."""
        return np.asarray(self.anomaly_terms(x_raw).mean(axis=1), np.float64)

    def supervised_inputs(self, x: ArrayLike, x_hat: ArrayLike) -> Array:
        """The supervised part's standardized input `z` for a standardized input and its
        reconstruction (the trainer feeds the same `z` to Keras for the parity check)."""
        if self._sup is None:
            raise ModelCorruptError(f"model {self.version} has no supervised part")
        xa = np.asarray(x, np.float64)
        xh = np.asarray(x_hat, np.float64)
        return self._sup.inputs(xa, xh, self.errors_from_reconstruction(xa, xh))

    def logit_contributions(self, x_raw: ArrayLike) -> tuple[Array, Array]:
        """(fraud logit, per-feature contributions to `logit - reference logit`): the
        signed explanation behind `feature_errors` (hybrid models only)."""
        if self._sup is None:
            raise ModelCorruptError(f"model {self.version} has no supervised part")
        x = self.preprocess(x_raw)
        d = x - self.reconstruct(x)
        return self._sup.contributions(x, d, self._terms(d))

    @property
    def reference_logit(self) -> float:
        """The logit of the attribution reference (a typical normal training row)."""
        if self._sup is None:
            raise ModelCorruptError(f"model {self.version} has no supervised part")
        return float(self._sup.logit(self._sup.ref[None, :])[0])

    def fraud_logit(self, z: ArrayLike) -> Array:
        """The supervised stack's logit for standardized inputs `z`, shape (n,)."""
        if self._sup is None:
            raise ModelCorruptError(f"model {self.version} has no supervised part")
        return self._sup.logit(np.asarray(z, np.float64))

    def errors_from_reconstruction(self, x: Array, x_hat: Array) -> Array:
        """The score's per-feature terms for a given input and reconstruction."""
        return self._terms(np.asarray(x, np.float64) - np.asarray(x_hat, np.float64))

    def _terms(self, d: Array) -> Array:
        """The score's per-feature terms of the reconstruction error `d = x - x_hat`."""
        if self._components:
            # the terms of the component with the largest score (the first on ties)
            best_terms: Array | None = None
            best_sum: Array | None = None
            for m, p in self._components:
                e = d - m
                t = e * (e @ p)
                total = t.sum(axis=1)
                if best_terms is None or best_sum is None:
                    best_terms, best_sum = t, total
                    continue
                wins = total > best_sum
                best_terms = np.where(wins[:, None], t, best_terms)
                best_sum = np.maximum(total, best_sum)
            assert best_terms is not None
            return best_terms
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


def hybrid_score(logit: ArrayLike) -> Array:
    """`softplus(logit)` = -log P(normal): the hybrid score from the fraud logit."""
    return np.asarray(np.logaddexp(0.0, np.asarray(logit, np.float64)), np.float64)


class _Supervised:
    """The supervised stack of a hybrid: input assembly, logit, attribution.

    The hot path (`explain`) runs the network in float32, like the Keras network it was
    trained as (float64 tanh costs four times as much and gains nothing beyond float32's
    1e-7), and never builds the standardized input `z`: the standardization is folded into
    the first layer's weights. The per-feature blocks (`features`, `errors`) are one float32
    matrix `u` against one stacked weight matrix, the `anomaly` input a rank-1 term, so the
    first layer is `u @ Wu + log(a) * wa + b` and the attribution of `u` is
    `(u - u_ref) * (g @ Wu.T)`, computed in place in `u` (the reference in the same raw
    units). One forward and one backward product per batch; the contributions are summed
    per feature straight into the float64 result.
    """

    def __init__(self, spec: SupervisedSpec, weights: WeightPairs, n_features: int) -> None:
        self.spec = spec
        self.n_features = n_features
        self.mean = np.asarray(spec.input_mean, np.float64)
        self.std = np.asarray(spec.input_std, np.float64)
        self.ref = np.asarray(spec.reference, np.float64)
        self.layers: list[Layer] = [
            (np.asarray(w, np.float64), np.asarray(b, np.float64), activation(s.activation))
            for (w, b), s in zip(weights, spec.layers, strict=True)
        ]
        f32 = np.float32
        # The reference's pre-activations and activations, computed once.
        self.ref_pre: list[NDArray[np.float32]] = []
        self.ref_out: list[NDArray[np.float32]] = []
        h = self.ref[None, :]
        for w, b, act in self.layers:
            pre = h @ w + b
            h = act(pre)
            self.ref_pre.append(pre[0].astype(f32))
            self.ref_out.append(h[0].astype(f32))
        self.layers32 = [(w.astype(f32), b.astype(f32), act) for w, b, act in self.layers]
        w0, b0, _ = self.layers[0]
        folded = w0 / self.std[:, None]
        self.b0 = (b0 - (self.mean / self.std) @ w0).astype(f32)
        u_ref = self.mean + self.ref * self.std  # the reference in raw input units
        self.blocks: list[tuple[str, slice]] = []
        col = 0
        for name in spec.inputs:
            width = 1 if name == "anomaly" else n_features
            self.blocks.append((name, slice(col, col + width)))
            col += width
        wide = [(name, sl) for name, sl in self.blocks if name != "anomaly"]
        self.wide: list[str] = [name for name, _ in wide]
        hidden = w0.shape[1]
        self.w_wide = np.ascontiguousarray(
            np.vstack([folded[sl] for _, sl in wide]) if wide else np.zeros((0, hidden)), f32
        )
        self.w_wide_t = np.ascontiguousarray(self.w_wide.T)  # (hidden, width): backward
        self.u_ref_wide = (
            np.concatenate([u_ref[sl] for _, sl in wide]) if wide else np.zeros(0)
        ).astype(f32)
        anomaly = [sl for name, sl in self.blocks if name == "anomaly"]
        self.w_anomaly: NDArray[np.float32] | None = (
            folded[anomaly[0]][0].astype(f32) if anomaly else None
        )
        self.u_ref_anomaly = float(u_ref[anomaly[0]][0]) if anomaly else 0.0

    def inputs(self, x: Array, x_hat: Array, terms: Array) -> Array:
        """The standardized input `z` (the layout the Keras classifier takes), float64."""
        raw = {"features": x, "errors": x - x_hat, "anomaly": _log_anomaly(terms)[:, None]}
        return (np.hstack([raw[name] for name, _ in self.blocks]) - self.mean) / self.std

    def logit(self, z: Array) -> Array:
        """The float64 reference forward pass on standardized inputs."""
        h = z
        for w, b, act in self.layers:
            h = act(h @ w + b)
        return np.asarray(h[:, 0], np.float64)

    def contributions(self, x: Array, d: Array, terms: Array) -> tuple[Array, Array]:
        """(logit, per-feature contributions, float64): each row's contributions sum to
        `logit - logit(reference)` (DeepLIFT rescale rule; exact up to float32 rounding)."""
        n, f = x.shape
        a = _log_anomaly(terms)
        pre: Any = self.b0  # float32 throughout (the activations are dtype-preserving)
        u: Any = None
        if self.wide:
            u = np.empty((n, f * len(self.wide)), np.float32)
            for j, name in enumerate(self.wide):
                u[:, j * f : (j + 1) * f] = x if name == "features" else d
            pre = u @ self.w_wide + self.b0
        if self.w_anomaly is not None:
            pre = pre + a.astype(np.float32)[:, None] * self.w_anomaly
        mults: list[Any] = []
        h: Any = pre
        for i, (w, b, act) in enumerate(self.layers32):
            if i > 0:
                pre = h @ w + b
            h = act(pre)
            mults.append(self._multiplier(pre, h, i, act))
        # Backward: g = d(logit - logit_ref) / d(pre_0 - pre_0_ref) under the rescale rule.
        g = mults[-1]
        for (w, _, _), m in zip(reversed(self.layers32[1:]), reversed(mults[:-1]), strict=True):
            g = (g @ w.T) * m
        if self.w_anomaly is not None:
            # The anomaly input's share goes to the features by the autoencoder's terms.
            c_a = (a - self.u_ref_anomaly) * (g @ self.w_anomaly).astype(np.float64)
            total = terms.sum(axis=1)
            ok = total > ANOMALY_FLOOR
            share = np.where(ok, c_a / np.where(ok, total, 1.0), 0.0)
            per_feature = terms * share[:, None]
            if not ok.all():
                per_feature[~ok] += c_a[~ok, None] / f
        else:
            per_feature = np.zeros((n, f), np.float64)
        if u is not None:
            u -= self.u_ref_wide  # each input's distance from the reference ...
            u *= g @ self.w_wide_t  # ... times its rescaled slope
            for j in range(len(self.wide)):
                per_feature += u[:, j * f : (j + 1) * f]
        return np.asarray(h[:, 0], np.float64), per_feature

    def _multiplier(self, pre: Any, out: Any, i: int, act: Callable[[Array], Array]) -> Any:
        """DeepLIFT's rescale multiplier `(out - out_ref) / (pre - pre_ref)`; where the
        pre-activation barely moved, the activation's slope there."""
        delta = pre - self.ref_pre[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            m = (out - self.ref_out[i]) / delta
        small = np.abs(delta) < _RESCALE_EPS_32
        if small.any():
            p = pre[small].astype(np.float64)
            m[small] = (act(p + _RESCALE_EPS) - act(p - _RESCALE_EPS)) / (2 * _RESCALE_EPS)
        return m

    def explain(self, x: Array, d: Array, terms: Array) -> Array:
        """Per-feature terms whose row mean is the hybrid score (see SupervisedSpec)."""
        logit, out = self.contributions(x, d, terms)
        n = out.shape[1]
        np.maximum(out, 0.0, out=out)  # the positive contributions (towards fraud)
        pos_sum = out.sum(axis=1)
        score = hybrid_score(logit)
        has = pos_sum > 0
        out *= np.where(has, n * score / np.where(has, pos_sum, 1.0), 0.0)[:, None]
        if not has.all():
            out[~has] = score[~has, None]  # nothing pushed towards fraud: spread evenly
        return out


def _log_anomaly(terms: Array) -> Array:
    """The anomaly input of the supervised part: log of the autoencoder's score, floored."""
    return np.asarray(np.log(np.maximum(terms.mean(axis=1), ANOMALY_FLOOR)), np.float64)


def apply_transforms(cols: Array, transforms: Sequence[str]) -> Array:
    """Apply each feature's transform to its source column (before standardizing).

    Shared with the trainer so training and serving cannot drift apart.
    """
    out = np.empty(cols.shape, np.float64)
    # identity columns in one copy: a per-column loop was ~1 us per column and batch
    same = [j for j, t in enumerate(transforms) if t == "identity"]
    if same:
        out[:, same] = cols[:, same]
    for j, t in enumerate(transforms):
        if t == "identity":
            continue
        c = cols[:, j]
        if t == "log1p":
            out[:, j] = np.log1p(np.maximum(c, 0.0))
        elif t == "hour_sin":
            out[:, j] = np.sin(2.0 * np.pi * (np.mod(c, SECONDS_PER_DAY) / SECONDS_PER_DAY))
        elif t == "hour_cos":
            out[:, j] = np.cos(2.0 * np.pi * (np.mod(c, SECONDS_PER_DAY) / SECONDS_PER_DAY))
        else:
            raise ModelCorruptError(f"unknown transform {t!r}")
    return out


def check_weights(manifest: ModelManifest, weights: WeightPairs) -> None:
    """Raise ModelCorruptError unless the weights chain the manifest's layers with finite values."""
    if len(weights) != len(manifest.layers):
        raise ModelCorruptError(
            f"weights hold {len(weights)} layers, the manifest describes {len(manifest.layers)}"
        )
    _check_stack(weights, manifest.layers, len(manifest.features), "")


def check_supervised_weights(manifest: ModelManifest, weights: WeightPairs | None) -> None:
    """Raise ModelCorruptError unless a hybrid's supervised weights match its manifest
    (and a plain autoencoder has none)."""
    spec = manifest.supervised
    if spec is None:
        if weights:
            raise ModelCorruptError(
                "supervised weights given for a model without a supervised part"
            )
        return
    if weights is None or len(weights) != len(spec.layers):
        got = 0 if weights is None else len(weights)
        raise ModelCorruptError(
            f"supervised weights hold {got} layers, the manifest describes {len(spec.layers)}"
        )
    _check_stack(weights, spec.layers, spec.input_size(len(manifest.features)), "S")


def _check_stack(weights: WeightPairs, layers: Sequence[Any], n_in: int, prefix: str) -> None:
    for i, ((w, b), spec) in enumerate(zip(weights, layers, strict=True)):
        w_arr, b_arr = np.asarray(w), np.asarray(b)
        if w_arr.shape != (n_in, spec.units) or b_arr.shape != (spec.units,):
            raise ModelCorruptError(
                f"layer {prefix}{i}: {prefix}W{i} has shape {w_arr.shape} and {prefix}b{i} "
                f"{b_arr.shape}; expected ({n_in}, {spec.units}) and ({spec.units},)"
            )
        if not (np.isfinite(w_arr).all() and np.isfinite(b_arr).all()):
            raise ModelCorruptError(
                f"layer {prefix}{i}: {prefix}W{i}/{prefix}b{i} hold NaN or infinite values"
            )
        try:
            activation(spec.activation)
        except KeyError as exc:
            raise ModelCorruptError(f"layer {prefix}{i}: {exc.args[0]}") from None
        n_in = spec.units
