"""Evaluation on the test split: ranking metrics, metrics at the threshold, baselines.

When the data over-represent frauds (a sample keeping every fraud), each normal row is
weighted so the test set has the real prevalence; weighted precision and average
precision are then what the full stream would show. Recall and false-positive rate do
not depend on prevalence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Scores = NDArray[np.float64]
FPR_POINTS = (0.001, 0.01)


def normal_weight(labels: NDArray[np.int64], prevalence: float | None) -> float:
    """Weight per normal row that brings the frauds' share down to `prevalence` (>= 1)."""
    n_fraud = int((labels == 1).sum())
    n_normal = int((labels == 0).sum())
    if prevalence is None or n_fraud == 0 or n_normal == 0:
        return 1.0
    w = n_fraud * (1.0 - prevalence) / (prevalence * n_normal)
    return max(1.0, float(w))


def recall_at_fpr(scores: Scores, labels: NDArray[np.int64], fpr: float) -> float:
    """Recall with the threshold at the (1 - fpr) quantile of the normals' scores."""
    thr = np.quantile(scores[labels == 0], 1.0 - fpr)
    return float((scores[labels == 1] > thr).mean())


def ranking_metrics(scores: Scores, labels: NDArray[np.int64], weight: float) -> dict[str, float]:
    """ROC-AUC, AP (plain and prevalence-weighted), recall at fixed FPRs."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = (labels == 1).astype(int)
    w = np.where(y == 1, 1.0, weight)
    out = {
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "weighted_average_precision": float(average_precision_score(y, scores, sample_weight=w)),
    }
    for f in FPR_POINTS:
        out[f"recall_at_fpr_{f:g}"] = recall_at_fpr(scores, labels, f)
    return out


def threshold_metrics(
    scores: Scores, labels: NDArray[np.int64], threshold: float, weight: float
) -> dict[str, Any]:
    """Confusion matrix, precision/recall/F1 (plain and weighted) at the chosen threshold."""
    pred = scores > threshold
    pos = labels == 1
    tp = int((pred & pos).sum())
    fp = int((pred & ~pos).sum())
    fn = int((~pred & pos).sum())
    tn = int((~pred & ~pos).sum())

    def prf(fp_: float) -> tuple[float, float, float]:
        p = tp / (tp + fp_) if tp + fp_ > 0 else 0.0
        r = tp / (tp + fn) if tp + fn > 0 else 0.0
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        return p, r, f

    p, r, f1 = prf(fp)
    wp, _, wf1 = prf(fp * weight)
    return {
        "threshold": threshold,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "precision": p,
        "recall": r,
        "f1": f1,
        "fpr": fp / (fp + tn) if fp + tn > 0 else 0.0,
        "weighted_precision": wp,
        "weighted_f1": wf1,
        "alerts_per_10k_weighted": 10_000 * (tp + fp * weight) / (tp + fn + (fp + tn) * weight),
    }


def fit_baselines(
    x_train: NDArray[np.float64], seed: int
) -> dict[str, Callable[[NDArray[np.float64]], Scores]]:
    """Isolation Forest (200 trees) and PCA reconstruction error (90 % variance), fitted
    on `x_train`; each returns a scoring function (higher = more anomalous)."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(x_train)
    pca = PCA(n_components=0.9, random_state=seed).fit(x_train)

    def forest_score(x: NDArray[np.float64]) -> Scores:
        return np.asarray(-forest.score_samples(x), np.float64)

    def pca_score(x: NDArray[np.float64]) -> Scores:
        recon = pca.inverse_transform(pca.transform(x))
        return np.asarray(((x - recon) ** 2).mean(axis=1), np.float64)

    return {"isolation_forest": forest_score, "pca_reconstruction": pca_score}


def baseline_scores(
    x_train: NDArray[np.float64], x_test: NDArray[np.float64], seed: int
) -> dict[str, Scores]:
    """Isolation Forest (200 trees) and PCA reconstruction error (90 % variance)."""
    return {name: f(x_test) for name, f in fit_baselines(x_train, seed).items()}
