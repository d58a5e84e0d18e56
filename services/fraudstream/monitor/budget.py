"""The alert-rate budget policy: hold the champion's alert rate at a budget (alerts per
1,000 events) by recalibrating its serving threshold from the live score distribution.

Where it runs, and why the monitor: the threshold is one value for the whole model, so it
must be computed from ALL the champion's scores, not from the slice a scorer replica sees
(each replica would compute its own quantile and they would fight over the threshold); the
monitor is a single replica that already reads every score record. A change goes through
the one lifecycle path (`model.lifecycle.set_threshold`): recorded in the model history
(who = `budget-policy`, why = the figures), exported (`fraudstream_monitor_budget_*`),
announced on the model topic, and the scorers switch within seconds as for `fraudstream
models set-threshold`. The policy never changes the model, and a policy failure (store
unreachable) never touches scoring.

The rule, evaluated every `interval_s` once the window holds `min_events` of the champion's
scores (a sliding window of the last `window_events`):
- rate = 1000 x share of the window's scores above the serving threshold;
- inside the dead band (|rate - budget| <= tolerance x budget): no change;
- else the target is the (1 - budget/1000) quantile of the window's scores (the threshold
  that would have given exactly the budget), moved towards by at most `max_step` (relative:
  new / old within [1/(1+max_step), 1+max_step]) and kept within [min_threshold,
  max_threshold]. A change limited by a bound says so in its reason and in the metrics.
Repeated steps converge on a shifted distribution: each moves the threshold to the
quantile or by a factor 1+max_step towards it; scores are threshold-independent, so the
window need not be refilled after a change.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from fraudstream.config import FraudstreamSettings, settings_config
from fraudstream.errors import FraudstreamError
from fraudstream.model.lifecycle import LifecycleEvent, ManagedModelStore, set_threshold
from fraudstream.monitor.metrics import BudgetMetrics

__all__ = ["POLICY", "AlertBudget", "BudgetSettings", "Decision"]

log = logging.getLogger(__name__)

POLICY = "budget-policy"  # `by` of every change the policy records


class BudgetSettings(FraudstreamSettings):
    """`FRAUDSTREAM_MONITOR_BUDGET_*`: the policy is off until ALERTS_PER_1000 is set."""

    model_config = settings_config("MONITOR_BUDGET_")

    alerts_per_1000: float | None = Field(
        None, gt=0, lt=1000, description="The budget: alerts per 1,000 events (unset = off)."
    )
    window_events: int = Field(
        20_000, ge=100, description="Sliding window of the champion's latest scores."
    )
    min_events: int = Field(
        2_000, ge=1, description="No change until the window holds this many scores."
    )
    min_threshold: float = Field(0.0, ge=0, description="Never set the threshold below this.")
    max_threshold: float = Field(1e9, gt=0, description="Never set the threshold above this.")
    max_step: float = Field(
        0.5, gt=0, description="Largest relative change per step (0.5: x1.5 or /1.5)."
    )
    tolerance: float = Field(
        0.2, ge=0, lt=1, description="Dead band: no change while the rate is within this "
        "share of the budget (0.2: 8-12 alerts per 1,000 for a budget of 10).",
    )  # fmt: skip
    interval_s: float = Field(60.0, gt=0, description="Seconds between two evaluations.")

    @model_validator(mode="after")
    def _bounds(self) -> BudgetSettings:
        if self.min_threshold >= self.max_threshold:
            raise ValueError("min_threshold must be below max_threshold")
        if self.min_events > self.window_events:
            raise ValueError("min_events cannot exceed window_events")
        return self


@dataclass(frozen=True)
class Decision:
    """One recalibration: the figures it was made from, and the threshold it sets."""

    version: str
    budget: float
    events: int
    previous: float
    rate: float  # alerts per 1,000 at `previous` over the window
    target: float  # the window's (1 - budget/1000) quantile
    new: float
    expected_rate: float  # alerts per 1,000 at `new` over the same window
    limited_by: str | None  # "max_step", "min_threshold", "max_threshold" or None

    def reason(self) -> str:
        """The `why` recorded in the model history."""
        limited = f", limited by {self.limited_by}" if self.limited_by else ""
        return (
            f"alert budget {self.budget:g}/1000: {self.rate:.2f}/1000 over the last "
            f"{self.events} scores at {self.previous:.6g}; quantile {self.target:.6g}"
            f"{limited}; expected {self.expected_rate:.2f}/1000 at {self.new:.6g}"
        )


class AlertBudget:
    """The policy: feed it the champion's scores (`observe`), call `evaluate` regularly."""

    def __init__(
        self,
        settings: BudgetSettings,
        store: ManagedModelStore,
        *,
        metrics: BudgetMetrics | None = None,
        announce: Callable[[ManagedModelStore, LifecycleEvent], None] | None = None,
        clock: Callable[[], float],
    ) -> None:
        if settings.alerts_per_1000 is None:
            raise ValueError("the budget policy needs FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000")
        self.settings = settings
        self.budget = settings.alerts_per_1000
        self.store = store
        self.metrics: BudgetMetrics | None = None
        self.announce = announce
        self.clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._next_eval = 0.0
        if metrics is not None:
            self.attach(metrics)

    def attach(self, metrics: BudgetMetrics) -> None:
        """Export the policy's figures on `metrics` (the monitor's registry)."""
        self.metrics = metrics
        metrics.budget.set(self.budget)

    def observe(self, version: str, score: float) -> None:
        """One score record of `version` (only the champion's window is used)."""
        w = self._windows.get(version)
        if w is None:
            w = self._windows[version] = deque(maxlen=self.settings.window_events)
        w.append(score)

    def decide(self, version: str, threshold: float) -> Decision | None:
        """The change the rule makes for `version` serving at `threshold` (None: none)."""
        s = self.settings
        scores = np.fromiter(self._windows.get(version, ()), np.float64)
        if self.metrics is not None:
            self.metrics.window.set(len(scores))
            self.metrics.threshold.set(threshold)
        if len(scores) < s.min_events:
            return None
        rate = rate_at(scores, threshold)
        target = float(np.quantile(scores, 1.0 - self.budget / 1000.0))
        if self.metrics is not None:
            self.metrics.rate.set(rate)
            self.metrics.target.set(target)
        if abs(rate - self.budget) <= s.tolerance * self.budget:
            return None
        new, limited = bounded(target, threshold, s)
        if new == threshold:
            return None
        return Decision(
            version=version,
            budget=self.budget,
            events=len(scores),
            previous=threshold,
            rate=rate,
            target=target,
            new=new,
            expected_rate=rate_at(scores, new),
            limited_by=limited,
        )

    def evaluate(self) -> Decision | None:
        """Every `interval_s`: decide for the champion and apply (record, announce)."""
        now = self.clock()
        if now < self._next_eval:
            return None
        self._next_eval = now + self.settings.interval_s
        try:
            version = self.store.champion()
            if version is None:
                return None
            override = self.store.threshold_override(version)
            threshold = (
                override if override is not None else float(self.store.manifest(version).threshold)
            )
        except FraudstreamError as exc:
            self._failed(f"cannot read the model store: {exc}")
            return None
        for other in [v for v in self._windows if v != version]:
            del self._windows[other]  # a former champion's scores say nothing any more
        decision = self.decide(version, threshold)
        if decision is None:
            return None
        try:
            event = set_threshold(
                self.store, decision.new, by=POLICY, reason=decision.reason(),
                expected_version=version,
            )  # fmt: skip
        except FraudstreamError as exc:
            self._failed(f"cannot record the new threshold: {exc}")
            return None
        log.info("budget policy: %s threshold %.6g -> %.6g (%s)", version, decision.previous,
                 decision.new, decision.reason())  # fmt: skip
        if self.metrics is not None:
            self.metrics.changes.inc()
            self.metrics.limited.set(1 if decision.limited_by else 0)
            self.metrics.threshold.set(decision.new)
            self.metrics.last_change.set(self.clock())
        if self.announce is not None:
            self.announce(self.store, event)
        return decision

    def _failed(self, why: str) -> None:
        log.warning("budget policy: %s; threshold unchanged", why)
        if self.metrics is not None:
            self.metrics.failures.inc()


def rate_at(scores: NDArray[np.float64], threshold: float) -> float:
    """Alerts per 1,000 of `scores` at `threshold` (the scorer alerts on score > threshold)."""
    return 1000.0 * float(np.count_nonzero(scores > threshold)) / max(len(scores), 1)


def bounded(target: float, current: float, s: BudgetSettings) -> tuple[float, str | None]:
    """`target` limited to one step from `current` and to [min, max]; and what limited it."""
    new, limited = target, None
    if current > 0 and math.isfinite(current):
        lo, hi = current / (1.0 + s.max_step), current * (1.0 + s.max_step)
        if new < lo or new > hi:
            new, limited = min(max(new, lo), hi), "max_step"
    if new < s.min_threshold:
        new, limited = s.min_threshold, "min_threshold"
    if new > s.max_threshold:
        new, limited = s.max_threshold, "max_threshold"
    return float(new), limited
