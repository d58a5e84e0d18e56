"""The watchdog over small real processes: a killed one comes back, an unhealthy one is
restarted after N failed probes, restarts are bounded, a paused one is left alone."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from fraudstream.local.procs import free_port
from fraudstream.local.stack import Service, Supervisor
from fraudstream.local.watchdog import Watchdog, http_probe, ksql_probe
from fraudstream.testing.wait import wait_until

pytestmark = pytest.mark.timeout(60)


def sleeper(name: str) -> Service:
    return Service(
        name=name, argv=[sys.executable, "-c", "import time; time.sleep(120)"], stop_timeout=3
    )


def test_killed_process_is_restarted(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    first = sup.start(sleeper("svc"))
    events: list[str] = []
    dog = Watchdog(sup, {"svc": None}, on_event=events.append)
    try:
        assert dog.check_once() == []
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10  # SIGKILL is asynchronous; slow on a loaded machine
        while sup.is_running(first) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dog.check_once() == ["svc"]
        second = sup.record("svc")
        assert second is not None and second.pid != first.pid and sup.is_running(second)
        assert any("process exited" in e for e in events)
        assert dog.history[0][1:] == ("svc", "process exited")
    finally:
        sup.stop_all()


def test_unhealthy_restarted_after_n_failures_and_bounded(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    sup.start(sleeper("svc"))
    healthy = {"ok": False}
    events: list[str] = []
    dog = Watchdog(
        sup, {"svc": lambda: healthy["ok"]}, failures=3, max_restarts=2, on_event=events.append
    )
    try:
        assert dog.check_once() == [] and dog.check_once() == []
        assert dog.check_once() == ["svc"]  # third failure in a row
        assert dog.check_once() == [] and dog.check_once() == []
        assert dog.check_once() == ["svc"]
        for _ in range(3):
            dog.check_once()
        assert "giving up" in events[-1]
        assert len(dog.history) == 2
        healthy["ok"] = True
    finally:
        sup.stop_all()


def test_healthy_resets_count_and_paused_is_left_alone(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    rec = sup.start(sleeper("svc"))
    answers = iter([False, False, True, False, False])
    dog = Watchdog(sup, {"svc": lambda: next(answers)}, failures=3, on_event=lambda _m: None)
    try:
        assert [dog.check_once() for _ in range(5)] == [[]] * 5  # never 3 in a row
        dog.pause("svc")
        sup.stop("svc")
        assert dog.check_once() == []
        assert not sup.is_running(rec)
    finally:
        sup.stop_all()


def test_background_thread_restarts(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    first = sup.start(sleeper("svc"))
    dog = Watchdog(sup, {"svc": None}, interval=0.2, on_event=lambda _m: None)
    dog.start()
    try:
        os.kill(first.pid, signal.SIGKILL)
        wait_until(
            lambda: sup.record("svc"),
            10,
            "a restart under a new pid",
            done=lambda rec: rec is not None and rec.pid != first.pid and sup.is_running(rec),
            interval=0.1,
        )
    finally:
        dog.stop()
        sup.stop_all()


def test_ksql_probe_reads_command_runner_health() -> None:
    """A failed persistent query shows only in /healthcheck's body (status stays 200)."""
    state = {"runner": True}

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {"isHealthy": True, "details": {"commandRunner": {"isHealthy": state["runner"]}}}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        assert ksql_probe(url)() is True
        assert http_probe(f"{url}/healthcheck")() is True
        state["runner"] = False
        assert ksql_probe(url)() is False
    finally:
        srv.shutdown()
    assert ksql_probe(f"http://127.0.0.1:{free_port()}")() is False
    assert http_probe(f"http://127.0.0.1:{free_port()}/")() is False
