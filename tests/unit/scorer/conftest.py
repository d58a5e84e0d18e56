"""Unit-test fixtures for the scorer (helpers live in fraudstream.testing.scorer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fraudstream.producer.synthetic import generate_events
from fraudstream.testing.scorer import live_record, publish_pca_model


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return list(generate_events(200, seed=9, unlabelled=0.5, start="2026-01-01T00:00:00Z"))


@pytest.fixture
def live_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [live_record(e) for e in events]


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("models")
    return d, publish_pca_model(d, seed=2)
