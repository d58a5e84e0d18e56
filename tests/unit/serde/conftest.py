"""Fixtures for the serde tests: events, KSQL-style records, an in-process registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fraudstream.producer.synthetic import generate_events
from fraudstream.registry.app import build_app
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.scorer.testing import live_record
from fraudstream.serde.registry_client import RegistryClient


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return list(generate_events(200, seed=9, unlabelled=0.5, start="2026-01-01T00:00:00Z"))


@pytest.fixture
def live_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [live_record(e) for e in events]


class _MemoryLog:
    """The registry's storage log, applied synchronously (the Kafka one is tested elsewhere)."""

    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.offset = -1

    def append(self, key: bytes, value: bytes | None, timeout: float = 30.0) -> int:
        self.state.apply(key, value)
        self.offset += 1
        return self.offset


@pytest.fixture
def embedded_registry() -> Iterator[tuple[RegistryClient, TestClient]]:
    """A RegistryClient talking to the embedded registry's REST app in-process."""
    state = RegistryState()
    registry = Registry(state, _MemoryLog(state))  # type: ignore[arg-type]
    with TestClient(build_app(registry), base_url="http://registry") as http:
        yield RegistryClient("http://registry", http=http), http
