"""schemathesis over an embedded server's own OpenAPI description: one recipe for every server.

Each server package ships the description of the endpoints it implements (`openapi.json`);
the fuzz tests generate requests from it and check: no 5xx, no hang, every answer as described.
"""

from __future__ import annotations

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

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def operations(package: str) -> list[APIOperation]:
    """Every operation in `package`'s openapi.json."""
    path = resources.files(package).joinpath("openapi.json")
    api = schemathesis.openapi.from_path(str(path))
    return [result.ok() for result in api.get_all_operations()]


def parametrize_operations(ops: list[APIOperation]) -> pytest.MarkDecorator:
    """One test per operation, named `METHOD /path`."""
    return pytest.mark.parametrize(
        "operation", ops, ids=[f"{op.method.upper()} {op.path}" for op in ops]
    )


def fuzz(operation: APIOperation, base_url: str, max_examples: int) -> None:
    """Call `operation` with `max_examples` generated valid requests; fail on any check."""

    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_described(case: Case) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)

    answers_as_described()
