"""The embedded Schema Registry in-process, for unit tests: its REST app over a log that
applies records synchronously (the Kafka-backed log is tested with a real broker)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from fraudstream.registry.app import build_app
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.serde.registry_client import RegistryClient

__all__ = ["MemoryLog", "memory_registry"]


class MemoryLog:
    """The registry's storage log in memory: appends apply to the state at once."""

    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.offset = -1

    def append(self, key: bytes, value: bytes | None, timeout: float = 30.0) -> int:
        self.state.apply(key, value)
        self.offset += 1
        return self.offset


@contextmanager
def memory_registry(url: str = "http://registry") -> Iterator[RegistryClient]:
    """A `RegistryClient` whose requests are served by the embedded registry's app."""
    state = RegistryState()
    registry = Registry(state, MemoryLog(state))  # type: ignore[arg-type]
    with TestClient(build_app(registry), base_url=url) as http:
        yield RegistryClient(url, http=http)  # type: ignore[arg-type]  # an httpx.Client
