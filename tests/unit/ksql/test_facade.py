"""`fraudstream.ksql` is the package's facade: every exported name resolves to its wing's object,
and the language and engine wings import without Kafka, HTTP or the server wing."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fraudstream.ksql as ksql
from fraudstream.ksql.client.api import KSQLAPI
from fraudstream.ksql.engine.engine import KsqlEngine
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.ksql.sql.parser import parse


def test_every_exported_name_resolves() -> None:
    for name in ksql.__all__:
        assert getattr(ksql, name).__name__ == name


def test_facade_names_are_the_wing_objects() -> None:
    assert (ksql.KSQLAPI, ksql.KsqlEngine, ksql.KsqlServer, ksql.parse) == (
        KSQLAPI,
        KsqlEngine,
        KsqlServer,
        parse,
    )


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = ksql.Nope


def test_sql_and_engine_load_without_kafka_http_or_the_server() -> None:
    code = (
        "import sys\n"
        "import fraudstream.ksql.engine.engine, fraudstream.ksql.sql.parser\n"
        "bad = ('confluent_kafka', 'httpx', 'starlette', 'fraudstream.ksql.server')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
