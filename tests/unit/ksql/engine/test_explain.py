"""EXPLAIN <query id> and EXPLAIN <SELECT>: the printed operator plan and its typed result."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.engine import KsqlEngine
from fraudstream.ksql.engine.explain import ExplainResult
from fraudstream.ksql.errors import KsqlStatementError

DDL = (
    "CREATE STREAM tx (u STRING KEY, amount DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE users (u STRING PRIMARY KEY, name STRING) WITH (kafka_topic='users',"
    " value_format='JSON', partitions=1);"
)


def _labels(plan_text: str) -> list[tuple[int, str]]:
    """(depth, label) of each printed step."""
    out = []
    for line in plan_text.splitlines():
        depth = (len(line) - len(line.lstrip("\t"))) // 2
        out.append((depth, line.split("[ ")[1].split(" ]")[0]))
    return out


def test_explain_a_persistent_query_by_id() -> None:
    engine = KsqlEngine()
    engine.execute(
        DDL + "CREATE STREAM big AS SELECT u, amount * 2 AS dbl FROM tx WHERE amount > 10;"
    )
    (qid,) = engine.queries
    (res,) = engine.execute(f"EXPLAIN {qid};")
    assert res.type == "queryDescription"
    ex = res.outcome
    assert isinstance(ex, ExplainResult)
    assert ex.query_id == qid and ex.query_type == "PERSISTENT" and ex.state == "RUNNING"
    assert ex.sources == ["TX"] and ex.sinks == ["BIG"] and ex.sink_topics == ["BIG"]
    assert [c.name for c in ex.fields] == ["U", "DBL"]
    assert _labels(ex.execution_plan) == [(0, "SINK"), (1, "PROJECT"), (2, "FILTER"), (3, "SOURCE")]
    assert "Predicate: (AMOUNT > 10)" in ex.execution_plan
    assert "Schema: U STRING KEY, DBL DOUBLE" in ex.execution_plan.splitlines()[0]
    assert res.message == ex.execution_plan and res.outcome is ex


def test_explain_a_select_plans_without_starting_anything() -> None:
    engine = KsqlEngine()
    engine.execute(DDL)
    (res,) = engine.execute(
        "EXPLAIN SELECT t.u, t.amount, n.name FROM tx t JOIN users n ON t.u = n.u EMIT CHANGES;"
    )
    ex = res.outcome
    assert isinstance(ex, ExplainResult)
    assert ex.query_id is None and ex.query_type == "PUSH"
    assert engine.queries == {}
    assert _labels(ex.execution_plan) == [
        (0, "SINK"),
        (1, "PROJECT"),
        (2, "STREAM-TABLE JOIN"),
        (3, "SOURCE"),
        (3, "SOURCE"),
    ]
    assert ex.sources == ["TX", "USERS"] and ex.sinks == []
    assert "Type: INNER | On: T.U = N.U" in ex.execution_plan


def test_explain_a_pull_query_shows_its_access_step() -> None:
    engine = KsqlEngine()
    engine.execute(DDL + "CREATE TABLE totals AS SELECT u, SUM(amount) AS s FROM tx GROUP BY u;")
    (lookup,) = engine.execute("EXPLAIN SELECT s FROM totals WHERE u = 'ann';")
    ex = lookup.outcome
    assert isinstance(ex, ExplainResult) and ex.query_type == "PULL" and ex.query_id is None
    assert _labels(ex.execution_plan) == [
        (0, "PROJECT"),
        (1, "FILTER"),
        (2, "KEY LOOKUP"),
        (3, "SOURCE"),
    ]
    assert [c.name for c in ex.fields] == ["S"] and ex.sources == ["TOTALS"]
    (scan,) = engine.execute("EXPLAIN SELECT * FROM totals WHERE s > 1 LIMIT 2;")
    assert [label for _, label in _labels(scan.outcome.execution_plan)][:4] == [
        "LIMIT",
        "PROJECT",
        "FILTER",
        "TABLE SCAN",
    ]
    (stream,) = engine.execute("EXPLAIN SELECT * FROM tx;")
    assert _labels(stream.outcome.execution_plan)[-1] == (1, "TOPIC SCAN")


def test_explain_a_windowed_aggregate() -> None:
    engine = KsqlEngine()
    engine.execute(
        DDL + "CREATE TABLE per_user AS SELECT u, COUNT(*) AS n FROM tx "
        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY u HAVING COUNT(*) > 2;"
    )
    (qid,) = engine.queries
    ex = engine.execute(f"EXPLAIN {qid};")[0].outcome
    assert isinstance(ex, ExplainResult)
    assert ex.window_type == "TUMBLING"
    text = ex.execution_plan
    assert _labels(text) == [(0, "SINK"), (1, "PROJECT"), (2, "AGGREGATE"), (3, "SOURCE")]
    assert "Group by: U | Aggregates: COUNT(*) | Window: TUMBLING 60000 ms" in text
    assert "Having: (COUNT(*) > 2)" in text


def test_explain_an_unknown_query_gives_ksqldbs_message() -> None:
    engine = KsqlEngine()
    with pytest.raises(KsqlStatementError) as err:
        engine.execute("EXPLAIN CSAS_NOPE_0;")
    assert str(err.value).startswith(
        "Query with id:CSAS_NOPE_0 does not exist, use SHOW QUERIES to view the full set of "
        "queries."
    )


def test_explain_a_select_reports_the_planners_errors() -> None:
    engine = KsqlEngine()
    engine.execute(DDL)
    with pytest.raises(KsqlStatementError, match="HAVING clause requires a GROUP BY clause"):
        engine.execute("EXPLAIN SELECT u FROM tx HAVING amount > 1 EMIT CHANGES;")
