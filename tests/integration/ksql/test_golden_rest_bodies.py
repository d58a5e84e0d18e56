"""The embedded server's REST bodies (status, LIST, SHOW, DESCRIBE, errors, /info,
/healthcheck) over the project's own `ksql/*.sql`, compared with golden bodies taken before the
issue-13 move (tests/golden/ksql/server.json; normalisation described in its README)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden" / "ksql" / "server.json"
_PROBE_SETS = json.loads((ROOT / "tests" / "golden" / "ksql" / "probes.json").read_text())
PROBES = _PROBE_SETS["engine_and_server"] + _PROBE_SETS["server_only"]


def _normalise(body: Any, uid: str) -> Any:
    """Replace the per-test unique id; keep only this test's topics in LIST TOPICS."""
    out = json.loads(json.dumps(body).replace(uid, "<uid>"))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("@type") == "kafka_topics":
                node["topics"] = [t for t in node["topics"] if "<uid>" in t["name"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out)
    return out


def _post(h: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    resp = h.post("/ksql", json=payload)
    return {"status": resp.status_code, "body": resp.json()}


def _wait_running(server: KsqlServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    runners = server.service.runners
    while time.monotonic() < deadline:
        if runners and all(r.stats.state == "RUNNING" for r in runners.values()):
            return
        time.sleep(0.2)
    raise AssertionError({q: r.stats.state for q, r in runners.items()})


def test_rest_bodies_match_the_golden_bodies(
    make_server: Callable[..., KsqlServer], ksql_vars: dict[str, str], unique_id: str
) -> None:
    server = make_server()
    bodies: dict[str, Any] = {}
    with httpx.Client(base_url=server.url, timeout=60) as h:
        for path in sorted((ROOT / "ksql").glob("*.sql")):
            payload = {"ksql": path.read_text(), "sessionVariables": ksql_vars}
            bodies[path.name] = _post(h, payload)
        _wait_running(server)
        for sql in PROBES:
            bodies[sql] = _post(h, {"ksql": sql})
        bodies["missing ksql field"] = _post(h, {"streamsProperties": {}})
        info = h.get("/info")
        info_body = info.json()
        info_body["KsqlServerInfo"]["kafkaClusterId"] = "<cluster>"
        bodies["GET /info"] = {"status": info.status_code, "body": info_body}
        health = h.get("/healthcheck")
        bodies["GET /healthcheck"] = {"status": health.status_code, "body": health.json()}
        nope = h.get("/nope")
        bodies["GET /nope"] = {"status": nope.status_code, "body": nope.json()}
    bodies = {k: _normalise(v, unique_id) for k, v in bodies.items()}
    if os.environ.get("FRAUDSTREAM_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(bodies, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(bodies) == set(golden)
    for key, body in golden.items():
        assert bodies[key] == body, key
    # the reconciled shapes (tests/golden/ksql/README.md): ksqlDB's PropertiesList and
    # SourceDescription, one builder for the engine's and the server's bodies
    (props,) = golden["LIST PROPERTIES;"]["body"]
    assert {"name": "auto.offset.reset", "scope": "KSQL", "value": "latest"} in props["properties"]
    (desc,) = golden["DESCRIBE USERS;"]["body"]
    assert "clusterStatistics" not in desc["sourceDescription"]
    assert (desc["sourceDescription"]["partitions"], desc["sourceDescription"]["replication"]) == (
        0,
        0,
    )
    (extended,) = golden["DESCRIBE USERS EXTENDED;"]["body"]
    stats = extended["sourceDescription"]["statisticsMap"]
    assert stats["consumer-total-messages"]["name"] == "consumer-total-messages"
    assert extended["sourceDescription"]["statistics"].startswith("The statistics field")
