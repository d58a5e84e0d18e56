"""Fixtures for scorer integration tests: real broker, embedded registry, a PCA model,
helpers to produce live events and to read the outputs back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fraudstream.local.procs import free_port
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.scorer.testing import LiveProducer, RunningScorer, publish_pca_model


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
