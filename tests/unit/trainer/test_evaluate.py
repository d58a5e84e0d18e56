"""Evaluation metrics: prevalence weighting, recall at FPR, confusion at threshold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from fraudstream.trainer import evaluate


def test_normal_weight_restores_real_prevalence() -> None:
    labels = np.r_[np.zeros(984, np.int64), np.ones(492, np.int64)]
    w = evaluate.normal_weight(labels, 492 / 284_807)
    assert w == pytest.approx(284_315 / 984)
    assert evaluate.normal_weight(labels, None) == 1.0
    # never weights normals down
    assert evaluate.normal_weight(np.r_[np.zeros(10), np.ones(1)].astype(np.int64), 0.5) == 1.0


def test_recall_at_fpr() -> None:
    normals = np.arange(1000, dtype=float)
    frauds = np.array([995.5, 989.5, 500.0, 2000.0])
    scores = np.r_[normals, frauds]
    labels = np.r_[np.zeros(1000, np.int64), np.ones(4, np.int64)]
    assert evaluate.recall_at_fpr(scores, labels, 0.01) == pytest.approx(0.75)
    assert evaluate.recall_at_fpr(scores, labels, 0.001) == pytest.approx(0.25)


def test_weighted_ap_is_lower_when_frauds_are_rare() -> None:
    rng = np.random.default_rng(1)
    scores = np.r_[rng.normal(0, 1, 500), rng.normal(2, 1, 100)]
    labels = np.r_[np.zeros(500, np.int64), np.ones(100, np.int64)]
    m = evaluate.ranking_metrics(scores, labels, weight=50.0)
    assert m["weighted_average_precision"] < m["average_precision"]
    w = np.where(labels == 1, 1.0, 50.0)
    assert m["weighted_average_precision"] == pytest.approx(
        average_precision_score(labels, scores, sample_weight=w)
    )
    assert 0.5 < m["roc_auc"] < 1.0


def test_threshold_metrics_confusion() -> None:
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.95, 0.3])
    labels = np.array([0, 0, 0, 1, 1, 1], np.int64)
    m = evaluate.threshold_metrics(scores, labels, threshold=0.5, weight=10.0)
    assert m["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["weighted_precision"] == pytest.approx(2 / 12)
    assert m["fpr"] == pytest.approx(1 / 3)


def test_baselines_rank_outliers_high() -> None:
    rng = np.random.default_rng(2)
    cov = np.eye(5) + 0.9 * (np.ones((5, 5)) - np.eye(5))
    train = rng.multivariate_normal(np.zeros(5), cov, 800)
    test_norm = rng.multivariate_normal(np.zeros(5), cov, 200)
    test_out = rng.normal(0, 3, (20, 5))
    scores = evaluate.baseline_scores(train, np.r_[test_norm, test_out], seed=0)
    labels = np.r_[np.zeros(200, np.int64), np.ones(20, np.int64)]
    for s in scores.values():
        assert evaluate.ranking_metrics(s, labels, 1.0)["roc_auc"] > 0.8
