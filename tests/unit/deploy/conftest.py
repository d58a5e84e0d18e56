"""Fixtures for the deploy tests: repository paths and the external validators they run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"

# The scorer's metric names, exactly as docs/architecture.md ("Scorer metrics") fixes them.
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


# Beyond the contract: the monitor's quality gauges and the scorer's drift gauge (issue 16).
QUALITY_METRICS = {
    "fraudstream_monitor_precision": "gauge",
    "fraudstream_monitor_recall": "gauge",
    "fraudstream_monitor_precision_at_k": "gauge",
    "fraudstream_monitor_precision_weighted": "gauge",
    "fraudstream_monitor_roc_auc": "gauge",
    "fraudstream_monitor_average_precision": "gauge",
    "fraudstream_monitor_label_delay_seconds": "gauge",
    "fraudstream_monitor_unlabelled": "gauge",
    "fraudstream_drift_psi": "gauge",
}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def contract_metrics() -> dict[str, str]:
    """Metric name -> type, as the scorer must export them."""
    return dict(CONTRACT_METRICS)


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it: {package})")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool", "Debian package prometheus")


@pytest.fixture(scope="session")
def run() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command with a time bound; output captured as text."""

    def _run(
        args: Sequence[str | Path], cwd: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return _run
