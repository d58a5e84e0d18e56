"""The scorer against a registry that refuses writes (Confluent's READONLY mode): the deploy
step `fraudstream registry register` pre-registers the output schemas, the scorer (with
FRAUDSTREAM_REGISTRY_READ_ONLY) looks them up and scores; a write is refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer
from fraudstream.testing.scorer import LiveProducer, decode_all, make_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


@pytest.fixture
def own_registry(kafka_bootstrap: str) -> Iterator[str]:
    """A registry of its own: READONLY must not reach the session's shared one."""
    server = RegistryServer(
        kafka_bootstrap, port=free_port(), topic=f"_schemas-ro-{uuid.uuid4().hex[:10]}"
    )
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()


def test_scorer_runs_on_pre_registered_schemas_in_read_only_mode(
    kafka_bootstrap: str,
    own_registry: str,
    topics: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = dict(
        os.environ,
        FRAUDSTREAM_TOPIC_SCORES=topics.scores,
        FRAUDSTREAM_TOPIC_ALERTS=topics.alerts,
        FRAUDSTREAM_REGISTRY_URL=own_registry,
    )
    done = subprocess.run(
        [sys.executable, "-m", "fraudstream", "registry", "register", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    registered = {r["subject"]: r["id"] for r in json.loads(done.stdout)}
    assert set(registered) == {
        f"{topics.scores}-value", f"{topics.alerts}-value", "fraud_scores_shadow-value"
    }  # fmt: skip

    producer = LiveProducer(kafka_bootstrap, own_registry, topics.input)  # input schema
    assert httpx.put(f"{own_registry}/mode", content='{"mode":"READONLY"}', headers=CT).json() == {
        "mode": "READONLY"
    }
    refused = httpx.post(
        f"{own_registry}/subjects/{topics.scores}-value/versions",
        content=json.dumps({"schema": '"string"'}),
        headers=CT,
    )
    assert refused.status_code == 422 and refused.json()["error_code"] == 42205

    # a write the read-only registry refuses: one line that says what to do
    again = subprocess.run(
        [sys.executable, "-m", "fraudstream", "registry", "register"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode != 0
    lines = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, again.stderr
    assert "Traceback" not in again.stderr
    assert "read-only mode" in lines[0] and "FRAUDSTREAM_REGISTRY_READ_ONLY=true" in lines[0]

    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_READ_ONLY", "true")
    n = 500
    events = make_events(n)
    rs = run_scorer(registry_url=own_registry)
    rs.wait_ready(timeout=60)
    producer.send(events)
    msgs = read_topic(kafka_bootstrap, topics.scores, expect=n, timeout=60, read_committed=False)
    assert len(msgs) == n
    ids = {int.from_bytes(m.value()[1:5], "big") for m in msgs}
    assert ids == {registered[f"{topics.scores}-value"]}, "written with the pre-registered id"
    scores = decode_all(own_registry, msgs)
    assert sorted(r["id"] for r in scores) == sorted(e["Id"] for e in events)
    assert httpx.get(f"{own_registry}/mode").json() == {"mode": "READONLY"}
