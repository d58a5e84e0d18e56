"""Bootstrap intervals for the ranking metrics on a test period with few frauds.

Why: the time-split test period of the shared sample holds about 80 frauds, so one fraud
moves recall by more than a point; intervals say how much of a difference between models
is noise. The resampling is stratified (frauds and normals resampled separately, so the
prevalence weight stays fixed) and expressed as integer counts per test row, which lets
every metric be computed from one sort of the scores with weighted cumulative sums: all
resamples of one model at once, instead of thousands of scikit-learn calls.

Definitions (ties in the scores are not split; continuous scores have none):
- ROC-AUC: the share of (fraud, normal) pairs ranked fraud first;
- weighted AP: `sum_i tp_i / (tp_i + w * fp_i)` over frauds, each weighted by its count;
- recall at FPR f: the largest recall whose false-positive count is at most `f * normals`;
- weighted precision at a threshold: `tp / (tp + w * fp)` of the rows scored above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

Counts = NDArray[np.int64]
METRICS = (
    "roc_auc",
    "weighted_average_precision",
    "recall_at_fpr_0.01",
    "recall_at_fpr_0.001",
    "weighted_precision_at_threshold",
)


def resample_counts(labels: NDArray[np.int64], n_boot: int, seed: int = 0) -> Counts:
    """(n_boot, n) draw counts of a stratified bootstrap (frauds and normals apart)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_boot, len(labels)), np.int64)
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        if len(idx) == 0:
            continue
        draws = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=n_boot)
        out[:, idx] = draws
    return out


def metrics_from_counts(
    scores: NDArray[np.float64],
    labels: NDArray[np.int64],
    counts: Counts,
    normal_weight: float,
    threshold: float | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Each metric for each resample (rows of `counts`); a row of ones is the sample itself."""
    order = np.argsort(-scores, kind="stable")
    y = (labels[order] == 1)[None, :]
    c = counts[:, order].astype(np.float64)
    tp = np.cumsum(c * y, axis=1)
    fp = np.cumsum(c * ~y, axis=1)
    n_f = tp[:, -1:]
    n_n = fp[:, -1:]
    out: dict[str, NDArray[np.float64]] = {}
    # pairs (fraud above normal): each fraud row counts the normals below it
    out["roc_auc"] = ((c * y) * (n_n - fp)).sum(axis=1) / (n_f[:, 0] * n_n[:, 0])
    prec = tp / np.maximum(tp + normal_weight * fp, 1e-300)
    out["weighted_average_precision"] = ((c * y) * prec).sum(axis=1) / n_f[:, 0]
    for f in (0.01, 0.001):
        ok = fp <= f * n_n
        out[f"recall_at_fpr_{f:g}"] = np.where(ok, tp, 0.0).max(axis=1) / n_f[:, 0]
    if threshold is not None:
        above = (scores[order] > threshold)[None, :]
        tp_t = (c * y * above).sum(axis=1)
        fp_t = (c * ~y * above).sum(axis=1)
        out["weighted_precision_at_threshold"] = tp_t / np.maximum(
            tp_t + normal_weight * fp_t, 1e-300
        )
    return out


def interval(values: NDArray[np.float64], level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap values."""
    lo = (1.0 - level) / 2.0
    return float(np.quantile(values, lo)), float(np.quantile(values, 1.0 - lo))


def seed_mean_intervals(
    per_seed: Sequence[Mapping[str, Mapping[str, NDArray[np.float64]]]],
    level: float = 0.95,
) -> dict[str, dict[str, dict[str, float]]]:
    """{model: {metric: {lo, hi}}} of the seed-mean metric over shared resamples.

    `per_seed[s][model][metric]` holds one value per resample; the same resamples (test
    rows) are used for every seed and model, so the interval of the mean over seeds is the
    test-sampling uncertainty of the reported mean.
    """
    models = per_seed[0].keys()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for m in models:
        out[m] = {}
        for k in per_seed[0][m]:
            mean = np.mean([s[m][k] for s in per_seed], axis=0)
            lo, hi = interval(mean, level)
            out[m][k] = {"lo": lo, "hi": hi}
    return out


def paired_difference(
    per_seed: Sequence[Mapping[str, Mapping[str, NDArray[np.float64]]]],
    a: str,
    b: str,
    metric: str,
    level: float = 0.95,
) -> dict[str, float]:
    """Seed-mean difference a - b on shared resamples: its interval and P(a > b)."""
    diff = np.mean([s[a][metric] - s[b][metric] for s in per_seed], axis=0)
    lo, hi = interval(diff, level)
    return {"lo": lo, "hi": hi, "p_greater": float((diff > 0).mean())}


__all__ = [
    "METRICS",
    "interval",
    "metrics_from_counts",
    "paired_difference",
    "resample_counts",
    "seed_mean_intervals",
]
