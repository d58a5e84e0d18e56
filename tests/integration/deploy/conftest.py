"""Fixtures for the deploy integration tests: the Debian `prometheus` binary on loopback,
and `fraudstream score` replicas as real processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fraudstream.local.procs import free_port

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "rules"


class Process:
    """A child process in its own session, output to a log file, killed on close."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None):
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 20) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class Prometheus(Process):
    """Prometheus scraping `targets` every second with the project's rules, on 127.0.0.1."""

    def __init__(self, workdir: Path, targets: list[str], binary: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(RULES / "recording.yml"), str(RULES / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "fraudstream-scorer", "static_configs": [{"targets": targets}]}
            ],
        }
        cfg = workdir / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config))
        super().__init__(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            workdir / "prometheus.log",
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"prometheus exited:\n{self.log()}"
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; fails the test with Prometheus' own error on a bad query."""
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert body["status"] == "success", f"{expr!r}: {body.get('error')}"
        return list(body["data"]["result"])

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return sum(float(r["value"][1]) for r in result) if result else None

    def wait_value(self, expr: str, expected: float, timeout: float = 60) -> float | None:
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.value(expr)
            if got == expected:
                return got
            time.sleep(0.5)
        return got


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip("prometheus is not installed (CI installs Debian package prometheus)")
    return path


@pytest.fixture
def start_prometheus(
    prometheus_binary: str, tmp_path: Path
) -> Iterator[Callable[[list[str]], Prometheus]]:
    started: list[Prometheus] = []

    def start(targets: list[str]) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        prom = Prometheus(workdir, targets, prometheus_binary)
        started.append(prom)
        prom.wait_ready()
        return prom

    yield start
    for prom in started:
        prom.close()


@pytest.fixture
def start_scorer(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """`fraudstream score` as a process configured only through FRAUDSTREAM_* variables,
    as in compose and Kubernetes."""
    started: list[Process] = []

    def start(env: dict[str, str]) -> Process:
        full = {**os.environ, **env}
        log = tmp_path / f"scorer-{len(started)}.log"
        proc = Process([sys.executable, "-m", "fraudstream", "score"], log, full)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


@pytest.fixture(scope="session")
def contract_metrics() -> dict[str, str]:
    """The scorer's metrics by the shared contract: name -> Prometheus type."""
    return {
        "fraudstream_events_consumed_total": "counter",
        "fraudstream_events_scored_total": "counter",
        "fraudstream_events_anomalous_total": "counter",
        "fraudstream_events_dead_lettered_total": "counter",
        "fraudstream_batch_size": "histogram",
        "fraudstream_scoring_duration_seconds": "histogram",
        "fraudstream_event_latency_seconds": "histogram",
        "fraudstream_score": "histogram",
        "fraudstream_consumer_lag": "gauge",
        "fraudstream_model_info": "gauge",
        "fraudstream_model_reloads_total": "counter",
        "fraudstream_model_threshold": "gauge",
        "fraudstream_last_poll_timestamp_seconds": "gauge",
        "fraudstream_ready": "gauge",
    }
