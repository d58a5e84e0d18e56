"""Durability: state lives only in the compacted topic; restarts (clean or SIGKILL) keep ids.

Also: concurrent writers get one id per distinct schema (single writer lock + read-back).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def schema(i: int, extra: int = 0) -> str:
    fields = [{"name": f"f{i}", "type": "long"}]
    fields += [{"name": f"x{j}", "type": "string", "default": ""} for j in range(extra)]
    return json.dumps({"type": "record", "name": f"Rec{i}", "fields": fields})


def snapshot(url: str) -> dict[str, object]:
    """Everything a client can observe: subjects, versions, ids, texts, configs."""
    with httpx.Client(base_url=url, timeout=10) as http:
        subjects = http.get("/subjects", params={"deleted": "true"}).json()
        out: dict[str, object] = {"global": http.get("/config").json()}
        for s in subjects:
            versions = http.get(f"/subjects/{s}/versions", params={"deleted": "true"}).json()
            out[s] = [
                http.get(f"/subjects/{s}/versions/{v}", params={"deleted": "true"}).json()
                for v in versions
            ]
            out[f"{s}#live"] = http.get(f"/subjects/{s}/versions").json()
            cfg = http.get(f"/config/{s}")
            out[f"{s}#config"] = cfg.json() if cfg.status_code == 200 else None
        ids = {
            sv["id"] for key, svs in out.items() if "#" not in key and key != "global" for sv in svs
        }  # type: ignore[union-attr]
        out["#ids"] = {i: http.get(f"/schemas/ids/{i}").json() for i in sorted(ids)}
        return out


def populate(url: str, prefix: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        for i in range(6):
            subj = f"{prefix}-{i}-value"
            for extra in range(3):
                r = http.post(f"/subjects/{subj}/versions", json={"schema": schema(i, extra)})
                assert r.status_code == 200, r.text
        http.put(f"/config/{prefix}-1-value", json={"compatibility": "NONE"})
        http.put("/config", json={"compatibility": "FULL"})
        assert http.delete(f"/subjects/{prefix}-2-value/versions/1").status_code == 200
        assert http.delete(f"/subjects/{prefix}-3-value").status_code == 200
        assert http.delete(f"/subjects/{prefix}-3-value?permanent=true").status_code == 200


def test_in_process_restart_rebuilds_state(kafka_bootstrap: str, kafka_admin: AdminClient) -> None:
    topic = f"_schemas-{uuid.uuid4().hex[:10]}"
    first = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    first.start(timeout=60)
    try:
        populate(first.url, "a")
        before = snapshot(first.url)
    finally:
        first.stop()
    second = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    second.start(timeout=60)
    try:
        assert snapshot(second.url) == before
        # the next id continues after the highest one, never reusing an old id
        with httpx.Client(base_url=second.url, timeout=10) as http:
            new_id = http.post("/subjects/new/versions", json={"schema": schema(99)}).json()["id"]
        assert new_id == second.state.max_id and new_id > max(before["#ids"])  # type: ignore[arg-type]
    finally:
        second.stop()
    # the storage topic is compacted, single-partition
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    cfg = kafka_admin.describe_configs([res])[res].result(30)
    assert cfg["cleanup.policy"].value == "compact"
    assert len(kafka_admin.list_topics(topic, timeout=10).topics[topic].partitions) == 1


def _serve(bootstrap: str, port: int, topic: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FRAUDSTREAM_LOG_LEVEL": "INFO"}
    argv = [
        sys.executable, "-m", "fraudstream", "registry", "serve",
        "--port", str(port), "--bootstrap", bootstrap, "--topic", topic,
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"registry exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/subjects", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"registry did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_cli_server_survives_sigkill(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"_schemas-{uuid.uuid4().hex[:10]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "registry.log"
    proc = _serve(kafka_bootstrap, port, topic, log)
    try:
        _wait_http(url, proc, log)
        populate(url, "k")
        before = snapshot(url)
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL
    port2 = free_port()
    proc = _serve(kafka_bootstrap, port2, topic, log)
    try:
        url2 = f"http://127.0.0.1:{port2}"
        _wait_http(url2, proc, log)
        after = snapshot(url2)
        assert after == before
        assert len(after["#ids"]) >= 15  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        finally:
            _kill(proc)


def test_concurrent_registrations_get_consistent_ids(schema_registry_url: str) -> None:
    prefix = uuid.uuid4().hex[:8]

    def register(n: int) -> tuple[int, int]:
        i = n % 5  # 5 distinct schemas, each registered by several threads
        with httpx.Client(base_url=schema_registry_url, timeout=30) as http:
            r = http.post(f"/subjects/{prefix}-{i}/versions", json={"schema": schema(1000 + i)})
            assert r.status_code == 200, r.text
            return i, int(r.json()["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(register, range(40)))
    by_schema: dict[int, set[int]] = {}
    for i, sid in results:
        by_schema.setdefault(i, set()).add(sid)
    assert all(len(ids) == 1 for ids in by_schema.values()), by_schema
    assert len({next(iter(ids)) for ids in by_schema.values()}) == 5
    with httpx.Client(base_url=schema_registry_url, timeout=10) as http:
        for i in range(5):
            assert http.get(f"/subjects/{prefix}-{i}/versions").json() == [1]


def test_garbage_in_the_topic_is_skipped(kafka_bootstrap: str) -> None:
    """Records the registry did not write (bad JSON, unknown keytypes) never stop a replay."""
    from confluent_kafka import Producer

    topic = f"_schemas-{uuid.uuid4().hex[:10]}"
    first = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    first.start(timeout=60)
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            sid = http.post("/subjects/s/versions", json={"schema": schema(1)}).json()["id"]
    finally:
        first.stop()
    # (a compacted topic refuses records without a key, so those cannot occur)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    errors: list[object] = []
    for key, value in [
        (b"garbage", b"{"),
        (b'{"keytype":"SOMETHING_NEW","magic":0}', b"{}"),
        (b'{"keytype":"CONFIG","subject":"s","magic":0}', b'{"compatibilityLevel":"WEIRD"}'),
        (b'{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}', b'{"id": "x"}'),
    ]:
        producer.produce(topic, key=key, value=value, on_delivery=lambda e, m: errors.append(e))
    assert producer.flush(30) == 0
    assert errors == [None] * 4
    second = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    second.start(timeout=60)
    try:
        assert second.state.skipped == 4
        with httpx.Client(base_url=second.url, timeout=10) as http:
            assert http.get("/subjects/s/versions").json() == [1]
            assert http.get(f"/schemas/ids/{sid}").json() == {"schema": schema(1)}
            r = http.post("/subjects/s/versions", json={"schema": schema(1, 1)})
            assert r.status_code == 200 and r.json()["id"] == sid + 1
    finally:
        second.stop()
