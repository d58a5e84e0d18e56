"""A real Prometheus (the Debian binary) on loopback for tests, and child processes in their
own session: the deploy integration tests and the fraud-loop e2e test share them; and the
scorer's metric contract the deploy tests check against."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from fraudstream.local.procs import free_port

__all__ = ["CONTRACT_METRICS", "Process", "Prometheus"]

# The scorer's metric names and types, exactly as docs/architecture.md ("Scorer metrics") fixes
# them: the deploy tests check the scorer, the rules and the dashboard against this one table.
CONTRACT_METRICS = {
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


class Process:
    """A child process in its own session, output to a log file, stopped on close."""

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
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class Prometheus(Process):
    """Prometheus scraping `jobs` (job name -> targets) every second with `rule_files`."""

    def __init__(
        self, workdir: Path, binary: str, jobs: dict[str, list[str]], rule_files: list[Path]
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in jobs.items()
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

    def alerts(self) -> dict[str, str]:
        """alertname -> state (pending, firing) of the active alerts."""
        body = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()
        return {a["labels"]["alertname"]: a["state"] for a in body["data"]["alerts"]}
