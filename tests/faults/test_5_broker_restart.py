"""Stop the Kafka broker mid-run for a few seconds and start it again on the same data:
the producer buffers, registry, KSQL engine and scorer reconnect (or the watchdog restarts
what could not: the table says which), no event is lost, no manual step."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(480)]
N = 20_000
RATE = 2_000.0
DOWN_S = 5.0


def test_stop_and_restart_broker_mid_run(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    events = h.events(N, id_offset=id_block, seed=51)
    ids = {e["Id"] for e in events}
    assert h.dog is not None
    restarts_before = len(h.dog.history)
    thread, stats = h.produce_in_background(events, rate=RATE)
    time.sleep(3)
    broker = h.pipe.broker()
    t_fault = time.monotonic()
    assert broker.stop(timeout=60)
    stopped_s = time.monotonic() - t_fault
    time.sleep(DOWN_S)
    broker.start(timeout=120)
    up_s = time.monotonic() - t_fault
    ref = broker.process()
    assert ref is not None
    h.sup.adopt("kafka", ref, broker.pid_file, broker.log_file, broker.bootstrap)
    thread.join(240)
    assert stats and stats[0].delivered == N and stats[0].failed == 0, stats
    ledger, _ = h.wait_scored(ids, timeout=300)
    caught_up_s = time.monotonic() - t_fault
    status = {s.name: s for s in h.sup.status()}
    restarted = [f"{name} ({why})" for _t, name, why in h.dog.history[restarts_before:]]
    fault_results.append(
        {
            "fault": f"stop broker mid-run ({DOWN_S:.0f}s down), restart",
            "events_in": N,
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": round(caught_up_s - up_s, 1),
            "notes": f"broker stop took {stopped_s:.1f}s, back {up_s:.1f}s after the stop; "
            f"all scored {caught_up_s:.1f}s after the stop; watchdog restarts: "
            f"{', '.join(restarted) or 'none'}",
        }
    )
    for name in ("registry", "ksql", "scorer"):
        assert status[name].running, name
        assert status[name].ready, f"{name} not ready after the broker came back"
    assert not ledger.lost, ledger.summary()
