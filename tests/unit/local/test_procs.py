"""Process control never signals or adopts a process that merely reuses a stored pid (issue 21
item 7): every pid file and stack.json record is checked by pid + start time + command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.local.errors import StackStateError
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import (
    ProcessRef,
    pid_alive,
    proc_start_time,
    read_pid,
    read_ref,
    spawn,
    stop_process,
    write_pid,
)
from fraudstream.local.stack import ComponentRecord, StackState, Supervisor
from fraudstream.local.stack_cli import down

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process (a `sleep`) whose pid a stale pid file points at."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_legacy_pid_only_file_naming_a_live_stranger_is_not_stopped(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    broker = LocalKafka(data_dir=tmp_path)
    broker.home.mkdir(parents=True)
    broker.pid_file.write_text(f"{stranger.pid}\n")  # what the old code wrote
    assert broker.pid() is None and not broker.running()
    assert broker.stop(timeout=2) is False
    time.sleep(0.2)
    assert stranger.poll() is None, "kafka stop killed an unrelated process"
    assert not broker.pid_file.exists()


def test_a_reused_pid_with_another_start_time_is_not_stopped(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    broker = LocalKafka(data_dir=tmp_path)
    start = proc_start_time(stranger.pid)
    assert start is not None
    # The broker that wrote this file had the same pid but started earlier: a reused pid.
    write_pid(broker.pid_file, ProcessRef(stranger.pid, start - 1, "kafka.Kafka"))
    assert broker.process() is None
    assert broker.stop(timeout=2) is False
    assert stranger.poll() is None


def test_same_pid_and_start_but_another_command_is_not_the_broker(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    broker = LocalKafka(data_dir=tmp_path)
    write_pid(broker.pid_file, ProcessRef.of(stranger.pid, "kafka.Kafka"))
    assert broker.process() is None and broker.stop(timeout=2) is False
    assert stranger.poll() is None
    # ... and with the right fragment it is that process.
    write_pid(broker.pid_file, ProcessRef.of(stranger.pid, "sleep 300"))
    assert read_pid(broker.pid_file) == stranger.pid


def test_spawned_processes_are_recorded_and_stopped_by_reference(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    proc = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "x.log", pid_file
    )
    data = json.loads(pid_file.read_text())
    assert data == {"pid": proc.pid, "start": proc_start_time(proc.pid), "cmd": sys.executable}
    ref = read_ref(pid_file)
    assert ref is not None and ref.alive()
    assert stop_process(ref, timeout=5) is True
    proc.wait(5)
    assert not ref.alive() and read_ref(pid_file) is None
    assert stop_process(ref, timeout=1) is False


def test_a_process_is_alive_by_reference_the_moment_spawn_returns(tmp_path: Path) -> None:
    """Popen returns before the kernel has written the new command line (/proc/<pid>/cmdline
    reads empty for a moment): spawn waits for the exec, so the first check sees the process
    (this failed about 1 spawn in 12 before; the watchdog then restarted a healthy process)."""
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    for i in range(40):
        pid_file = tmp_path / f"{i}.pid"
        proc = spawn(argv, tmp_path / f"{i}.log", pid_file, cmd=" ".join(argv))
        try:
            ref = read_ref(pid_file)
            assert ref is not None and ref.alive(), f"spawn {i}: not alive by reference"
        finally:
            proc.kill()
            proc.wait(5)


def _record(name: str, pid: int, start: int | None, cmd: str = "") -> ComponentRecord:
    return ComponentRecord(
        name=name, pid=pid, proc_start=start, cmd=cmd, pid_file="/nonexistent.pid",
        log_file="/dev/null", started_at=time.time(),
    )  # fmt: skip


def test_supervisor_leaves_a_stranger_with_a_recorded_pid_alone(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    start = proc_start_time(stranger.pid)
    assert start is not None
    sup = Supervisor(tmp_path)
    sup.state = StackState(
        components=[
            _record("legacy", stranger.pid, None),  # no start time: unverifiable
            _record("reused", stranger.pid, start + 7),
            _record("othercmd", stranger.pid, start, cmd="fraudstream score"),
        ]
    )
    sup.save()
    other = Supervisor(tmp_path)
    assert other.active() == []
    assert [s.running for s in other.status(check_ready=False)] == [False, False, False]
    assert [ran for _, ran in other.stop_all()] == [False, False, False]
    assert stranger.poll() is None


def test_adopt_refuses_a_process_that_is_not_the_one_referenced(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    start = proc_start_time(stranger.pid)
    assert start is not None
    sup = Supervisor(tmp_path)
    with pytest.raises(StackStateError, match="not the process"):
        sup.adopt("kafka", ProcessRef(stranger.pid, start + 1, "kafka.Kafka"),
                  tmp_path / "p", tmp_path / "l", None)  # fmt: skip
    sup.adopt("sleeper", ProcessRef.of(stranger.pid, "sleep"), tmp_path / "p", tmp_path / "l", None)
    rec = sup.record("sleeper")
    assert rec is not None and sup.is_running(rec)


def test_down_does_not_signal_a_stranger_recorded_as_the_foreground_up(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "stack.json").write_text(
        StackState(supervisor_pid=stranger.pid, supervisor_start=None).model_dump_json()
    )
    down(data_dir=tmp_path, timeout=2)
    time.sleep(0.2)
    assert stranger.poll() is None
    assert pid_alive(stranger.pid) and stranger.pid != os.getpid()
