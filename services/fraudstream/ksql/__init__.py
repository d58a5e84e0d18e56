"""KSQL for fraudstream: the SQL language (`sql`), a pure engine (`engine`), the embedded ksqlDB
REST server with its Kafka runtime (`server`) and a client for any ksqlDB (`client`).

Outside code imports the names below from `fraudstream.ksql`; they load lazily, so importing
the language or the engine does not pull in Kafka or HTTP (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fraudstream.ksql.errors import (
    KsqlParseError,
    KsqlProcessingError,
    KsqlStatementError,
    KsqlUnsupportedError,
)

if TYPE_CHECKING:
    from fraudstream.ksql.client.api import KSQLAPI, KSQLError
    from fraudstream.ksql.client.client import KsqlClient, KsqlConnectionError, KsqlServerError
    from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, KsqlEngine
    from fraudstream.ksql.server.app import KsqlServer
    from fraudstream.ksql.server.service import KsqlService
    from fraudstream.ksql.sql.parser import parse

__all__ = [
    "KSQLAPI",
    "InMemorySchemaRegistry",
    "KSQLError",
    "KsqlClient",
    "KsqlConnectionError",
    "KsqlEngine",
    "KsqlParseError",
    "KsqlProcessingError",
    "KsqlServer",
    "KsqlServerError",
    "KsqlService",
    "KsqlStatementError",
    "KsqlUnsupportedError",
    "parse",
]

_LAZY = {
    "KSQLAPI": "fraudstream.ksql.client.api",
    "KSQLError": "fraudstream.ksql.client.api",
    "KsqlClient": "fraudstream.ksql.client.client",
    "KsqlConnectionError": "fraudstream.ksql.client.client",
    "KsqlServerError": "fraudstream.ksql.client.client",
    "InMemorySchemaRegistry": "fraudstream.ksql.engine.engine",
    "KsqlEngine": "fraudstream.ksql.engine.engine",
    "KsqlServer": "fraudstream.ksql.server.app",
    "KsqlService": "fraudstream.ksql.server.service",
    "parse": "fraudstream.ksql.sql.parser",
}


def __getattr__(name: str) -> Any:
    """Import a facade name's module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fraudstream.ksql' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
