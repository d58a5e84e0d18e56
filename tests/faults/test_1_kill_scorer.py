"""kill -9 the scorer while events stream in, restart it: every event still scored
(at-least-once: duplicates are the batch in flight at the kill, counted in the table)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fraudstream.local.harness import Harness

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
    time.sleep(1)
    rec = h.sup.restart("scorer")  # waits for /readyz
    ready_s = time.monotonic() - t_fault
    assert rec.pid != killed
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
            "notes": f"ready {ready_s:.1f}s after kill; all scored {caught_up_s:.1f}s after kill",
        }
    )
    assert not ledger.lost, ledger.summary()
    assert h.metrics().ready
