"""Header columns: HEADERS (every header) and HEADER('k') (its last value) read from the
record, kept out of the value serde, refused as INSERT targets as ksqlDB does."""

from __future__ import annotations

import orjson
import pytest

from fraudstream.ksql.engine.engine import InRecord, KsqlEngine
from fraudstream.ksql.errors import KsqlStatementError

SRC = (
    "CREATE STREAM s (k STRING KEY, h ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, "
    "v BIGINT, a BYTES HEADER('abc')) WITH (kafka_topic='s', value_format='JSON', partitions=1);"
)


def test_header_columns_are_read_from_the_record_headers() -> None:
    engine = KsqlEngine()
    engine.execute(SRC + "CREATE STREAM o AS SELECT k, v, LEN(a) AS n, h FROM s;")
    (q,) = engine.queries.values()
    headers = [("abc", b"x"), ("abc", b"yz"), ("d", None)]
    (out,) = q.process(InRecord("s", b"k1", b'{"V": 1}', 5, headers=headers))
    assert orjson.loads(out.value or b"") == {
        "V": 1,
        "N": 2,  # the last 'abc' header
        "H": [
            {"KEY": "abc", "VALUE": "eA=="},
            {"KEY": "abc", "VALUE": "eXo="},
            {"KEY": "d", "VALUE": None},
        ],
    }
    assert list(out.headers) == headers  # headers travel on to the output record
    described = engine.sources["S"].schema_text()
    assert "`H` ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS" in described
    assert "`A` BYTES HEADER('abc')" in described


def test_header_column_types_and_insert_targets_are_checked() -> None:
    engine = KsqlEngine()
    with pytest.raises(KsqlStatementError, match="Invalid type for HEADER\\('x'\\) column"):
        engine.execute(
            "CREATE STREAM b (k STRING KEY, h INT HEADER('x')) WITH (kafka_topic='b', "
            "value_format='JSON', partitions=1);"
        )
    engine.execute(SRC)
    with pytest.raises(KsqlStatementError, match="Cannot insert into HEADER columns: A"):
        engine.execute("INSERT INTO s (k, a) VALUES ('k', NULL);")
    engine.execute(
        "CREATE STREAM t (k STRING KEY, v BIGINT) WITH (kafka_topic='t', value_format='JSON', "
        "partitions=1);"
    )
    with pytest.raises(KsqlStatementError, match="because it has header columns"):
        engine.execute("INSERT INTO s SELECT * FROM t;")
