"""The monitor's quality figures equal scikit-learn's on the same labelled events."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

from fraudstream.monitor.quality import (
    average_precision,
    precision_at_k_per_day,
    quality,
    roc_auc,
    weighted_precision,
)


def _sample(seed: int, n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(np.int64)
    score = rng.normal(0, 1, n) + 2.0 * y
    score = np.round(score, 1)  # plenty of ties
    return y, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_average_precision_match_sklearn(seed: int) -> None:
    y, s = _sample(seed)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def _auc_by_average_ranks(y: np.ndarray, score: np.ndarray) -> float:
    """The per-event formula: each fraud's average rank (ties share theirs), summed."""
    pos, neg = int(y.sum()), len(y) - int(y.sum())
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    return (float(avg_rank[inverse][y == 1].sum()) - pos * (pos + 1) / 2.0) / (pos * neg)


def _ap_by_descending_thresholds(y: np.ndarray, score: np.ndarray) -> float:
    """The per-event formula: sort descending, precision and recall at each distinct score."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(t)[last]
    return float(np.sum(np.diff(np.r_[0.0, tp / int(y.sum())]) * (tp / (last + 1))))


@pytest.mark.parametrize(("seed", "decimals"), [(5, 0), (6, 1), (7, 3), (8, None)])
def test_one_sort_gives_the_per_event_formulas_bit_for_bit(seed: int, decimals: int | None) -> None:
    """Both figures come from one sort grouped by distinct score; they are exact, so they
    equal the per-event formulas exactly, whatever the ties and the labels' integer width."""
    rng = np.random.default_rng(seed)
    y = (rng.random(20_000) < 0.03).astype(np.int64)
    s = rng.normal(0, 1, len(y)) + y
    if decimals is not None:
        s = np.round(s, decimals)
    auc, ap = _auc_by_average_ranks(y, s), _ap_by_descending_thresholds(y, s)
    for labels in (y, y.astype(np.int8)):
        assert roc_auc(labels, s) == auc
        assert average_precision(labels, s) == ap


def test_quality_matches_sklearn_on_the_labelled_part_and_counts_the_rest() -> None:
    y, s = _sample(3)
    label = y.copy()
    label[::4] = -1  # a quarter not labelled yet
    alert = s > 1.5
    day = np.zeros(len(y), np.int64)
    q = quality(s, alert, label, day, k=50, prevalence=0.01)
    known = label >= 0
    assert q.events == len(y) and q.labelled == int(known.sum())
    assert q.unlabelled == int((~known).sum())
    assert q.frauds == int(label[known].sum())
    assert q.alerts_labelled == int(alert[known].sum())
    assert q.precision == pytest.approx(precision_score(label[known], alert[known]))
    assert q.recall == pytest.approx(recall_score(label[known], alert[known]))
    assert q.roc_auc == pytest.approx(roc_auc_score(label[known], s[known]))
    assert q.average_precision == pytest.approx(average_precision_score(label[known], s[known]))
    tpr = q.recall
    fpr = float((alert[known] & (label[known] == 0)).sum() / (label[known] == 0).sum())
    assert q.precision_weighted == pytest.approx(tpr * 0.01 / (tpr * 0.01 + fpr * 0.99))


def test_weighted_precision_equals_precision_at_the_observed_prevalence() -> None:
    y, s = _sample(4)
    alert = s > 1.0
    q = quality(s, alert, y, np.zeros(len(y), np.int64), k=10, prevalence=float(y.mean()))
    assert q.precision_weighted == pytest.approx(q.precision)
    assert weighted_precision(0.8, 0.01, 0.00172) == pytest.approx(
        0.8 * 0.00172 / (0.8 * 0.00172 + 0.01 * (1 - 0.00172))
    )


def test_precision_at_k_takes_each_days_top_k_alerts() -> None:
    # day 0: alerts scored 9, 8, 7 (labels 1, 0, 1); day 1: 5 (1), 4 (unlabelled), 3 (0)
    score = np.array([9.0, 8.0, 7.0, 1.0, 5.0, 4.0, 3.0])
    alert = np.array([True, True, True, False, True, True, True])
    label = np.array([1, 0, 1, 1, 1, -1, 0])
    day = np.array([0, 0, 0, 0, 1, 1, 1])
    # k=2: day 0 -> 9 (1), 8 (0); day 1 -> 5 (1), 4 (unlabelled): 2 frauds of 3 labelled
    assert precision_at_k_per_day(label, alert, score, day, 2) == pytest.approx(2 / 3)
    assert precision_at_k_per_day(label, alert, score, day, 1) == pytest.approx(1.0)
    assert precision_at_k_per_day(label, alert, score, day, 10) == pytest.approx(3 / 5)


def test_undefined_figures_are_nan_not_zero() -> None:
    s = np.array([0.1, 0.2])
    q = quality(s, np.array([False, False]), np.array([0, -1]), np.zeros(2, np.int64),
                k=5, prevalence=0.01)  # fmt: skip
    assert math.isnan(q.precision) and math.isnan(q.recall) and math.isnan(q.roc_auc)
    assert math.isnan(q.average_precision) and math.isnan(q.precision_at_k)
