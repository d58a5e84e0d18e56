"""Statement checks ksqlDB makes that the engine now makes too, and results that used to
differ from ksqlDB (each found by the conformance runner over ../shared/.../extra)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine
from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError

SRC = (
    "CREATE STREAM s (k STRING KEY, v INT, w BIGINT, t VARCHAR) WITH (kafka_topic='s', "
    "value_format='JSON', partitions=1);"
)


def run(sql: str, *values: dict[str, Any], key: bytes = b"a", ts: int = 0) -> list[Any]:
    engine = KsqlEngine()
    engine.execute(SRC + sql)
    (q,) = engine.queries.values()
    out = []
    for v in values:
        for rec in q.process(InRecord("s", key, orjson.dumps(v), ts)):
            out.append(None if rec.value is None else orjson.loads(rec.value))
    return out


def fails(sql: str, match: str, kind: type[Exception] = KsqlStatementError) -> None:
    engine = KsqlEngine()
    engine.execute(SRC)
    with pytest.raises(kind, match=match):
        engine.execute(sql)


def test_reserved_names_in_persistent_selects() -> None:
    fails(
        "CREATE STREAM o AS SELECT k, ROWTIME FROM s;",
        "Reserved column name in select: `ROWTIME`",
    )
    fails(
        "CREATE STREAM o AS SELECT k, v AS rowoffset FROM s;",
        "`ROWOFFSET` is a reserved column name. You cannot use it as an alias",
    )
    # SELECT * ... PARTITION BY ROWTIME names the new key ROWTIME: allowed
    KsqlEngine().execute(SRC + "CREATE STREAM o AS SELECT * FROM s PARTITION BY ROWTIME;")


def test_group_by_needs_aggregates_and_csas_takes_no_limit() -> None:
    fails(
        "CREATE TABLE o AS SELECT k FROM s GROUP BY k;",
        "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.",
    )
    fails("CREATE STREAM o AS SELECT * FROM s LIMIT 2;", "don't support LIMIT clause")


def test_where_and_having_type_errors_name_the_clause() -> None:
    fails("CREATE STREAM o AS SELECT * FROM s WHERE v > 'x';", "^Error in WHERE expression: ")
    fails(
        "CREATE TABLE o AS SELECT k, SUM(v) AS n FROM s GROUP BY k HAVING SUM(v) > 'x';",
        "^Error in HAVING expression: Cannot compare SUM",
    )


def test_read_only_sources() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE SOURCE TABLE r (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='r', "
        "value_format='JSON', partitions=1);"
    )
    with pytest.raises(KsqlStatementError, match="Cannot insert values into read-only table: R"):
        engine.execute("INSERT INTO r VALUES ('a', 1);")
    with pytest.raises(KsqlStatementError, match="Cannot delete topic for read-only source: R"):
        engine.execute("DROP TABLE r DELETE TOPIC;")
    with pytest.raises(KsqlStatementError, match="CREATE OR REPLACE is not supported on source"):
        engine.execute(
            "CREATE OR REPLACE TABLE r (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='r', "
            "value_format='JSON', partitions=1);"
        )


def test_windowed_sources_and_key_misuse() -> None:
    fails(
        "CREATE TABLE w (k STRING PRIMARY KEY, x INT) WITH (kafka_topic='w', value_format="
        "'JSON', window_type='Session'); CREATE TABLE o AS SELECT * FROM w;",
        "KSQL does not support persistent queries on windowed tables.",
    )
    fails(
        "CREATE STREAM n (x INT) WITH (kafka_topic='n', value_format='JSON', "
        "window_type='tumbling', window_size='1 second');",
        "Windowed sources require a key column.",
    )
    fails(
        "CREATE TABLE p (id INT KEY, x INT) WITH (kafka_topic='p', value_format='JSON');",
        "Line: 1, Col: 17: Column `ID` is a 'KEY' column",
        KsqlParseError,
    )


def test_greatest_resolves_like_ksqldb() -> None:
    fails(
        "CREATE STREAM o AS SELECT k, GREATEST(v, w) AS g FROM s;",
        r"Function 'greatest' cannot be resolved due to ambiguous method parameters "
        r"\(INTEGER, BIGINT\)",
    )
    assert run("CREATE STREAM o AS SELECT k, GREATEST(v, 2.5E0, w) AS g FROM s;", {"v": 1, "w": 7})[
        0
    ] == {"G": 7.0}


def test_constructors_coerce_string_literals() -> None:
    out = run("CREATE STREAM o AS SELECT k, ARRAY[NULL, v, '2e1'] AS l FROM s;", {"v": 1})
    assert out == [{"L": [None, 1, 20]}]
    fails("CREATE STREAM o AS SELECT k, ARRAY[v, 'x'] AS l FROM s;", 'for type INTEGER: "x"')
    fails("CREATE STREAM o AS SELECT k, MAP() AS m FROM s;", "Map constructor cannot be empty")
    fails(
        "CREATE STREAM o AS SELECT k, STRUCT(a := v, a := v) AS m FROM s;",
        "Duplicate field names found in STRUCT",
    )


def test_struct_star_and_field_name_clashes() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM i (k STRING KEY, b INT, a STRUCT<b INT, c STRING>, x STRUCT<b INT>) "
        "WITH (kafka_topic='i', value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT k, b, a->b, x->b FROM i;"
        "CREATE STREAM p AS SELECT k, a->* FROM i;"
    )
    assert [c.name for c in engine.sources["O"].value_columns] == ["B", "B_1", "B_2"]
    assert [c.name for c in engine.sources["P"].value_columns] == ["B", "C"]


def test_by_offset_n_and_collect_limit() -> None:
    out = run(
        "CREATE TABLE o AS SELECT k, LATEST_BY_OFFSET(v, 2) AS l, "
        "EARLIEST_BY_OFFSET(v, 2, false) AS e FROM s GROUP BY k;",
        {"v": 1},
        {"v": None},
        {"v": 3},
    )
    assert out[-1] == {"L": [1, 3], "E": [1, None]}
    fails(
        "CREATE TABLE o AS SELECT k, EARLIEST_BY_OFFSET(v, v) AS e FROM s GROUP BY k;",
        "Parameter 2 passed to function EARLIEST_BY_OFFSET must be a literal constant",
    )
    engine = KsqlEngine(properties={"ksql.functions.collect_list.limit": 1})
    engine.execute(SRC + "CREATE TABLE o AS SELECT k, COLLECT_LIST(v) AS c FROM s GROUP BY k;")
    (q,) = engine.queries.values()
    q.process(InRecord("s", b"a", b'{"v": 1}', 0))
    (rec,) = q.process(InRecord("s", b"a", b'{"v": 2}', 0))
    assert orjson.loads(rec.value or b"") == {"C": [1]}


def test_rowtime_compares_with_timestamp_text_and_dates_with_strings() -> None:
    out = run(
        "CREATE STREAM o AS SELECT k, v FROM s WHERE ROWTIME >= '1970-01-01T00:00:01';",
        {"v": 1},
        ts=999,
    )
    assert out == []
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM d (k STRING KEY, a DATE) WITH (kafka_topic='d', value_format='JSON', "
        "partitions=1);"
        "CREATE STREAM o AS SELECT k, CAST(a AS STRING) AS txt FROM d WHERE a > '1970-01-02';"
    )
    (q,) = engine.queries.values()
    assert q.process(InRecord("d", b"a", b'{"a": 1}', 0)) == []
    (rec,) = q.process(InRecord("d", b"a", b'{"a": 10}', 0))
    assert orjson.loads(rec.value or b"") == {"TXT": "1970-01-11"}


def test_negative_extracted_timestamps_are_skipped() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM e (k STRING KEY, ts BIGINT) WITH (kafka_topic='e', value_format='JSON', "
        "timestamp='ts'); CREATE STREAM o AS SELECT * FROM e;"
    )
    (q,) = engine.queries.values()
    assert q.process(InRecord("e", b"a", b'{"ts": -1}', 0)) == []
    assert q.process(InRecord("e", b"a", b'{"ts": 5}', 0))[0].timestamp == 5


def test_sink_value_schema_id_must_match_the_query() -> None:
    registry = InMemorySchemaRegistry()
    sid = registry.register(
        "other-value",
        '{"type": "record", "name": "x", "fields": [{"name": "c2", "type": "double"}]}',
    )
    engine = KsqlEngine(schema_registry=registry)
    engine.execute(
        "CREATE STREAM a (id INT KEY, c1 INT) WITH (kafka_topic='a', value_format='AVRO', "
        "partitions=1);"
    )
    with pytest.raises(KsqlStatementError, match="changed, missing or reordered: \\[`C1` INTEGER"):
        engine.execute(f"CREATE STREAM o WITH (value_schema_id={sid}) AS SELECT * FROM a;")


def test_stddev_sample_and_ksqldb_stddev_samp_variance() -> None:
    out = run(
        "CREATE TABLE o AS SELECT k, STDDEV_SAMPLE(v) AS sd, STDDEV_SAMP(v) AS var "
        "FROM s GROUP BY k;",
        {"v": 0},
        {"v": 10},
    )
    assert out[0] == {"SD": 0.0, "VAR": 0.0}
    assert out[1]["SD"] == pytest.approx(7.0710678118654755)
    assert out[1]["VAR"] == pytest.approx(50.0)  # ksqlDB's STDDEV_SAMP returns the variance


def test_wrap_single_value_needs_a_single_value_column() -> None:
    msg = "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
    fails(
        "CREATE STREAM w (k STRING KEY, a INT, b INT) WITH (kafka_topic='w', "
        "value_format='JSON', wrap_single_value=false);",
        msg,
    )
    fails("CREATE STREAM o WITH (wrap_single_value=false) AS SELECT k, v, w FROM s;", msg)
    KsqlEngine().execute(
        SRC + "CREATE STREAM o WITH (wrap_single_value=false) AS SELECT k, v FROM s;"
    )


def test_binary_literals_compare_with_bytes_columns() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM b (k STRING KEY, v BYTES) WITH (kafka_topic='b', value_format='JSON', "
        "partitions=1);"
        "CREATE STREAM o AS SELECT k, v = X'0A' AS eq, X'0aff' AS lit FROM b WHERE v <> X'';"
    )
    (q,) = engine.queries.values()
    (rec,) = q.process(InRecord("b", b"a", b'{"V": "Cg=="}', 0))
    assert orjson.loads(rec.value or b"") == {"EQ": True, "LIT": "Cv8="}
    assert q.process(InRecord("b", b"a", b'{"V": ""}', 0)) == []
