"""Engine behaviours the conformance cases do not pin down: event-time extraction,
bounded window state, the processing-log callback, and statement-level errors."""

from __future__ import annotations

import orjson
import pytest

from fraudstream.ksql.engine.engine import InRecord, KsqlEngine, ProcessingLogEntry
from fraudstream.ksql.engine.results import VariableList
from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError, KsqlUnsupportedError


def test_timestamp_column_with_format_sets_rowtime() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (id INT, ts VARCHAR) WITH (kafka_topic='s', value_format='JSON', "
        "partitions=1, timestamp='ts', timestamp_format='yyyy-MM-dd''T''HH:mm:ssX');"
        "CREATE STREAM o AS SELECT id, ROWTIME AS rt FROM s;"
    )
    (q,) = engine.queries.values()
    (out,) = q.process(InRecord("s", None, b'{"id": 1, "ts": "2024-01-01T00:00:10Z"}', 5))
    assert out.timestamp == 1704067210000
    assert orjson.loads(out.value or b"") == {"ID": 1, "RT": 1704067210000}


def test_windowed_state_is_evicted_after_grace() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM tx (u STRING KEY, a DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
        " partitions=1);"
        "CREATE TABLE c AS SELECT u, COUNT(*) AS n FROM tx "
        "WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 1 SECOND) GROUP BY u;"
    )
    (q,) = engine.queries.values()
    for i in range(5000):
        q.process(InRecord("tx", f"u{i % 7}".encode(), b'{"a": 1.0}', i * 1000))
    # the aggregate operator keeps its window state; only recent windows survive
    # (eviction runs every 1024 records: the windows closed by then are gone)
    (store,) = [s for s in q.state_stores if s.name == "aggregate"]
    state = store.data
    assert 0 < len(state) < 1024
    assert min(ws for _, ws in state) >= 4_000_000
    # a record far too late for its window is dropped, not counted
    assert q.process(InRecord("tx", b"u1", b'{"a": 1.0}', 0)) == []


def test_processing_log_callback_and_counters() -> None:
    engine = KsqlEngine()
    seen: list[ProcessingLogEntry] = []
    engine.on_error = seen.append
    engine.execute(
        "CREATE STREAM s (n INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT 10 / n AS x FROM s;"
    )
    (q,) = engine.queries.values()
    assert q.process(InRecord("s", None, b'{"n": 0}', 0, 2, 7))[0].value == b'{"X":null}'
    assert q.process(InRecord("s", None, b"\xff", 0, 2, 8)) == []
    assert [(e.type, e.partition, e.offset) for e in seen] == [
        ("RECORD_PROCESSING_ERROR", 2, 7),
        ("DESERIALIZATION_ERROR", 2, 8),
    ]
    assert q.processing_errors == 2 and q.errors == []
    assert seen[0].to_dict()["queryId"] == q.id


def test_statement_errors_are_typed_and_name_the_construct() -> None:
    engine = KsqlEngine()
    engine.execute("CREATE STREAM s (n INT) WITH (kafka_topic='s', value_format='JSON');")
    with pytest.raises(KsqlParseError, match=r"line 1:8: Syntax Error"):
        engine.execute("SELECT FROM s;")
    with pytest.raises(KsqlUnsupportedError, match="SESSION windows"):
        engine.execute(
            "CREATE TABLE t AS SELECT n, COUNT(*) FROM s WINDOW SESSION (5 SECONDS) GROUP BY n;"
        )
    with pytest.raises(KsqlStatementError, match="Cannot add stream 'S'"):
        engine.execute("CREATE STREAM s (n INT) WITH (kafka_topic='s', value_format='JSON');")
    with pytest.raises(KsqlStatementError, match="Tables require a PRIMARY KEY"):
        engine.execute("CREATE TABLE t (n INT) WITH (kafka_topic='t', value_format='JSON');")
    # IF NOT EXISTS is a no-op, and the metastore only holds S
    engine.execute(
        "CREATE STREAM IF NOT EXISTS s (n INT) WITH (kafka_topic='s', value_format='JSON');"
    )
    assert list(engine.sources) == ["S"]


def test_define_variables_apply_to_later_statements() -> None:
    engine = KsqlEngine()
    engine.execute(
        "DEFINE src_topic = 'events'; DEFINE parts = '3';"
        "CREATE STREAM s (n INT) "
        "WITH (kafka_topic='${src_topic}', value_format='JSON', partitions=${parts});"
    )
    src = engine.sources["S"]
    assert (src.topic, src.partitions) == ("events", 3)
    (res,) = engine.execute("LIST VARIABLES;")
    # variable names are case-insensitive identifiers
    assert isinstance(res.outcome, VariableList)
    names = dict(res.outcome.variables)
    assert names == {"SRC_TOPIC": "events", "PARTS": "3"}


def test_double_equals_decimal_literal_by_its_decimal_text() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (x DOUBLE) WITH (kafka_topic='s', value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT x FROM s WHERE x = 11.1 OR x > 100.25;"
    )
    (q,) = engine.queries.values()
    kept = [
        v
        for v in (11.1, 11.2, 100.25, 100.5, float("nan"))
        if q.process(InRecord("s", None, orjson.dumps({"x": v}), 0))
    ]
    assert kept == [11.1, 100.5]


def test_push_query_over_table_retracts_only_rows_it_showed() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE TABLE t (k STRING PRIMARY KEY, n INT) WITH (kafka_topic='t', value_format='JSON',"
        " partitions=1);"
    )
    tq = engine.transient_query("SELECT * FROM t WHERE n > 1 EMIT CHANGES;")

    def rows(key: bytes, n: int) -> list[tuple[list[object], bool]]:
        recs = tq.process_rows(InRecord("t", key, orjson.dumps({"n": n}), 0))
        return [(r.values, r.tombstone) for r in recs]

    assert rows(b"a", 0) == []  # never shown: nothing to retract
    assert rows(b"a", 5) == [(["a", 5], False)]
    assert rows(b"a", 0) == [(["a", 0], True)]  # shown, now filtered out: retracted
    assert rows(b"a", 0) == []
