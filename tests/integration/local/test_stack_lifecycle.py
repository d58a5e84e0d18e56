"""The supervisor over real components: the Kafka broker and the registry as processes,
status/down from other processes, and a failed start that leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.local.pipeline import Pipeline, StackConfig
from fraudstream.local.procs import pid_alive
from fraudstream.local.stack import http_ok

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_broker_and_registry_status_kill_restart_down(tmp_path: Path) -> None:
    pipe = Pipeline(StackConfig(data_dir=tmp_path / "s", free_ports=True, prometheus=False))
    pipe.sup.claim(pipe.ep.as_dict())
    try:
        pipe.start_kafka()
        pipe.create_topics()
        reg = pipe.sup.start(pipe.registry_service())
        assert http_ok(f"{pipe.ep.registry_url}/subjects")
        # status from another process sees both, ready
        res = cli("status", "-o", "json", "--data-dir", str(pipe.sup.data_dir))
        assert res.returncode == 0, res.stderr
        st = {c["name"]: c for c in json.loads(res.stdout)["components"]}
        assert st["kafka"]["running"] and st["registry"]["ready"] is True
        # kill -9 the registry and restart it with its recorded command
        pipe.sup.kill("registry")
        res = cli("status", "-o", "json", "--data-dir", str(pipe.sup.data_dir))
        st = {c["name"]: c for c in json.loads(res.stdout)["components"]}
        assert st["registry"]["running"] is False
        again = pipe.sup.restart("registry")
        assert again.pid != reg.pid and http_ok(f"{pipe.ep.registry_url}/subjects")
        kafka_pid = pipe.sup.record("kafka").pid  # type: ignore[union-attr]
        # down from another process stops everything, in reverse order
        res = cli("down", "--data-dir", str(pipe.sup.data_dir))
        assert res.returncode == 0, res.stderr
        assert res.stderr.index("registry") < res.stderr.index("kafka")
        assert not pid_alive(again.pid) and not pid_alive(kafka_pid)
        res = cli("status", "--data-dir", str(pipe.sup.data_dir))
        assert res.returncode == 1
    finally:
        pipe.down()


def test_failed_up_stops_what_it_started(tmp_path: Path) -> None:
    """`up` with a broken KSQL statement fails at the apply step: clear error, nothing left."""
    empty = tmp_path / "bad-ksql"
    empty.mkdir()
    (empty / "01_broken.sql").write_text("CREATE STREM broken WITH (KAFKA_TOPIC='x');\n")
    data = tmp_path / "s"
    res = cli(
        "up", "--free-ports", "--no-view", "--duration", "1", "--no-prometheus",
        "--data-dir", str(data), "--model-dir", str(tmp_path / "models"),
        env={"FRAUDSTREAM_STACK_KSQL_DIR": str(empty), "FRAUDSTREAM_STACK_START_TIMEOUT": "60"},
    )  # fmt: skip
    assert res.returncode != 0
    assert "error" in res.stderr.lower()
    assert not (data / "stack.json").exists()
    logs = {p.name: p.read_text() for p in (data / "logs").glob("*.log")}
    logs["broker.log"] = (data / "kafka" / "broker.log").read_text()
    assert "stopped by supervisor" in logs["broker.log"]
    assert "stopped by supervisor" in logs["registry.log"]
    assert "stopped by supervisor" in logs["ksql.log"] or "exited" in res.stderr
    assert not processes_mentioning(str(data.resolve())), "processes of the failed stack remain"


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line or environment contains `text` (the stack's data dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                if text.encode() in (proc / part).read_bytes():
                    found.append(int(proc.name))
                    break
            except OSError:
                continue
    return found
