"""`fraudstream down` asks a foreground `up` (SIGTERM) and it stops its components itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fraudstream.local.procs import free_port, pid_alive
from fraudstream.local.stack import Supervisor

pytestmark = pytest.mark.timeout(60)

FOREGROUND = """
import signal, sys, time
from pathlib import Path
from fraudstream.local.stack import Service, Supervisor
sup = Supervisor(Path(sys.argv[1]))
sup.claim({}, foreground=True)
port = int(sys.argv[2])
code = ("import http.server; http.server.HTTPServer(('127.0.0.1', %d), "
        "http.server.SimpleHTTPRequestHandler).serve_forever()" % port)
sup.start(Service(name="web", argv=[sys.executable, "-c", code], port=port,
                  ready_url=f"http://127.0.0.1:{port}/", stop_timeout=5))
def bye(*_):
    sup.stop_all()
    print("foreground stopped its stack", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("up", flush=True)
while True:
    time.sleep(0.2)
"""


def test_down_stops_a_foreground_up(tmp_path: Path) -> None:
    fg = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, str(tmp_path), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fg.stdout is not None and fg.stdout.readline().strip() == "up"
        web = Supervisor(tmp_path).record("web")
        assert web is not None and pid_alive(web.pid)
        res = subprocess.run(
            [sys.executable, "-m", "fraudstream", "down", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert f"pid {fg.pid}" in res.stderr
        assert fg.wait(10) == 0
        assert "foreground stopped its stack" in fg.stdout.read()
        deadline = time.monotonic() + 5
        while pid_alive(web.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(web.pid)
        assert not (tmp_path / "stack.json").exists()
    finally:
        if fg.poll() is None:
            os.kill(fg.pid, 9)


def test_down_with_nothing_running(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "down", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 0
    assert "nothing runs" in res.stderr
