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
    stack: Harness,
    id_block: int,
    fault_results: list[dict[str, Any]],
    broker_outage: Any,
) -> None:
    h = stack
    events = h.events(N, id_offset=id_block, seed=51)
    ids = {e["Id"] for e in events}
    thread, stats = h.produce_in_background(events, rate=RATE)
    time.sleep(3)
    broker_outage.stop_for(DOWN_S, start_timeout=120)
    thread.join(240)
    assert stats and stats[0].delivered == N and stats[0].failed == 0, stats
    rec = broker_outage.recovery(ids, timeout=300)
    fault_results.append(rec.row(f"stop broker mid-run ({DOWN_S:.0f}s down), restart", N))
    rec.assert_ready(("registry", "ksql", "scorer"))
    assert not rec.ledger.lost, rec.ledger.summary()
