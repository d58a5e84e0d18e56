"""The README's set-up commands (issue 19): scripts/bootstrap installs into the project venv,
never the system Python, and never signals a process it did not start (it used to run
`pkill -x prometheus` and `systemctl stop prometheus`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_bootstrap_leaves_a_foreign_prometheus_running(tmp_path: Path) -> None:
    # A process whose name (comm) is exactly `prometheus`, as `pkill -x prometheus` matches it.
    fake = tmp_path / "prometheus"
    fake.symlink_to(Path("/bin/sleep"))
    proc = subprocess.Popen([str(fake), "600"])
    try:
        comm = Path(f"/proc/{proc.pid}/comm")
        deadline = time.monotonic() + 10
        while comm.read_text().strip() != "prometheus" and time.monotonic() < deadline:
            time.sleep(0.05)  # until exec() has happened
        assert comm.read_text().strip() == "prometheus"
        res = subprocess.run(
            ["bash", "scripts/bootstrap", "up"],
            cwd=ROOT, capture_output=True, text=True, timeout=1700, check=False,
            env={**os.environ, "VENV": str(VENV)},
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        time.sleep(0.5)
        assert proc.poll() is None, "bootstrap killed a prometheus it did not start"
    finally:
        proc.kill()
        proc.wait()


def test_the_venv_runs_fraudstream_from_this_checkout() -> None:
    python = VENV / "bin" / "python"
    assert python.exists(), "run scripts/bootstrap first"
    res = subprocess.run(
        [str(python), "-c", "import fraudstream, sys; print(fraudstream.__file__, sys.prefix)"],
        capture_output=True, text=True, timeout=120, check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    module, prefix = res.stdout.split()
    assert Path(module).resolve() == ROOT / "services" / "fraudstream" / "__init__.py"
    assert Path(prefix).resolve() == VENV.resolve()
    version = subprocess.run(
        [str(VENV / "bin" / "fraudstream"), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0 and version.stdout.startswith("fraudstream ")


def test_the_test_command_uses_the_venv_python() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VENV")}
    res = subprocess.run(["bash", "scripts/test", "--which"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert res.stdout.strip() == ".venv/bin/python"
    if os.environ.get("FRAUDSTREAM_TEST_PYTHON") == ".venv/bin/python":
        # This very run is `make test`: its interpreter is the venv's, not the system's.
        assert Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
