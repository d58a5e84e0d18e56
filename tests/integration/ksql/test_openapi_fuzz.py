"""schemathesis against the running KSQL server: no 5xx, no hang, every answer as described.

The description (ksql/server/openapi.json) covers the endpoints the server implements;
generated statements are nonsense to the parser, so this exercises request handling and
error paths: each must answer with ksqlDB's error body, never a 5xx.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib import resources

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

from fraudstream.ksql.server.app import KsqlServer
from fraudstream.local.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _operations() -> list[APIOperation]:
    path = resources.files("fraudstream.ksql.server").joinpath("openapi.json")
    api = schemathesis.openapi.from_path(str(path))
    return [result.ok() for result in api.get_all_operations()]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzzed_ksql(kafka_bootstrap: str, schema_registry_url: str) -> Iterator[str]:
    server = KsqlServer(
        kafka_bootstrap,
        schema_registry_url,
        port=free_port(),
        service_id=f"fuzz{uuid.uuid4().hex[:8]}_",
    )
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS]
)
def test_every_endpoint_answers_as_described(operation: APIOperation, fuzzed_ksql: str) -> None:
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_described(case: Case) -> None:
        case.call_and_validate(base_url=fuzzed_ksql, checks=CHECKS, timeout=10)

    answers_as_described()
