"""schemathesis against the running registry: no 5xx, no hang, every answer as described.

The registry under test has its own `_schemas` topic (fuzzing changes the global
compatibility level and registers junk; the session registry must not see that).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


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


def _operations() -> list[APIOperation]:
    path = resources.files("fraudstream.registry").joinpath("openapi.json")
    api = schemathesis.openapi.from_path(str(path))
    return [result.ok() for result in api.get_all_operations()]


OPERATIONS = _operations()


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS]
)
def test_every_endpoint_answers_as_described(operation: APIOperation, fuzzed_registry: str) -> None:
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_described(case: Case) -> None:
        case.call_and_validate(base_url=fuzzed_registry, checks=CHECKS, timeout=10)

    answers_as_described()


def test_the_description_is_served(fuzzed_registry: str) -> None:
    served = httpx.get(f"{fuzzed_registry}/openapi.json", timeout=5)
    assert served.status_code == 200
    assert served.json()["paths"].keys() == {op.path for op in OPERATIONS}
