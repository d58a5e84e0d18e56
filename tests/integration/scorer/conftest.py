"""Fixtures for scorer integration tests: real broker, embedded registry, a PCA model,
helpers to produce live events and to read the outputs back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudstream.local.procs import free_port
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.testing.scorer import LiveProducer, RunningScorer, publish_pca_model


@dataclass
class Topics:
    input: str
    scores: str
    alerts: str
    dlq: str


@pytest.fixture
def topics(topic_factory: Callable[..., str]) -> Topics:
    return Topics(
        input=topic_factory("live", partitions=4),
        scores=topic_factory("scores", partitions=4),
        alerts=topic_factory("alerts", partitions=1),
        dlq=topic_factory("dlq", partitions=1),
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture
def model_version(model_dir: Path) -> str:
    return publish_pca_model(model_dir, seed=3)


@pytest.fixture
def live_producer(kafka_bootstrap: str, schema_registry_url: str, topics: Topics) -> LiveProducer:
    return LiveProducer(kafka_bootstrap, schema_registry_url, topics.input)


@pytest.fixture
def scorer_settings(
    kafka_bootstrap: str, schema_registry_url: str, topics: Topics, model_dir: Path,
    unique_id: str,
) -> Callable[..., ScorerSettings]:  # fmt: skip
    def make(**kw: Any) -> ScorerSettings:
        base: dict[str, Any] = {
            "kafka_bootstrap": kafka_bootstrap,
            "registry_url": schema_registry_url,
            "model_dir": model_dir,
            "topic": topics.input,
            "topic_scores": topics.scores,
            "topic_alerts": topics.alerts,
            "topic_dlq": topics.dlq,
            "group": f"scorer-{unique_id}",
            "metrics_port": free_port(),
            "reload_interval_s": 0.2,
            "max_wait_ms": 50,
        }
        base.update(kw)
        return ScorerSettings(**base)

    return make


@pytest.fixture
def run_scorer(
    scorer_settings: Callable[..., ScorerSettings],
) -> Iterator[Callable[..., RunningScorer]]:
    started: list[RunningScorer] = []

    def start(**kw: Any) -> RunningScorer:
        rs = RunningScorer(scorer_settings(**kw)).start()
        started.append(rs)
        return rs

    yield start
    for rs in started:
        if rs.thread.is_alive():
            rs.close()


class ScorerProcess:
    """`fraudstream score` as a subprocess (its own session, logs to a file)."""

    def __init__(self, settings: ScorerSettings, log_path: Path, *extra: str) -> None:
        s = settings.resolved()
        env = dict(os.environ)
        env.update(
            FRAUDSTREAM_KAFKA_BOOTSTRAP=s.kafka_bootstrap,
            FRAUDSTREAM_REGISTRY_URL=s.registry_url,
            FRAUDSTREAM_SCORER_TOPIC_SCORES=s.topic_scores,
            FRAUDSTREAM_SCORER_TOPIC_ALERTS=s.topic_alerts,
            FRAUDSTREAM_SCORER_TOPIC_DLQ=s.topic_dlq,
            FRAUDSTREAM_SCORER_RELOAD_INTERVAL_S="0.2",
            FRAUDSTREAM_SCORER_COMMIT_INTERVAL_MS="500",
            FRAUDSTREAM_LOG_LEVEL="INFO",
        )
        if s.transactional_id:
            env["FRAUDSTREAM_SCORER_TRANSACTIONAL_ID"] = s.transactional_id
        self.port = s.metrics_port
        argv = [
            sys.executable, "-m", "fraudstream", "score",
            "--topic", s.topic, "--group", s.group, "--model-dir", str(s.model_dir),
            "--metrics-port", str(s.metrics_port), "--batch-size", str(s.batch_size),
            "--max-wait-ms", str(s.max_wait_ms), *extra,
        ]  # fmt: skip
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def metric(self, name: str) -> float:
        """A sample's value from /metrics (0 when absent or the server is not up)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0.0
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def wait_metric(self, name: str, at_least: float, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            v = self.metric(name)
            if v >= at_least:
                return v
            time.sleep(0.05)
        raise AssertionError(f"{name} < {at_least} after {timeout}s\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def scorer_process(
    scorer_settings: Callable[..., ScorerSettings], tmp_path: Path
) -> Iterator[Callable[..., ScorerProcess]]:
    procs: list[ScorerProcess] = []

    def start(*extra: str, **kw: Any) -> ScorerProcess:
        p = ScorerProcess(scorer_settings(**kw), tmp_path / f"scorer-{len(procs)}.log", *extra)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.close()
