"""PSI per feature over a sliding window: quiet on the reference population, high for the one
feature that shifted, back to quiet once the shifted events leave the window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.scorer.drift import SCORE, DriftWindow, psi
from fraudstream.trainer.reference import drift_reference

V4 = NUMERIC_COLUMNS.index("V4")


def _population(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, len(NUMERIC_COLUMNS)))
    x[:, 0] = rng.uniform(0, 172_800, n)  # Time
    x[:, -1] = np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(3, 1, n))  # Amount, ties at 0
    scores = rng.gamma(2.0, 0.5, n)
    return x, scores


@pytest.fixture(scope="module")
def window_factory():  # type: ignore[no-untyped-def]
    x, s = _population(50_000, 0)
    ref = drift_reference(x, NUMERIC_COLUMNS, s)

    def make(window: int = 10_000, min_events: int = 1000) -> DriftWindow:
        return DriftWindow(ref, window, min_events)

    return make


def test_psi_formula() -> None:
    live = np.array([[30.0, 70.0]])
    ref = np.array([[0.5, 0.5]])
    want = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.7 - 0.5) * math.log(0.7 / 0.5)
    assert psi(live, ref)[0] == pytest.approx(want)
    assert psi(np.array([[0.0, 10.0]]), ref)[0] < 10, "an empty bin is floored, not infinite"


def test_same_population_is_quiet_and_shift_raises_only_that_feature(window_factory) -> None:  # type: ignore[no-untyped-def]
    w = window_factory()
    x, s = _population(10_000, 1)
    for i in range(0, 10_000, 2000):
        w.observe(x[i : i + 2000], s[i : i + 2000])
    quiet = w.values()
    assert "Time" not in quiet and set(quiet) == {*NUMERIC_COLUMNS[1:], SCORE}
    assert max(quiet.values()) < 0.05, quiet

    shifted, s2 = _population(10_000, 2)
    shifted[:, V4] += 1.5
    for i in range(0, 10_000, 2000):
        w.observe(shifted[i : i + 2000], s2[i : i + 2000])
    drift = w.values()
    assert drift["V4"] > 0.25, drift["V4"]
    assert max(v for k, v in drift.items() if k != "V4") < 0.05

    back, s3 = _population(10_000, 3)  # a full window of normal traffic: V4 quiet again
    for i in range(0, 10_000, 2000):
        w.observe(back[i : i + 2000], s3[i : i + 2000])
    assert w.events == 10_000
    assert w.values()["V4"] < 0.05


def test_nan_until_the_window_has_enough_events(window_factory) -> None:  # type: ignore[no-untyped-def]
    w = window_factory(min_events=1000)
    x, s = _population(999, 4)
    w.observe(x, s)
    assert all(math.isnan(v) for v in w.values().values())
    w.observe(x[:1], s[:1])
    assert not any(math.isnan(v) for v in w.values().values())


def test_the_score_is_monitored_too(window_factory) -> None:  # type: ignore[no-untyped-def]
    w = window_factory()
    x, s = _population(5000, 5)
    w.observe(x, s * 3.0)
    v = w.values()
    assert v[SCORE] > 0.25 and v["V1"] < 0.05
