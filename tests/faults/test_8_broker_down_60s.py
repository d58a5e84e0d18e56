"""The broker down for 60 s under load (2,000 events/s), longer than librdkafka's default
session and socket timeouts and the scorer's delivery timeout on purpose: the producer (the
`fraudstream produce` command with its own defaults, as `fraudstream up` runs it) buffers,
every component (registry, KSQL engine, scorer, monitor) reconnects or the watchdog restarts
it, no event is lost (duplicates counted), and afterwards each one works, not only answers:
the registry registers a new schema through `_schemas`, every KSQL query runs, the monitor
reads scores again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Any

import httpx
import pytest

from fraudstream.local.stack import python_cli
from fraudstream.local.topics import topic_count
from fraudstream.local.watchdog import http_probe, ksql_probe
from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
RATE = 2_000.0
DOWN_S = 60.0
N = int(RATE * 75)  # produced from 3 s before the stop to ~10 s after the broker is back


def _monitor_scores(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    m = re.search(r"^fraudstream_monitor_scores_total (\S+)$", text, re.M)
    return float(m.group(1)) if m else -1.0


def test_broker_down_60s_under_load(
    stack: Harness,
    id_block: int,
    fault_results: list[dict[str, Any]],
    broker_outage: Any,
) -> None:
    h = stack
    assert h.dog is not None
    h.sup.start(h.pipe.monitor_service())
    # watched as `up` watches it (a new dict: the watchdog thread iterates the old one)
    h.dog.probes = {**h.dog.probes, "monitor": http_probe(f"{h.ep.monitor_url}/healthz")}
    monitor_start = _monitor_scores(h.ep.monitor_url)
    ids = set(range(id_block, id_block + N))
    argv = python_cli("produce", "--synthetic", str(N), "--first-id", str(id_block),
                      "--seed", "81", "--rate", str(RATE), "--no-users")  # fmt: skip
    before = topic_count(h.ep.bootstrap, h.settings.topic_source)
    out = h.root / f"produce-{id_block}.log"
    with out.open("wb") as log:
        producer = subprocess.Popen(argv, env={**os.environ, **h.pipe.env()}, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    h.wait_count(h.settings.topic_source, before + int(RATE * 3), timeout=120)  # streaming
    broker_outage.stop_for(DOWN_S, start_timeout=180)
    try:
        rc = producer.wait(420)
    finally:
        if producer.poll() is None:
            producer.kill()
    rec = broker_outage.recovery(ids, timeout=420)
    # each component works again, not only answers
    subject = f"after-outage-{id_block}-value"
    schema = {"type": "record", "name": "AfterOutage", "fields": [{"name": "n", "type": "long"}]}
    reg = httpx.post(f"{h.ep.registry_url}/subjects/{subject}/versions",
                     json={"schema": json.dumps(schema)}, timeout=60)  # fmt: skip
    got = httpx.get(f"{h.ep.registry_url}/subjects/{subject}/versions/latest", timeout=10)
    ksql_ok = ksql_probe(h.ep.ksql_url)()
    deadline = time.monotonic() + 120  # the monitor read every score of the block too
    while (monitor_end := _monitor_scores(h.ep.monitor_url)) < monitor_start + N:
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    fault_results.append(
        rec.row(
            f"broker down {DOWN_S:.0f} s under load ({RATE:,.0f} events/s), restart",
            N,
            before=f"`fraudstream produce` exit {rc} (0: every event delivered)",
            after=f"registry register after: {reg.status_code}; KSQL queries healthy: "
            f"{ksql_ok}; monitor read {monitor_end - monitor_start:,.0f} scores during the test",
        )
    )
    assert rc == 0, out.read_text()[-3000:]
    assert not rec.ledger.lost, rec.ledger.summary()
    rec.assert_ready(("registry", "ksql", "scorer", "monitor"))
    assert reg.status_code == 200, reg.text
    assert got.status_code == 200 and got.json()["id"] == reg.json()["id"], got.text
    assert ksql_ok, httpx.get(f"{h.ep.ksql_url}/healthcheck", timeout=10).text
    assert monitor_start >= 0 and monitor_end >= monitor_start + N, (monitor_start, monitor_end)
