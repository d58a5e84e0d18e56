"""Labelled model quality of one window of scores, in NumPy (no scikit-learn at serving time).

Inputs are aligned arrays over the scored events of the window: `score`, `alert` (score above
the serving threshold), `label` (1 fraud, 0 normal, -1 not labelled yet) and `day` (UTC day of
the score, for the daily top-k). Every figure is computed on the labelled events only; a
figure without the events it needs (no alert labelled, a single class) is NaN, not 0, so an
alert rule comparing it stays quiet instead of paging on an empty window.

Definitions (tests/unit/monitor/test_quality.py checks them against scikit-learn):
- precision / recall at the serving threshold: TP / (TP + FP), TP / (TP + FN);
- precision at k per day: among each UTC day's k highest-scored alerts, the labelled share
  that is fraud (all days of the window pooled): what an investigation team of k cases a day
  would see;
- prevalence-weighted precision: the precision the same TPR and FPR give at the production
  prevalence `prevalence` (labelled samples are often enriched in fraud, e.g. the 9 %-fraud
  sample vs the real 0.172 %): TPR*pi / (TPR*pi + FPR*(1 - pi));
- ROC-AUC: the Mann-Whitney statistic with average ranks for ties;
- average precision: sum over distinct thresholds of (R_n - R_{n-1}) * P_n, as scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Quality",
    "average_precision",
    "precision_at_k_per_day",
    "quality",
    "roc_auc",
    "weighted_precision",
]

NAN = float("nan")
Labels = NDArray[np.integer[Any]]  # 1 fraud, 0 normal, -1 not labelled yet (any integer width)


@dataclass(frozen=True)
class Quality:
    """The labelled quality of one model version over one window."""

    events: int
    labelled: int
    frauds: int
    alerts_labelled: int
    precision: float
    recall: float
    precision_at_k: float
    precision_weighted: float
    roc_auc: float
    average_precision: float

    @property
    def unlabelled(self) -> int:
        return self.events - self.labelled


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else NAN


def _ranking(y: Labels, score: NDArray[np.float64]) -> tuple[float, float]:
    """(ROC-AUC, average precision) of labels `y` (0/1) ranked by `score`, from one sort.

    The scores are sorted once, ascending, and only per distinct score are the events and
    frauds kept (which of tied events comes first never matters); each working array is
    dropped once used. A sort per figure, each with its own copies, was most of the
    monitor's short memory peaks at each refresh (docs/reliability.md). Every sum is over
    integers and halves below 2**53, so both figures are exact: bit for bit those of the
    per-event formulas (tests/unit/monitor/test_quality.py).
    """
    n = len(y)
    pos = int(y.sum())
    if pos == 0:
        return NAN, NAN
    neg = n - pos
    order = np.argsort(score)
    s = score[order]
    t = y[order]
    del order
    ends = np.append(np.flatnonzero(s[1:] != s[:-1]), n - 1)  # last index of each score
    del s
    frauds = np.cumsum(t)[ends]  # frauds at or below each distinct score
    del t
    # ROC-AUC: the Mann-Whitney statistic, the rank sum of the frauds with average ranks for ties
    auc = NAN
    if neg > 0:
        per_score = np.diff(frauds, prepend=0)
        avg_rank = (ends + 1) - (np.diff(ends, prepend=-1) - 1) / 2.0  # 1-based
        auc = (float((per_score * avg_rank).sum()) - pos * (pos + 1) / 2.0) / (pos * neg)
        del per_score, avg_rank
    # average precision over the thresholds from the highest score down: at each, the events
    # and frauds at or above it
    above = n - np.append(0, ends[:-1] + 1)[::-1]
    tp = pos - np.append(0, frauds[:-1])[::-1]
    del ends, frauds
    precision = tp / above
    recall = tp / pos
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return auc, ap


def roc_auc(y: Labels, score: NDArray[np.float64]) -> float:
    """Area under the ROC curve of labels `y` (0/1) ranked by `score` (NaN with one class)."""
    return _ranking(y, score)[0]


def average_precision(y: Labels, score: NDArray[np.float64]) -> float:
    """Average precision of labels `y` ranked by `score` (NaN without a fraud)."""
    return _ranking(y, score)[1]


def precision_at_k_per_day(
    y: Labels,
    alert: NDArray[np.bool_],
    score: NDArray[np.float64],
    day: NDArray[np.int64],
    k: int,
) -> float:
    """Fraud share among the labelled of each day's top-k alerts (all days pooled)."""
    idx = np.flatnonzero(alert)
    if idx.size == 0 or k <= 0:
        return NAN
    # sort the alerts by day, then by score descending; keep the first k of each day
    order = idx[np.lexsort((-score[idx], day[idx]))]
    d = day[order]
    start = np.r_[0, np.flatnonzero(np.diff(d)) + 1]
    rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    top = order[rank < k]
    lab = y[top]
    labelled = lab >= 0
    return _ratio(float((lab[labelled] == 1).sum()), float(labelled.sum()))


def weighted_precision(tpr: float, fpr: float, prevalence: float) -> float:
    """Precision at prevalence `prevalence` for a classifier with this TPR and FPR."""
    if math.isnan(tpr) or math.isnan(fpr):
        return NAN
    return _ratio(tpr * prevalence, tpr * prevalence + fpr * (1.0 - prevalence))


def quality(
    score: NDArray[np.float64],
    alert: NDArray[np.bool_],
    label: Labels,
    day: NDArray[np.int64],
    *,
    k: int,
    prevalence: float,
) -> Quality:
    """Every figure of one window (see the module docstring)."""
    known = label >= 0
    y = label[known]
    a = alert[known]
    s = score[known]
    tp = float(np.sum(a & (y == 1)))
    fp = float(np.sum(a & (y == 0)))
    pos = float(np.sum(y == 1))
    neg = float(np.sum(y == 0))
    recall = _ratio(tp, pos)
    fpr = _ratio(fp, neg)
    auc, ap = _ranking(y, s)
    return Quality(
        events=len(label),
        labelled=int(known.sum()),
        frauds=int(pos),
        alerts_labelled=int(tp + fp),
        precision=_ratio(tp, tp + fp),
        recall=recall,
        precision_at_k=precision_at_k_per_day(label, alert, score, day, k),
        precision_weighted=weighted_precision(recall, fpr, prevalence),
        roc_auc=auc,
        average_precision=ap,
    )
