"""Event latency on a real broker: replayed events stamped 2013 still show their real
pipeline latency (record timestamp -> outputs acknowledged), mass in the low buckets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fraudstream.producer.synthetic import generate_events
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _buckets(text: str) -> dict[str, float]:
    pat = re.compile(r'^fraudstream_event_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$')
    return {m[1]: float(m[2]) for ln in text.splitlines() if (m := pat.match(ln))}


def test_healthy_scorer_latency_is_low_for_2013_events(
    live_producer: Any, model_version: str, run_scorer: Callable[..., Any]
) -> None:
    n = 2000
    events = list(
        generate_events(n, seed=9, start="2013-09-01T00:00:00Z", users=50, unlabelled=1.0)
    )
    rs = run_scorer()
    rs.wait_ready()
    live_producer.send(events, rate=2000)
    b = wait_until(
        lambda: _buckets(httpx.get(rs.url("/metrics")).text),
        60,
        f"{n} latency observations",
        done=lambda b: b.get("+Inf", 0) >= n,
        interval=0.2,
    ).value
    assert b["+Inf"] == n, b
    assert b["60.0"] == n, "nothing beyond the last finite bucket (the 2013 bug put all there)"
    # a healthy stack keeps p99 under the alert's 2 s (FraudstreamEventLatencyHigh)
    assert b["2.5"] >= 0.99 * n, b
    # (no tighter bound: at a load of 15 on the shared 2 cores most took 0.5-2.5 s)
