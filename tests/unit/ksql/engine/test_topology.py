"""Header columns: HEADERS (every header) and HEADER('k') (its last value) read from the
record, kept out of the value serde, refused as INSERT targets as ksqlDB does; and the
decoded values a record shares between the queries of one source."""

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


def test_queries_of_one_source_share_a_records_decoded_values() -> None:
    """A runtime feeding one record to several queries decodes it once (`InRecord.memo`);
    each query still computes its own output, and a bad record is each one's error."""
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (id BIGINT, amount DOUBLE, u STRING) WITH (kafka_topic='s',"
        " value_format='JSON', partitions=1);"
        "CREATE STREAM big AS SELECT id, amount FROM s WHERE amount > 10;"
        "CREATE STREAM masked AS SELECT id, MASK_LEFT(u, 2) AS u FROM s;"
    )
    big, masked = engine.queries.values()
    rec = InRecord("s", None, b'{"id": 1, "amount": 12.5, "u": "Hans"}', 5, memo={})
    (b_out,) = big.process(rec)
    assert rec.memo is not None and len(rec.memo) == 1  # decoded by the first query
    decoded = next(iter(rec.memo.values()))
    (m_out,) = masked.process(rec)
    assert next(iter(rec.memo.values())) is decoded  # not decoded again
    assert orjson.loads(b_out.value or b"") == {"ID": 1, "AMOUNT": 12.5}
    assert orjson.loads(m_out.value or b"") == {"ID": 1, "U": "Xxns"}
    assert decoded == [1, 12.5, "Hans"]  # the projection did not alter the shared values

    bad = InRecord("s", None, b"not json", 6, memo={})
    assert big.process(bad) == [] and masked.process(bad) == []
    assert bad.memo == {}
    assert big.processing_errors == 1 and masked.processing_errors == 1


def test_nested_values_are_never_shared_between_queries() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (id BIGINT, tags ARRAY<STRING>) WITH (kafka_topic='s',"
        " value_format='JSON', partitions=1);"
        "CREATE STREAM a AS SELECT id, tags FROM s;"
    )
    (q,) = engine.queries.values()
    rec = InRecord("s", None, b'{"id": 1, "tags": ["x"]}', 5, memo={})
    (out,) = q.process(rec)
    assert rec.memo == {}
    assert orjson.loads(out.value or b"") == {"ID": 1, "TAGS": ["x"]}
