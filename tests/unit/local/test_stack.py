"""The supervisor with small real processes: readiness, failures with log tails, stop order,
restart, kill -9, jobs with time limits, and the state file other processes read."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from fraudstream.errors import PortInUseError
from fraudstream.local.errors import ComponentStartError, JobFailedError, StackStateError
from fraudstream.local.procs import ProcessRef, free_port, pid_alive, read_pid
from fraudstream.local.stack import Job, Service, Supervisor
from fraudstream.testing.wait import wait_until

pytestmark = pytest.mark.timeout(60)


def http_service(name: str, port: int, delay: float = 0.0) -> Service:
    """A real HTTP server that starts listening after `delay` seconds."""
    code = (
        "import time, http.server, sys\n"
        f"time.sleep({delay})\n"
        "print('serving', flush=True)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), "
        "http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    return Service(
        name=name,
        argv=[sys.executable, "-c", code],
        port=port,
        ready_url=f"http://127.0.0.1:{port}/",
        url=f"http://127.0.0.1:{port}",
        ready_timeout=20,
        stop_timeout=5,
    )


def test_start_ready_status_and_stop(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    sup.claim({"x": "y"})
    rec = sup.start(http_service("web", free_port(), delay=0.5))
    assert pid_alive(rec.pid)
    assert read_pid(Path(rec.pid_file)) == rec.pid
    # Another process (here: a fresh Supervisor) sees the same state.
    other = Supervisor(tmp_path)
    [st] = other.status()
    assert (st.name, st.running, st.ready) == ("web", True, True)
    assert other.state.endpoints == {"x": "y"}
    assert "serving" in Path(rec.log_file).read_text()
    assert other.stop_all() == [("web", True)]
    assert not pid_alive(rec.pid)
    assert not (tmp_path / "stack.json").exists()


def test_stop_all_is_reverse_start_order(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    for name in ("a", "b", "c"):
        sup.start(http_service(name, free_port()))
    assert [n for n, _ in sup.stop_all()] == ["c", "b", "a"]


def test_component_that_exits_reports_log_tail(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    svc = Service(
        name="bad",
        argv=[sys.executable, "-c", "import sys; print('boom: no config'); sys.exit(3)"],
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=10,
    )
    with pytest.raises(ComponentStartError, match=r"exited with code 3[\s\S]*boom: no config"):
        sup.start(svc)


def test_component_never_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    svc = Service(
        name="mute",
        argv=[sys.executable, "-c", "import time; time.sleep(60)"],
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=1.5,
        stop_timeout=2,
    )
    with pytest.raises(ComponentStartError, match="not ready"):
        sup.start(svc)
    rec = sup.record("mute")
    assert rec is not None
    assert not pid_alive(rec.pid)


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    port = free_port()
    sup.start(http_service("first", port))
    try:
        with pytest.raises(PortInUseError, match="already in use"):
            sup.start(http_service("second", port))
    finally:
        sup.stop_all()


def test_kill_and_restart_with_recorded_command(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    port = free_port()
    first = sup.start(http_service("web", port))
    killed = sup.kill("web")
    assert killed == first.pid
    assert not sup.is_running(first)
    assert [s.running for s in sup.status()] == [False]
    wait_until(lambda: _port_free(port), 10, "port release")
    second = sup.restart("web")
    try:
        assert second.pid != first.pid
        assert sup.status()[0].ready is True
        log_text = Path(second.log_file).read_text()
        assert log_text.count("--- [supervisor") >= 2  # both starts are visible in one log
    finally:
        sup.stop_all()


def _port_free(port: int) -> bool:
    from fraudstream.local.procs import port_free

    return port_free("127.0.0.1", port)


def test_reused_pid_is_not_taken_for_the_component(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    sup.adopt("me", ProcessRef.of(os.getpid()), tmp_path / "me.pid", tmp_path / "me.log", None)
    rec = sup.record("me")
    assert rec is not None and sup.is_running(rec)
    rec.proc_start = (rec.proc_start or 0) + 12345  # a different process with the same pid
    assert not sup.is_running(rec)


def test_claim_refuses_a_second_stack(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    sup.claim({})
    sup.start(http_service("web", free_port()))
    try:
        with pytest.raises(StackStateError, match="already runs"):
            Supervisor(tmp_path).claim({})
    finally:
        sup.stop_all()
    Supervisor(tmp_path).claim({})  # fine once stopped


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackStateError, match="unreadable"):
        Supervisor(tmp_path)


def test_jobs_ok_fail_and_timeout(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    took = sup.run_job(Job(name="ok", argv=[sys.executable, "-c", "print('done 42')"]))
    assert took < 30
    assert "done 42" in (tmp_path / "logs" / "ok.log").read_text()
    with pytest.raises(JobFailedError, match=r"exit 2[\s\S]*bad header"):
        sup.run_job(
            Job(name="bad", argv=[sys.executable, "-c", "import sys; print('bad header'); exit(2)"])
        )
    t0 = time.monotonic()
    with pytest.raises(JobFailedError, match="ran past"):
        sup.run_job(
            Job(name="slow", argv=[sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
        )
    assert time.monotonic() - t0 < 10
