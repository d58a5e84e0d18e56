"""`fraudstream local kafka start|status|stop` manage a real broker across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fraudstream.kafka.admin import wait_for_broker
from fraudstream.local.procs import free_port


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FRAUDSTREAM_KAFKA_BOOTSTRAP"}
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", "local", "kafka", *args],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_start_status_stop(tmp_path: Path) -> None:
    port = free_port()
    common = ("--data-dir", str(tmp_path), "--port", str(port))
    res = _cli("start", *common)
    try:
        assert res.returncode == 0, res.stderr
        assert f"127.0.0.1:{port}" in res.stderr
        wait_for_broker(f"127.0.0.1:{port}", timeout=10)
        st = _cli("status", *common)
        assert st.returncode == 0 and "running" in st.stdout  # data on stdout
        # A second start on the same data dir is a no-op that still reports the broker.
        again = _cli("start", *common)
        assert again.returncode == 0, again.stderr
    finally:
        stop = _cli("stop", *common)
    assert stop.returncode == 0 and "stopped" in stop.stderr
    st = _cli("status", *common)
    assert st.returncode == 1 and "stopped" in st.stdout + st.stderr
    assert (tmp_path / "kafka" / "server.log").exists()
