"""The KSQL server's HTTP policy: ksqlDB's request types, 1 MiB, ksqlDB's error body."""

from __future__ import annotations

import orjson

from fraudstream.httpserver import HttpSecuritySettings
from fraudstream.ksql.server.security import (
    MAX_BODY_BYTES,
    REQUEST_TYPES,
    http_options,
    render_error,
)


def test_refusals_are_ksqldb_error_messages() -> None:
    body, media = render_error(401, "Unauthorized")
    assert media == "application/vnd.ksql.v1+json"
    assert orjson.loads(body) == {
        "@type": "generic_error",
        "error_code": 40100,
        "message": "Unauthorized",
    }


def test_options_carry_the_ksql_policy() -> None:
    settings = HttpSecuritySettings()
    options = http_options(settings)
    assert options["security"] is settings
    assert options["max_body_bytes"] == MAX_BODY_BYTES == 1 << 20
    assert "application/vnd.ksqlapi.delimited.v1" in REQUEST_TYPES
    assert "text/plain" not in REQUEST_TYPES and "application/octet-stream" not in REQUEST_TYPES
