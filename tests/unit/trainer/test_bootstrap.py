"""Bootstrap metrics from counts: the sample itself matches the reference definitions."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.trainer import bootstrap, evaluate


def _sample(n_normal: int = 600, n_fraud: int = 40, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    labels = np.array([0] * n_normal + [1] * n_fraud)
    scores = np.concatenate([rng.normal(0, 1, n_normal), rng.normal(2.0, 1.2, n_fraud)])
    return scores, labels


def test_counts_of_ones_give_the_sample_metrics() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores, labels = _sample()
    w = 50.0
    got = bootstrap.metrics_from_counts(
        scores, labels, np.ones((1, len(labels)), np.int64), w, threshold=1.5
    )
    sw = np.where(labels == 1, 1.0, w)
    assert got["roc_auc"][0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert got["weighted_average_precision"][0] == pytest.approx(
        average_precision_score(labels, scores, sample_weight=sw), abs=1e-12
    )
    at = evaluate.threshold_metrics(scores, labels, 1.5, w)
    assert got["weighted_precision_at_threshold"][0] == pytest.approx(at["weighted_precision"])
    # recall with at most 1 % of the normals above the cut (the reference interpolates the
    # normals' quantile, so it can differ by the one fraud next to the cut)
    ref = evaluate.recall_at_fpr(scores, labels, 0.01)
    assert abs(got["recall_at_fpr_0.01"][0] - ref) <= 1 / 40 + 1e-12


def test_resamples_are_stratified_and_intervals_cover_the_sample() -> None:
    scores, labels = _sample()
    counts = bootstrap.resample_counts(labels, 400, seed=1)
    assert counts.shape == (400, len(labels))
    assert (counts[:, labels == 1].sum(axis=1) == 40).all()
    assert (counts[:, labels == 0].sum(axis=1) == 600).all()
    boot = bootstrap.metrics_from_counts(scores, labels, counts, 10.0)
    lo, hi = bootstrap.interval(boot["roc_auc"])
    point = bootstrap.metrics_from_counts(scores, labels, np.ones((1, 640), np.int64), 10.0)
    assert lo < point["roc_auc"][0] < hi and hi - lo > 0.005


def test_paired_difference_sees_a_better_model() -> None:
    scores, labels = _sample()
    counts = bootstrap.resample_counts(labels, 300, seed=2)
    better = scores + 1.5 * labels  # frauds pushed up
    per_seed = [
        {
            "a": bootstrap.metrics_from_counts(better, labels, counts, 10.0),
            "b": bootstrap.metrics_from_counts(scores, labels, counts, 10.0),
        }
    ]
    d = bootstrap.paired_difference(per_seed, "a", "b", "weighted_average_precision")
    assert d["p_greater"] > 0.99 and d["lo"] > 0
    same = bootstrap.paired_difference(per_seed, "b", "b", "roc_auc")
    assert same == {"lo": 0.0, "hi": 0.0, "p_greater": 0.0}
    ci = bootstrap.seed_mean_intervals(per_seed)
    assert set(ci) == {"a", "b"} and ci["a"]["roc_auc"]["lo"] > ci["b"]["roc_auc"]["lo"]
