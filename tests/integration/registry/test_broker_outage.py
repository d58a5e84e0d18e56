"""Broker outage: writes fail with 50002 within the write timeout, reads keep working, the
server survives, and a write reported as failed never appears after the broker returns.

Uses its own broker (the session broker is shared and must not be stopped).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def schema(name: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "a", "type": "int"}]})


def test_writes_fail_cleanly_while_the_broker_is_down(tmp_path: Path) -> None:
    broker = LocalKafka(
        data_dir=tmp_path, port=free_port(), controller_port=free_port(), log_level="WARN"
    )
    bootstrap = broker.start(timeout=120)
    server = RegistryServer(bootstrap, port=free_port(), topic="_schemas", write_timeout=3)
    try:
        server.start(timeout=60)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:  # a broker that just started may need a moment for its first write
                r = http.post("/subjects/a/versions", json={"schema": schema("A")})
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert r.status_code == 200, r.text
            sid = r.json()["id"]
            broker.stop()

            t0 = time.monotonic()
            r = http.post("/subjects/b/versions", json={"schema": schema("B")})
            assert r.status_code == 500 and r.json()["error_code"] == 50002, r.text
            assert time.monotonic() - t0 < 10
            # reads are served from memory meanwhile
            assert http.get(f"/schemas/ids/{sid}").json() == {"schema": schema("A")}
            assert http.get("/subjects").json() == ["a"]

            broker.start(timeout=120)
            deadline = time.monotonic() + 60
            while True:  # the producer reconnects on its own
                r = http.post("/subjects/c/versions", json={"schema": schema("C")})
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert r.status_code == 200, r.text
            assert http.get("/subjects").json() == ["a", "c"]  # the failed "b" never landed
        server.stop()

        again = RegistryServer(bootstrap, port=free_port(), topic="_schemas")
        again.start(timeout=60)
        try:
            assert sorted(again.state.versions) == ["a", "c"]
        finally:
            again.stop()
    finally:
        server.stop()
        broker.stop()
