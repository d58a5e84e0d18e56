"""Fixtures for the deploy integration tests: the Debian `prometheus` binary on loopback,
and `fraudstream score` replicas as real processes."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fraudstream.testing.prometheus import CONTRACT_METRICS, Process, Prometheus

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "rules"


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
        jobs = {"fraudstream-scorer": targets}
        prom = Prometheus(
            workdir, prometheus_binary, jobs, [RULES / "recording.yml", RULES / "alerts.yml"]
        )
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
    return dict(CONTRACT_METRICS)
