"""schemathesis against the running registry: no 5xx, no hang, every answer as described.

The registry under test has its own `_schemas` topic (fuzzing changes the global
compatibility level and registers junk; the session registry must not see that).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from schemathesis.schemas import APIOperation
from tests.integration.openapi_fuzz import fuzz, operations, parametrize_operations

from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OPERATIONS = operations("fraudstream.registry")


@pytest.fixture(scope="module")
def fuzzed_registry(kafka_bootstrap: str) -> Iterator[str]:
    server = RegistryServer(
        kafka_bootstrap, port=free_port(), topic=f"_schemas-fuzz-{uuid.uuid4().hex[:10]}"
    )
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()


@parametrize_operations(OPERATIONS)
def test_every_endpoint_answers_as_described(operation: APIOperation, fuzzed_registry: str) -> None:
    fuzz(operation, fuzzed_registry, max_examples=12)


def test_the_description_is_served(fuzzed_registry: str) -> None:
    served = httpx.get(f"{fuzzed_registry}/openapi.json", timeout=5)
    assert served.status_code == 200
    assert served.json()["paths"].keys() == {op.path for op in OPERATIONS}
