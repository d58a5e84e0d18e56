"""The token bucket keeps an accurate long-run rate and caps bursts."""

from __future__ import annotations

import time

import pytest

from fraudstream.producer.ratelimit import TokenBucket


class FakeClock:
    """A clock that only moves when the bucket sleeps (plus an optional per-sleep overshoot)."""

    def __init__(self, overshoot: float = 0.0) -> None:
        self.now = 0.0
        self.overshoot = overshoot

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s + self.overshoot


@pytest.mark.parametrize("overshoot", [0.0, 0.0003, 0.002])
def test_long_run_rate_is_accurate_even_when_sleeps_overshoot(overshoot: float) -> None:
    clock = FakeClock(overshoot)
    bucket = TokenBucket(2000, clock=clock, sleep=clock.sleep)
    for _ in range(20_000):
        bucket.take()
    assert 20_000 / clock.now == pytest.approx(2000, rel=0.01)


def test_burst_is_capped_after_idle_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=10, clock=clock, sleep=clock.sleep)
    clock.now += 60.0  # a minute idle must not bank 6,000 tokens
    start = clock.now
    for _ in range(110):
        bucket.take()
    # 10 free tokens (burst), then 100 more at 100/s -> about one second (the first is free).
    assert clock.now - start == pytest.approx(0.99, abs=0.02)


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


@pytest.mark.timeout(20)
def test_real_clock_2000_per_second_for_3_seconds_within_10_percent() -> None:
    bucket = TokenBucket(2000)
    t0 = time.monotonic()
    for _ in range(6000):
        bucket.take()
    elapsed = time.monotonic() - t0
    assert 6000 / elapsed == pytest.approx(2000, rel=0.10)
