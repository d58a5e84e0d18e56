"""The broker JVM really runs with the configured options: the C1-only default, and the
JVM's own tiered JIT when `FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS` is empty (issue 18 item 2)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fraudstream.kafka.admin import wait_for_broker
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def jvm_flags(pid: int) -> str:
    """The flags the running JVM reports (jcmd), else its command line."""
    jcmd = shutil.which("jcmd")
    if jcmd is not None:
        res = subprocess.run(
            [jcmd, str(pid), "VM.flags"], capture_output=True, text=True, timeout=60, check=False
        )
        if res.returncode == 0:
            return res.stdout
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_broker_runs_c1_only_by_default_and_tiered_when_the_setting_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS", raising=False)
    broker = LocalKafka(tmp_path, port=free_port(), controller_port=free_port(), log_level="WARN")
    try:
        broker.start(timeout=120)
        pid = broker.pid()
        assert pid is not None
        assert "-XX:TieredStopAtLevel=1" in jvm_flags(pid)
        broker.stop()

        monkeypatch.setenv("FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS", "")
        tiered = LocalKafka(tmp_path, port=broker.port, controller_port=broker.controller_port)
        tiered.start(timeout=120)  # same data dir: a restart, not a new format
        pid = tiered.pid()
        assert pid is not None
        assert "TieredStopAtLevel" not in jvm_flags(pid)
        assert wait_for_broker(tiered.bootstrap, timeout=30).list_topics(timeout=10).brokers
    finally:
        broker.stop()  # the pid file is shared: this stops whichever of the two runs
