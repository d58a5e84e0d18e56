"""Choosing the alert threshold on the validation set, never on the test set.

Each strategy turns validation scores into one number; the strategy and its parameter are
stored in the manifest so the model card says how the threshold was chosen.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fraudstream.trainer.errors import ThresholdError
from fraudstream.trainer.settings import TrainerSettings

Scores = NDArray[np.float64]


def choose_threshold(
    settings: TrainerSettings,
    val_scores: Scores,
    val_labels: NDArray[np.int64],
    normal_weight: float = 1.0,
) -> tuple[float, dict[str, float]]:
    """(threshold, parameters) for `settings.threshold_strategy`.

    - fpr: the (1 - target_fpr) quantile of the validation normals' scores.
    - quantile: the `quantile` of all validation scores.
    - budget: flags `budget_per_10k` of every 10,000 validation events.
    - precision: the lowest threshold whose validation precision (normals weighted by
      `normal_weight` when the sample over-represents frauds) reaches `target_precision`.
    """
    strategy = settings.threshold_strategy
    normals = val_scores[val_labels == 0]
    if len(normals) == 0:
        raise ThresholdError("the validation set has no normal rows")
    if strategy == "fpr":
        thr = float(np.quantile(normals, 1.0 - settings.target_fpr))
        return thr, {"target_fpr": settings.target_fpr}
    if strategy == "quantile":
        thr = float(np.quantile(val_scores, settings.quantile))
        return thr, {"quantile": settings.quantile}
    if strategy == "budget":
        rate = settings.budget_per_10k / 10_000.0
        if rate >= 1.0:
            raise ThresholdError(f"budget {settings.budget_per_10k} per 10,000 flags everything")
        thr = float(np.quantile(val_scores, 1.0 - rate))
        return thr, {"budget_per_10k": settings.budget_per_10k}
    return _precision_threshold(settings.target_precision, val_scores, val_labels, normal_weight)


def _precision_threshold(
    target: float, scores: Scores, labels: NDArray[np.int64], normal_weight: float
) -> tuple[float, dict[str, float]]:
    frauds = int((labels == 1).sum())
    if frauds == 0:
        raise ThresholdError(
            "threshold strategy 'precision' needs labelled frauds in the validation set; "
            "none were found (use fpr, quantile or budget)"
        )
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y == 1)
    fp = np.cumsum(y == 0) * normal_weight
    precision = tp / np.maximum(tp + fp, 1e-12)
    # Candidate cut after position i flags s[:i+1]; only cut between distinct scores.
    distinct = np.r_[s[1:] < s[:-1], True]
    ok = np.flatnonzero((precision >= target) & distinct)
    params = {"target_precision": target, "normal_weight": normal_weight}
    if len(ok) == 0:
        raise ThresholdError(
            f"no threshold reaches precision {target:.3f} on the validation set "
            f"(best {precision.max():.3f})"
        )
    i = int(ok[-1])  # the most recall that keeps the precision
    # Midway to the next lower score, so every flagged validation row is strictly above.
    lower = s[i + 1] if i + 1 < len(s) else s[i] - 1.0
    return float((s[i] + lower) / 2.0), params
