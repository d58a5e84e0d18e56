"""The alert-rate budget policy on a real directory store: the rate converges to the budget
on a shifted score distribution, every step and bound holds, every change is recorded
(by the policy, with its figures) and exported; settings refuse inconsistent bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from fraudstream.config import load_settings
from fraudstream.errors import ConfigError
from fraudstream.model import DirectoryModelStore
from fraudstream.monitor.budget import POLICY, AlertBudget, BudgetSettings, rate_at
from fraudstream.monitor.metrics import BudgetMetrics
from fraudstream.testing.scorer import publish_pca_model

ANNOUNCED: list[str] = []  # versions the policy announced (the last policy built)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _policy(
    tmp_path: Path, **kw: float
) -> tuple[AlertBudget, DirectoryModelStore, str, Clock, CollectorRegistry]:
    version = publish_pca_model(tmp_path, seed=1)
    store = DirectoryModelStore(tmp_path)
    settings = BudgetSettings(**{"alerts_per_1000": 10.0, "window_events": 20_000,
                                 "min_events": 5_000, "interval_s": 60.0, **kw})  # fmt: skip
    registry = CollectorRegistry()
    clock = Clock()
    policy = AlertBudget(
        settings, store, metrics=BudgetMetrics(registry), clock=clock,
        announce=lambda _s, e: ANNOUNCED.append(e.version),
    )  # fmt: skip
    ANNOUNCED.clear()
    return policy, store, version, clock, registry


def _serving(store: DirectoryModelStore, version: str) -> float:
    override = store.threshold_override(version)
    return override if override is not None else store.manifest(version).threshold


def _run(
    policy: AlertBudget, version: str, clock: Clock, rng: np.random.Generator, scale: float,
    rounds: int,
) -> None:  # fmt: skip
    for _ in range(rounds):
        for s in rng.lognormal(0.0, 0.8, 4000) * scale:
            policy.observe(version, float(s))
        clock.t += 61
        policy.evaluate()


def test_the_rate_converges_to_the_budget_and_follows_a_shift(tmp_path: Path) -> None:
    policy, store, version, clock, registry = _policy(tmp_path, max_step=0.5)
    rng = np.random.default_rng(3)
    _run(policy, version, clock, rng, scale=1.0, rounds=25)
    fresh = rng.lognormal(0.0, 0.8, 200_000)
    t1 = _serving(store, version)
    assert 8.0 <= rate_at(fresh, t1) <= 12.0, (t1, rate_at(fresh, t1))
    changes = [e for e in store.history() if e.by == POLICY]
    assert changes and all(e.action == "set-threshold" for e in changes)
    # the inputs drift: scores triple, the alert rate explodes, the policy brings it back
    assert rate_at(fresh * 3.0, t1) > 100
    _run(policy, version, clock, rng, scale=3.0, rounds=25)
    t2 = _serving(store, version)
    assert 8.0 <= rate_at(fresh * 3.0, t2) <= 12.0, (t2, rate_at(fresh * 3.0, t2))
    more = [e for e in store.history() if e.by == POLICY][len(changes) :]
    assert more, "the shift caused changes"
    for e in [*changes, *more]:  # every step within max_step, every reason with its figures
        assert isinstance(e.previous, float) and isinstance(e.new, float)
        assert 1 / 1.5 - 1e-9 <= e.new / e.previous <= 1.5 + 1e-9
        assert "alert budget 10/1000" in e.reason and "quantile" in e.reason
    assert [version] * (len(changes) + len(more)) == ANNOUNCED
    changed = registry.get_sample_value("fraudstream_monitor_budget_changes_total")
    assert changed == len(changes) + len(more)
    assert registry.get_sample_value("fraudstream_monitor_budget_threshold") == t2
    assert registry.get_sample_value("fraudstream_monitor_budget_alerts_per_1000") == 10.0
    rate = registry.get_sample_value("fraudstream_monitor_budget_observed_alerts_per_1000")
    assert rate is not None and 8.0 <= rate <= 12.0


def test_bounds_hold_and_say_so(tmp_path: Path) -> None:
    policy, store, version, clock, registry = _policy(tmp_path, max_threshold=2.0, max_step=10.0)
    rng = np.random.default_rng(4)
    _run(policy, version, clock, rng, scale=5.0, rounds=10)  # the quantile is far above 2.0
    assert _serving(store, version) == 2.0
    last = store.history()[-1]
    assert last.by == POLICY and "limited by max_threshold" in last.reason
    assert registry.get_sample_value("fraudstream_monitor_budget_limited") == 1.0
    n = len(store.history())
    _run(policy, version, clock, rng, scale=5.0, rounds=3)
    assert len(store.history()) == n, "no change recorded while pinned at the bound"

    policy, store, version, clock, _ = _policy(tmp_path / "b", min_threshold=50.0, max_step=10.0)
    _run(policy, version, clock, rng, scale=0.01, rounds=5)
    assert _serving(store, version) == 50.0
    assert "limited by min_threshold" in store.history()[-1].reason


def test_no_change_before_min_events_inside_the_band_or_the_interval(tmp_path: Path) -> None:
    policy, store, version, clock, _ = _policy(tmp_path, tolerance=0.5)
    t0 = _serving(store, version)
    rng = np.random.default_rng(5)
    for s in rng.lognormal(0.0, 0.8, 4000) * 10:  # far over budget, but < min_events
        policy.observe(version, float(s))
    clock.t += 61
    assert policy.evaluate() is None and store.history() == []
    for s in rng.lognormal(0.0, 0.8, 4000) * 10:
        policy.observe(version, float(s))
    assert policy.evaluate() is None, "the interval has not passed"
    clock.t += 61
    d = policy.evaluate()
    assert d is not None and d.previous == t0 and len(store.history()) == 1
    assert d.limited_by == "max_step" and d.new == pytest.approx(t0 * 1.5)
    # scores of another version never count for the champion
    p2, store2, _, clock2, _ = _policy(tmp_path / "c")
    for s in rng.lognormal(0.0, 0.8, 10_000) * 10:
        p2.observe("someone-else", float(s))
    clock2.t += 61
    assert p2.evaluate() is None and store2.history() == []
    # inside the dead band: a window at exactly the budget changes nothing
    p3, store3, v3, clock3, _ = _policy(tmp_path / "d")
    t3 = _serving(store3, v3)
    base = rng.lognormal(0.0, 0.8, 10_000)
    scaled = base * (t3 / float(np.quantile(base, 0.99)))  # 1 % above t3: 10 per 1,000
    for s in scaled:
        p3.observe(v3, float(s))
    clock3.t += 61
    assert p3.evaluate() is None and store3.history() == []
    assert math.isclose(rate_at(scaled, t3), 10.0, abs_tol=0.2)


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(BudgetSettings).alerts_per_1000 is None  # off by default
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000", "5")
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_BUDGET_MAX_STEP", "0.25")
    s = load_settings(BudgetSettings)
    assert (s.alerts_per_1000, s.max_step) == (5.0, 0.25)
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_BUDGET_MIN_THRESHOLD", "3")
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_BUDGET_MAX_THRESHOLD", "2")
    with pytest.raises(ConfigError, match="min_threshold must be below max_threshold"):
        load_settings(BudgetSettings)
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000", "0")
    with pytest.raises(ConfigError, match="FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000"):
        load_settings(BudgetSettings)


def test_a_champion_changed_meanwhile_gets_no_threshold_meant_for_another(tmp_path: Path) -> None:
    from fraudstream.model.lifecycle import LifecycleError, set_threshold

    _, store, version, _, _ = _policy(tmp_path)
    with pytest.raises(LifecycleError, match="not changed"):
        set_threshold(store, 2.0, by=POLICY, reason="r", expected_version="an-older-champion")
    assert store.history() == []
    assert set_threshold(store, 2.0, by=POLICY, reason="r", expected_version=version).new == 2.0
