"""One polling helper for the test suites: wait for a condition, fail naming what was awaited
and the last value seen (a bare "timed out" says nothing about how far it got)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Waited", "wait_until"]

T = TypeVar("T")
_SHOWN = 500  # characters of the last value's repr in the failure message


@dataclass(frozen=True)
class Waited(Generic[T]):
    """What a wait ended on: the probe's accepted value and the seconds it took."""

    value: T
    seconds: float


def wait_until(
    probe: Callable[[], T],
    timeout: float,
    what: str,
    *,
    done: Callable[[T], object] = bool,
    interval: float = 0.05,
) -> Waited[T]:
    """Call `probe` every `interval` s until `done(value)` is true (default: the value is
    truthy); raise AssertionError naming `what` and the last value after `timeout` s.

    The probe is called at least once, and once more at the deadline, so a slow probe still
    gets its last look. Exceptions from the probe propagate: a wait never hides an error.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        value = probe()
        if done(value):
            return Waited(value, time.monotonic() - t0)
        now = time.monotonic()
        if now >= deadline:
            shown = repr(value)
            if len(shown) > _SHOWN:
                shown = shown[:_SHOWN] + "..."
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {shown}")
        time.sleep(min(interval, deadline - now))
