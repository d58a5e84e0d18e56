"""Scorer settings: own prefix, shared fallbacks, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.config import Settings
from fraudstream.errors import ConfigError
from fraudstream.scorer.settings import ScorerSettings, scorer_settings


def test_defaults_fall_back_to_shared_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = Settings(kafka_bootstrap="b:1", model_dir=Path("/m"), metrics_port=8123)
    r = ScorerSettings().resolved(shared)
    assert r.kafka_bootstrap == "b:1" and r.model_dir == Path("/m") and r.metrics_port == 8123
    assert r.topic == shared.topic_live and r.topic_dlq == "fraud_scores_dlq"
    assert ScorerSettings(input_format="json").resolved(shared).topic == shared.topic_source


def test_env_prefix_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_BATCH_SIZE", "777")
    monkeypatch.setenv("FRAUDSTREAM_SCORER_TOPIC", "in")
    monkeypatch.setenv("FRAUDSTREAM_SCORER_EXACTLY_ONCE", "true")
    r = scorer_settings(group="g")
    assert (r.batch_size, r.topic, r.exactly_once, r.group) == (777, "in", True, "g")


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match="FRAUDSTREAM_SCORER_BATCH_SIZE"):
        scorer_settings()
