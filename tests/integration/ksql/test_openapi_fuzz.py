"""schemathesis against the running KSQL server: no 5xx, no hang, every answer as described.

The description (ksql/server/openapi.json) covers the endpoints the server implements;
generated statements are nonsense to the parser, so this exercises request handling and
error paths: each must answer with ksqlDB's error body, never a 5xx.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from schemathesis.schemas import APIOperation
from tests.integration.openapi_fuzz import fuzz, operations, parametrize_operations

from fraudstream.ksql.server.app import KsqlServer
from fraudstream.local.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OPERATIONS = operations("fraudstream.ksql.server")


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


@parametrize_operations(OPERATIONS)
def test_every_endpoint_answers_as_described(operation: APIOperation, fuzzed_ksql: str) -> None:
    fuzz(operation, fuzzed_ksql, max_examples=25)
