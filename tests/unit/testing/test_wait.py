"""wait_until: returns the accepted value and the time taken; fails naming what it awaited
and the last value seen; never swallows a probe's error."""

from __future__ import annotations

import itertools
import time

import pytest

from fraudstream.testing.wait import wait_until


def test_returns_the_first_accepted_value_and_the_seconds_waited() -> None:
    counter = itertools.count()
    t0 = time.monotonic()
    got = wait_until(lambda: next(counter), 10, "three polls", done=lambda n: n >= 3, interval=0.01)
    assert got.value == 3
    assert 0.02 <= got.seconds <= time.monotonic() - t0


def test_default_condition_is_a_truthy_value() -> None:
    values = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(values), 10, "ready", interval=0.001).value == "ready"


def test_timeout_names_what_and_the_last_value_seen() -> None:
    counter = itertools.count()
    t0 = time.monotonic()
    with pytest.raises(AssertionError) as err:
        wait_until(lambda: next(counter), 0.2, "partitions", done=lambda n: n < 0, interval=0.01)
    elapsed = time.monotonic() - t0
    msg = str(err.value)
    assert msg.startswith("timed out after 0.2s waiting for partitions; last: ")
    last = int(msg.rsplit(" ", 1)[1])
    assert last >= 3, "polled repeatedly, and reports the latest value, not the first"
    assert 0.2 <= elapsed < 5


def test_the_probe_is_called_at_the_deadline_even_when_the_interval_is_longer() -> None:
    calls: list[float] = []
    t0 = time.monotonic()
    with pytest.raises(AssertionError):
        wait_until(lambda: calls.append(time.monotonic() - t0), 0.1, "x", interval=60)
    assert len(calls) == 2 and calls[1] >= 0.1, calls


def test_a_long_last_value_is_cut_in_the_message() -> None:
    with pytest.raises(AssertionError) as err:
        wait_until(lambda: "x" * 5000, 0.01, "a short value", done=lambda s: len(s) < 10)
    assert len(str(err.value)) < 700 and str(err.value).endswith("...")


def test_a_probe_error_propagates_at_once() -> None:
    def probe() -> int:
        raise ConnectionError("refused")

    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="refused"):
        wait_until(probe, 30, "a broken probe")
    assert time.monotonic() - t0 < 5
