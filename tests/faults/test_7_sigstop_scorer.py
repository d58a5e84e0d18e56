"""The scorer frozen (SIGSTOP) for longer than its session timeout while a second replica runs:
the group moves the frozen replica's partitions to the second one, which scores them; the
frozen one, resumed (SIGCONT), finds itself fenced out of the old generation and rejoins.
0 lost; the duplicates (batches the frozen replica had in flight, re-read by the other) are
counted in the table."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from fraudstream.local.liveview import scrape
from fraudstream.local.procs import free_port
from fraudstream.testing.harness import Harness
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(480)]
N = 20_000
RATE = 2_000.0
FROZEN_S = 20.0  # the scorer's session timeout is 10 s


def test_sigstop_scorer_beyond_its_session_timeout(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    port = free_port()
    base = h.pipe.scorer_service("scorer2")
    second = base.model_copy(
        update={
            "port": port,
            "ready_url": f"http://{h.ep.host}:{port}/readyz",
            "url": f"http://{h.ep.host}:{port}/metrics",
            "env": {**base.env, **h.scorer_env, "FRAUDSTREAM_SCORER_METRICS_PORT": str(port)},
        }
    )
    h.sup.start(second)
    try:
        events = h.events(N, id_offset=id_block, seed=71)
        ids = {e["Id"] for e in events}
        thread, stats = h.produce_in_background(events, rate=RATE)
        time.sleep(4)
        rec = h.sup.record("scorer")
        assert rec is not None
        before_second = scrape(f"http://{h.ep.host}:{port}/metrics").scored
        if h.dog is not None:
            h.dog.pause("scorer")  # a frozen process fails its probe: leave it frozen
        os.kill(rec.pid, signal.SIGSTOP)
        t_fault = time.monotonic()
        try:
            time.sleep(FROZEN_S)
            took_over = scrape(f"http://{h.ep.host}:{port}/metrics").scored - before_second
        finally:
            os.kill(rec.pid, signal.SIGCONT)
            if h.dog is not None:
                h.dog.resume("scorer")
        thread.join(120)
        assert stats and stats[0].delivered == N and stats[0].failed == 0
        ledger, _ = h.wait_scored(ids, timeout=240)
        caught_up_s = time.monotonic() - t_fault
        same_pid = h.sup.record("scorer") is not None and h.sup.record("scorer").pid == rec.pid  # type: ignore[union-attr]
        fault_results.append(
            {
                "fault": f"SIGSTOP the scorer {FROZEN_S:.0f} s (session timeout 10 s) with a "
                "second replica, then SIGCONT",
                "events_in": N,
                "scored": len(set(ledger.seen)),
                "lost": len(ledger.lost),
                "duplicates": ledger.duplicates,
                "recovery_s": round(caught_up_s, 1),
                "notes": f"the second replica scored {took_over:.0f} events while the first was "
                f"frozen; all scored {caught_up_s:.1f}s after the freeze; frozen replica "
                f"resumed by itself (same pid: {same_pid})",
            }
        )
        assert not ledger.lost, ledger.summary()
        assert took_over > 0, "the second replica never took the frozen one's partitions"
        wait_until(
            lambda: h.metrics().ready, 60, "the resumed replica to be ready again", interval=1
        )
    finally:
        h.sup.stop("scorer2")
