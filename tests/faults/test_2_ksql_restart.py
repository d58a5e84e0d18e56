"""Restart the KSQL engine mid-run: its persistent queries resume from committed offsets
(no `ksql apply` again), so no event is lost from the live stream or the scores."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from fraudstream.local.stack import http_ok
from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]
N = 20_000
RATE = 2_000.0


def test_restart_ksql_engine_mid_run(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    events = h.events(N, id_offset=id_block, seed=41)
    ids = {e["Id"] for e in events}
    thread, stats = h.produce_in_background(events, rate=RATE)
    time.sleep(4)
    old = h.sup.record("ksql")
    assert old is not None
    t_fault = time.monotonic()
    assert h.dog is not None
    h.dog.pause("ksql")  # a deliberate restart, not a crash
    try:
        rec = h.sup.restart("ksql")  # SIGTERM, start the same command, wait for /info
    finally:
        h.dog.resume("ksql")
    ready_s = time.monotonic() - t_fault
    assert rec.pid != old.pid
    assert http_ok(f"{h.ep.ksql_url}/info")
    thread.join(120)
    assert stats and stats[0].delivered == N and stats[0].failed == 0
    ledger, _ = h.wait_scored(ids, timeout=240)
    caught_up_s = time.monotonic() - t_fault
    live = Counter(i for i in h.ids_in(h.settings.topic_live) if i in ids)
    live_dups = sum(n - 1 for n in live.values())
    fault_results.append(
        {
            "fault": "restart KSQL engine mid-run",
            "events_in": N,
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": round(ready_s, 1),
            "notes": f"engine ready {ready_s:.1f}s after stop; all scored {caught_up_s:.1f}s; "
            f"live-stream duplicates {live_dups}",
        }
    )
    assert set(live) == ids, f"{len(ids - set(live))} events missing from the live stream"
    assert not ledger.lost, ledger.summary()
