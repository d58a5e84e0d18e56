"""Fixtures for the serde tests: events, KSQL-style records, an in-process registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fraudstream.producer.synthetic import generate_events
from fraudstream.serde.registry_client import RegistryClient
from fraudstream.testing.registry import memory_registry
from fraudstream.testing.scorer import live_record


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return list(generate_events(200, seed=9, unlabelled=0.5, start="2026-01-01T00:00:00Z"))


@pytest.fixture
def live_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [live_record(e) for e in events]


@pytest.fixture
def embedded_registry() -> Iterator[RegistryClient]:
    """A RegistryClient talking to the embedded registry's REST app in-process."""
    with memory_registry() as client:
        yield client
