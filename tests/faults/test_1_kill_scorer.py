"""kill -9 the scorer while events stream in; the stack's watchdog restarts it (no manual
step): every event still scored (at-least-once: duplicates are the batches in flight at the
kill, counted in the table)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fraudstream.testing.harness import Harness
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]
N = 20_000
RATE = 2_000.0


def test_kill9_scorer_mid_run(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    events = h.events(N, id_offset=id_block, seed=31)
    ids = {e["Id"] for e in events}
    thread, stats = h.produce_in_background(events, rate=RATE)
    time.sleep(4)
    killed = h.sup.kill("scorer")
    t_fault = time.monotonic()

    def back() -> bool:
        rec = h.sup.record("scorer")
        return rec is not None and rec.pid != killed and h.metrics().ready

    wait_until(back, 180, "the watchdog to bring the scorer back, ready", interval=0.5)
    ready_s = time.monotonic() - t_fault
    assert h.dog is not None and h.dog.history[-1][1] == "scorer"
    thread.join(120)
    assert stats and stats[0].delivered == N and stats[0].failed == 0
    ledger, _ = h.wait_scored(ids, timeout=240)
    caught_up_s = time.monotonic() - t_fault
    fault_results.append(
        {
            "fault": "kill -9 scorer mid-run, restart",
            "events_in": N,
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": round(ready_s, 1),
            "notes": f"watchdog restart, ready {ready_s:.1f}s after kill; all scored "
            f"{caught_up_s:.1f}s after kill",
        }
    )
    assert not ledger.lost, ledger.summary()
    assert h.metrics().ready
