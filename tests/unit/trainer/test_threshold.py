"""Threshold strategies, chosen on validation scores."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.trainer.errors import ThresholdError
from fraudstream.trainer.settings import TrainerSettings
from fraudstream.trainer.threshold import choose_threshold


def _val():
    rng = np.random.default_rng(3)
    scores = np.r_[rng.exponential(1.0, 10_000), rng.exponential(1.0, 100) + 8.0]
    labels = np.r_[np.zeros(10_000, np.int64), np.ones(100, np.int64)]
    return scores, labels


def test_fpr() -> None:
    s, y = _val()
    thr, params = choose_threshold(TrainerSettings(target_fpr=0.01), s, y)
    assert (s[y == 0] > thr).mean() == pytest.approx(0.01, abs=0.0005)
    assert params == {"target_fpr": 0.01}


def test_quantile_and_budget() -> None:
    s, y = _val()
    thr, _ = choose_threshold(TrainerSettings(threshold_strategy="quantile", quantile=0.95), s, y)
    assert (s > thr).mean() == pytest.approx(0.05, abs=0.001)
    thr, p = choose_threshold(TrainerSettings(threshold_strategy="budget", budget_per_10k=50), s, y)
    assert (s > thr).mean() * 10_000 == pytest.approx(50, abs=2)
    assert p == {"budget_per_10k": 50}


def test_precision_reaches_target_with_max_recall() -> None:
    s, y = _val()
    settings = TrainerSettings(threshold_strategy="precision", target_precision=0.9)
    thr, _ = choose_threshold(settings, s, y)
    flagged = s > thr
    tp = (flagged & (y == 1)).sum()
    assert tp / flagged.sum() >= 0.9
    lower = s[s < thr].max()  # flagging one more distinct score must break the target
    more = s >= lower
    assert (more & (y == 1)).sum() / more.sum() < 0.9


def test_precision_weights_normals() -> None:
    s, y = _val()
    settings = TrainerSettings(threshold_strategy="precision", target_precision=0.9)
    plain, _ = choose_threshold(settings, s, y)
    weighted, p = choose_threshold(settings, s, y, normal_weight=50.0)
    assert weighted >= plain
    assert p["normal_weight"] == 50.0


def test_precision_needs_frauds_and_reachable_target() -> None:
    s, y = _val()
    settings = TrainerSettings(threshold_strategy="precision", target_precision=0.9)
    with pytest.raises(ThresholdError, match="needs labelled frauds"):
        choose_threshold(settings, s[y == 0], y[y == 0])
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=2000)
    labels = (rng.uniform(size=2000) < 0.01).astype(np.int64)
    with pytest.raises(ThresholdError, match=r"no threshold reaches precision 1\.000"):
        choose_threshold(
            TrainerSettings(threshold_strategy="precision", target_precision=1.0),
            mixed,
            labels,
            normal_weight=1000.0,
        )


def test_no_normals() -> None:
    with pytest.raises(ThresholdError, match="no normal rows"):
        choose_threshold(TrainerSettings(), np.ones(3), np.ones(3, np.int64))
