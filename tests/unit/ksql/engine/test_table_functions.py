"""EXPLODE / CUBE_EXPLODE resolution and results, and table functions through the engine."""

from __future__ import annotations

import orjson
import pytest

from fraudstream.ksql.engine import table_functions as udtf
from fraudstream.ksql.engine.engine import InRecord, KsqlEngine
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import types as T


def test_cube_skips_duplicates_of_null_columns() -> None:
    assert udtf.cube([1, 2]) == [[None, None], [None, 2], [1, None], [1, 2]]
    assert udtf.cube([1, None]) == [[None, None], [1, None]]
    assert udtf.cube(None) == []
    with pytest.raises(KsqlProcessingError):
        udtf.cube(list(range(21)))


def test_resolve_types_and_errors() -> None:
    arr = T.array_of(T.T_BIGINT)
    assert udtf.resolve("EXPLODE", [arr]).type == T.T_BIGINT
    assert udtf.resolve("CUBE_EXPLODE", [arr]).type == arr
    with pytest.raises(KsqlStatementError, match="'explode' does not accept"):
        udtf.resolve("EXPLODE", [T.map_of(T.T_STRING, T.T_INTEGER)])


def _engine() -> KsqlEngine:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (id STRING KEY, a ARRAY<INT>, b ARRAY<INT>, n INT) WITH "
        "(kafka_topic='s', value_format='JSON', partitions=1);"
    )
    return engine


def test_explode_zips_and_keeps_the_key() -> None:
    engine = _engine()
    engine.execute("CREATE STREAM o AS SELECT id, EXPLODE(a) x, EXPLODE(b) + n AS y FROM s;")
    (q,) = engine.queries.values()
    value = orjson.dumps({"a": [1, 2], "b": [10], "n": 1})
    outs = q.process(InRecord("s", b"k", value, 5))
    assert [orjson.loads(o.value or b"") for o in outs] == [{"X": 1, "Y": 11}, {"X": 2, "Y": None}]
    assert all(o.key == b"k" and o.timestamp == 5 for o in outs)


def test_table_function_refusals() -> None:
    engine = _engine()
    with pytest.raises(KsqlStatementError, match="cannot be used with aggregations"):
        engine.execute("CREATE TABLE t AS SELECT n, EXPLODE(a), COUNT(*) FROM s GROUP BY n;")
    with pytest.raises(KsqlUnsupportedError, match="outside the SELECT list"):
        engine.execute("CREATE STREAM o AS SELECT id FROM s WHERE EXPLODE(a) > 1;")
    engine.execute(
        "CREATE TABLE tb (id STRING PRIMARY KEY, a ARRAY<INT>) WITH "
        "(kafka_topic='tb', value_format='JSON', partitions=1);"
    )
    with pytest.raises(KsqlStatementError, match="Table source is not supported"):
        engine.execute("CREATE TABLE o2 AS SELECT id, EXPLODE(a) FROM tb;")


def test_push_query_and_explain_show_the_flat_map() -> None:
    engine = _engine()
    q = engine.transient_query("SELECT id, EXPLODE(a) AS x FROM s EMIT CHANGES;")
    rows = q.process_rows(InRecord("s", b"k", b'{"a": [1, 2]}', 1))
    assert [r.values for r in rows] == [["k", 1], ["k", 2]]
    (res,) = engine.execute("EXPLAIN SELECT id, EXPLODE(a) AS x FROM s EMIT CHANGES;")
    assert "[ FLAT MAP ] | Table functions: EXPLODE(A)" in res.outcome.execution_plan
