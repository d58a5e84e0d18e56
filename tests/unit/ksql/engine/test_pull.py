"""Pull queries (engine/pull.py): the access step the planner picks (key lookup, range or
table scan, topic scan), what each returns, LIMIT, and ksqlDB's refusals."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fraudstream.ksql.engine.engine import InRecord, KsqlEngine
from fraudstream.ksql.engine.plan import KeyLookupNode, LimitNode, TableScanNode, TopicScanNode
from fraudstream.ksql.engine.topology import PersistentQuery
from fraudstream.ksql.errors import KsqlStatementError, KsqlUnsupportedError

AGG = (
    "CREATE STREAM tx (u STRING KEY, a DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE totals AS SELECT u, COUNT(*) AS n, SUM(a) AS s FROM tx GROUP BY u"
    " HAVING SUM(a) < 100;"
)


def _engine(sql: str = AGG, **props: Any) -> tuple[KsqlEngine, PersistentQuery]:
    engine = KsqlEngine(properties=props or None)
    engine.execute(sql)
    (q,) = [q for q in engine.queries.values() if isinstance(q, PersistentQuery)]
    return engine, q


def _feed(q: PersistentQuery, records: list[tuple[str, float | None]], ts0: int = 1000) -> None:
    for i, (user, a) in enumerate(records):
        value = None if a is None else orjson.dumps({"a": a})
        q.process(InRecord("tx", user.encode(), value, ts0 + i, 0, i))


def _access(pq: Any) -> Any:
    node = pq.plan
    while node.inputs and not isinstance(node, KeyLookupNode | TableScanNode | TopicScanNode):
        node = node.inputs[0]
    return node


def test_key_lookup_reads_only_the_keys_asked_for() -> None:
    engine, q = _engine()
    _feed(q, [("ann", 1.0), ("ben", 2.0), ("ann", 3.0)])
    assert q.materialized is not None

    def no_scan() -> Any:
        raise AssertionError("a key lookup must not scan the store")

    q.materialized.snapshot = no_scan  # type: ignore[method-assign]
    pq = engine.pull_query("SELECT * FROM totals WHERE u = 'ann';")
    assert isinstance(_access(pq), KeyLookupNode)
    assert pq.header_schema() == "`U` STRING KEY, `N` BIGINT, `S` DOUBLE"
    assert pq.execute().rows == [["ann", 2, 4.0]]
    both = engine.pull_query("SELECT u, s FROM totals WHERE u IN ('ben', 'nobody', 'ann');")
    assert sorted(both.execute().rows) == [["ann", 4.0], ["ben", 2.0]]
    assert engine.pull_query("SELECT * FROM totals WHERE u = 'nobody';").execute().rows == []


def test_rows_follow_the_table_updates_and_deletes() -> None:
    engine, q = _engine()
    _feed(q, [("ann", 1.0), ("ben", 2.0)])
    pq = engine.pull_query("SELECT u, s FROM totals WHERE u = 'ann';")
    assert pq.execute().rows == [["ann", 1.0]]
    _feed(q, [("ann", 500.0)])  # HAVING now fails: the sink writes a tombstone
    assert pq.execute().rows == []  # a planned query reads the state of when it runs
    scan = engine.pull_query("SELECT u FROM totals;")
    assert scan.execute().rows == [["ben"]]


def test_scans_filter_and_limit() -> None:
    engine, q = _engine()
    _feed(q, [(u, float(i)) for i, u in enumerate(["a", "b", "c", "d"])])
    ranged = engine.pull_query("SELECT u FROM totals WHERE u > 'a' AND u <= 'c';")
    node = _access(ranged)
    assert isinstance(node, TableScanNode) and node.key_range
    assert sorted(ranged.execute().rows) == [["b"], ["c"]]
    values = engine.pull_query("SELECT u FROM totals WHERE s >= 2;")
    node = _access(values)
    assert isinstance(node, TableScanNode) and not node.key_range
    assert sorted(values.execute().rows) == [["c"], ["d"]]
    limited = engine.pull_query("SELECT u FROM totals LIMIT 3;")
    assert isinstance(limited.plan, LimitNode)
    assert len(limited.execute().rows) == 3
    assert engine.pull_query("SELECT u FROM totals LIMIT 0;").execute().rows == []


def test_key_literals_are_coerced_to_the_key_type() -> None:
    sql = (
        "CREATE STREAM tx (id DOUBLE KEY, a DOUBLE) WITH (kafka_topic='tx', "
        "value_format='JSON', key_format='JSON', partitions=1);"
        "CREATE TABLE totals AS SELECT id, COUNT(*) AS n FROM tx GROUP BY id;"
    )
    engine, q = _engine(sql)
    q.process(InRecord("tx", b"10.0", b'{"a": 1}', 1))
    for text in ("10", "1.0E1", "10.0"):
        pq = engine.pull_query(f"SELECT * FROM totals WHERE id = {text};")
        assert isinstance(_access(pq), KeyLookupNode)
        assert pq.execute().rows == [[10.0, 1]]


def test_windowed_lookup_returns_every_window_and_bounds_filter_them() -> None:
    sql = (
        "CREATE STREAM tx (u STRING KEY, a DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
        " partitions=1);"
        "CREATE TABLE w AS SELECT u, COUNT(*) AS n FROM tx WINDOW TUMBLING (SIZE 1 SECOND)"
        " GROUP BY u;"
    )
    engine, q = _engine(sql)
    for ts in (1100, 1200, 2100, 3100):
        q.process(InRecord("tx", b"ann", b'{"a": 1}', ts))
    q.process(InRecord("tx", b"ben", b'{"a": 1}', 1500))
    pq = engine.pull_query("SELECT * FROM w WHERE u = 'ann';")
    assert pq.header_schema() == (
        "`U` STRING KEY, `WINDOWSTART` BIGINT KEY, `WINDOWEND` BIGINT KEY, `N` BIGINT"
    )
    assert pq.execute().rows == [
        ["ann", 1000, 2000, 2],
        ["ann", 2000, 3000, 1],
        ["ann", 3000, 4000, 1],
    ]
    bounded = engine.pull_query(
        "SELECT WINDOWSTART, n FROM w WHERE u = 'ann' AND WINDOWSTART >= 2000 AND WINDOWEND < 4000;"
    )
    assert isinstance(_access(bounded), KeyLookupNode)
    assert bounded.execute().rows == [[2000, 1]]


def test_streams_and_source_tables_are_topic_scans() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON',"
        " partitions=1);"
        "CREATE SOURCE TABLE t (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='t',"
        " value_format='JSON', partitions=1);"
    )
    pq = engine.pull_query("SELECT * FROM s WHERE v > 1;")
    assert isinstance(_access(pq), TopicScanNode) and pq.scan_topic == "s"
    assert pq.header_schema() == "`K` STRING, `V` INTEGER"  # stream rows are not keyed
    recs = [InRecord("s", b"a", orjson.dumps({"v": v}), v, 0, v) for v in (1, 2, 3)]
    result = pq.execute(recs)
    assert result.rows == [["a", 2], ["a", 3]]
    assert result.final_message == "Query Completed"
    limited = engine.pull_query("SELECT * FROM s LIMIT 2;").execute(recs)
    assert len(limited.rows) == 2 and limited.final_message == "Limit Reached"

    table = engine.pull_query("SELECT * FROM t;")
    updates = [
        InRecord("t", b"a", b'{"v": 1}', 1, 0, 0),
        InRecord("t", b"b", b'{"v": 2}', 2, 0, 1),
        InRecord("t", b"a", b'{"v": 3}', 3, 0, 2),
        InRecord("t", b"b", None, 4, 0, 3),
    ]
    answer = table.execute(updates)
    assert answer.rows == [["a", 3]] and answer.final_message is None
    with pytest.raises(KsqlStatementError, match="no records of its topic"):
        table.execute()


def test_explain_shows_the_pull_plan() -> None:
    engine, _ = _engine()
    text = engine.pull_query("SELECT u FROM totals WHERE u = 'ann' LIMIT 1;").plan.explain()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0].startswith("> [ LIMIT ] | Limit: 1")
    assert lines[1].startswith("> [ PROJECT ]")
    assert lines[2] == "> [ FILTER ] | Predicate: (U = 'ann')"
    assert lines[3] == "> [ KEY LOOKUP ] | Table: TOTALS | Keys: 'ann'"
    assert lines[4].startswith("> [ SOURCE ]")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT u FROM totals GROUP BY u;", "Pull queries don't support GROUP BY clauses."),
        ("SELECT * FROM tx WINDOW TUMBLING (SIZE 1 SECOND);", "don't support WINDOW clauses"),
        ("SELECT ROWPARTITION FROM totals;", "following columns in SELECT clauses: `ROWPARTITION`"),
        ("SELECT * FROM totals WHERE ROWOFFSET > 1;", "columns in WHERE clauses: `ROWOFFSET`"),
        ("SELECT * FROM totals WHERE u = NULL;", "Comparison with NULL not supported"),
        ("SELECT * FROM totals WHERE u IN (1, 2);", "can not be converted to the type of the key"),
        ("SELECT * FROM totals WHERE u IN (NULL);", "Primary key columns can not be NULL"),
        ("SELECT * FROM totals WHERE WINDOWSTART > 1;", "WHERE column 'WINDOWSTART' cannot be"),
        ("SELECT u, u FROM totals;", "Duplicate value columns found in schema: `U` STRING"),
        ("SELECT * FROM totals LIMIT -1;", "don't support negative integers in the LIMIT"),
    ],
)
def test_ksqldb_refusals(sql: str, message: str) -> None:
    engine, _ = _engine()
    with pytest.raises(KsqlStatementError) as info:
        engine.pull_query(sql)
    assert message in str(info.value)
    assert not isinstance(info.value, KsqlUnsupportedError)


def test_plain_table_is_not_queryable() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE TABLE users (id STRING PRIMARY KEY, v INT) WITH (kafka_topic='u', "
        "value_format='JSON', partitions=1);"
    )
    with pytest.raises(KsqlStatementError) as info:
        engine.pull_query("SELECT * FROM users WHERE id = 'a';")
    assert str(info.value).startswith(
        "The `USERS` table isn't queryable. To derive a queryable table, you can do "
        "'CREATE TABLE QUERYABLE_USERS AS SELECT * FROM USERS'."
    )


def test_table_scans_disabled_refuse_as_ksqldb_does() -> None:
    engine, _ = _engine(**{"ksql.query.pull.table.scan.enabled": "false"})
    lookup = engine.pull_query("SELECT * FROM totals WHERE u = 'a' OR u = 'b';")
    assert isinstance(_access(lookup), KeyLookupNode)  # key lookups need no table scan
    cases = {
        "SELECT * FROM totals;": "Query requires table scan to be enabled",
        "SELECT * FROM totals WHERE s > 1;": "WHERE clause missing key column for disjunct: ",
        "SELECT * FROM totals WHERE u <> 'a';": "Bound on key columns '[`U` STRING KEY]' must",
        "SELECT * FROM totals WHERE u = 'a' AND u = 'b';": "cannot be combined with other",
        "SELECT * FROM totals WHERE u = CAST(n AS STRING);": "must be between a key column and",
    }
    for sql, message in cases.items():
        with pytest.raises(KsqlStatementError) as info:
            engine.pull_query(sql)
        assert message in str(info.value), sql
    # a range on a STRING key is a range scan, allowed without table scans
    assert engine.pull_query("SELECT * FROM totals WHERE u > 'a';").execute().rows == []


def test_where_forms_outside_ksqldbs_rules_are_refused_by_name() -> None:
    engine, _ = _engine()
    with pytest.raises(KsqlUnsupportedError, match="pull query WHERE predicate"):
        engine.pull_query("SELECT * FROM totals WHERE s IS NULL;")


def test_sources_with_header_columns_are_refused_not_read_empty() -> None:
    """The scans keep no record headers: a HEADER column would read as empty, so refuse."""
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM hs (k INT KEY, h BYTES HEADER('abc'), v STRING) WITH (kafka_topic='hs',"
        " value_format='JSON', partitions=1);"
    )
    with pytest.raises(KsqlUnsupportedError, match=r"not supported by the embedded engine.*HEADER"):
        engine.pull_query("SELECT * FROM hs;")


def test_a_table_whose_rows_were_not_kept_refuses_pull_queries() -> None:
    """After an upgrade from an engine that kept no table rows, the store holds only the keys
    updated since: answering from it would be silently partial."""
    engine, q = _engine()
    _feed(q, [("ann", 5.0)])
    assert q.materialized is not None
    q.materialized.begin(processed_before=True)
    with pytest.raises(KsqlStatementError, match=r"Pull queries on TOTALS are refused.*recreate"):
        engine.pull_query("SELECT * FROM totals WHERE u = 'ann';")
