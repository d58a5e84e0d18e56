"""What the KSQL server tells `fraudstream.httpserver`: its request types, limit, error format.

ksqlDB accepts `application/json`, `application/vnd.ksql.v1+json` and (on `/query-stream`,
`/inserts-stream`) `application/vnd.ksqlapi.delimited.v1`; any other body is refused (415)
before it is read, as are bodies over 1 MiB (413: a 1.2 MB statement once held the engine
lock for 11 s). Refusals are ksqlDB's `KsqlErrorMessage` (`error_code` = HTTP status * 100,
as ksqlDB's 40100 Unauthorized or 40300 Forbidden).
"""

from __future__ import annotations

from typing import Any

import orjson

from fraudstream.httpserver import HttpSecuritySettings

__all__ = [
    "DELIMITED",
    "KSQL_V1",
    "MAX_BODY_BYTES",
    "REQUEST_TYPES",
    "http_options",
    "render_error",
]

KSQL_V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
REQUEST_TYPES = frozenset({"application/json", KSQL_V1, DELIMITED})
MAX_BODY_BYTES = 1 << 20


def render_error(status: int, message: str) -> tuple[bytes, str]:
    body = {"@type": "generic_error", "error_code": status * 100, "message": message}
    return orjson.dumps(body), KSQL_V1


def http_options(security: HttpSecuritySettings) -> dict[str, Any]:
    """Keyword arguments for `HttpServer` serving the KSQL app."""
    return {
        "security": security,
        "content_types": REQUEST_TYPES,
        "max_body_bytes": MAX_BODY_BYTES,
        "render_error": render_error,
    }
