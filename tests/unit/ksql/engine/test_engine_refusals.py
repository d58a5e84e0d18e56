"""What the embedded engine does not compute is refused with a clear "not supported by the
embedded engine: <feature>" error (a user sees it too), never approximated."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.engine import KsqlEngine
from fraudstream.ksql.engine.expressions import NOT_IMPLEMENTED_FUNCTIONS, TEST_ONLY_FUNCTIONS
from fraudstream.ksql.engine.messages import NOT_SUPPORTED
from fraudstream.ksql.errors import KsqlStatementError, KsqlUnsupportedError

SRC = (
    "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', "
    "partitions=1);"
)


def refused(engine: KsqlEngine, sql: str) -> str:
    with pytest.raises(KsqlUnsupportedError) as info:
        engine.execute(sql)
    msg = str(info.value)
    assert f"{NOT_SUPPORTED}: " in msg
    return msg


def test_pull_queries_are_refused_and_push_queries_are_not() -> None:
    engine = KsqlEngine()
    engine.execute(SRC + "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;")
    with pytest.raises(KsqlUnsupportedError, match=f"{NOT_SUPPORTED}: pull queries"):
        engine.transient_query("SELECT * FROM t WHERE k = 'a';")
    assert engine.transient_query("SELECT * FROM t EMIT CHANGES;") is not None


def test_scalable_push_queries_are_refused_only_when_ksqldb_would_use_them() -> None:
    engine = KsqlEngine()
    engine.execute(SRC + "CREATE STREAM o AS SELECT * FROM s;")
    v2 = {"ksql.query.push.v2.enabled": "true", "auto.offset.reset": "latest"}
    with pytest.raises(KsqlUnsupportedError, match="scalable push queries"):
        engine.transient_query("SELECT * FROM o EMIT CHANGES;", properties=v2)
    # a source stream (no persistent query writes it) runs as a classic push query
    assert engine.transient_query("SELECT * FROM s EMIT CHANGES;", properties=v2) is not None
    earliest = {**v2, "auto.offset.reset": "earliest"}
    assert engine.transient_query("SELECT * FROM o EMIT CHANGES;", properties=earliest)


def test_emit_final_is_validated_then_refused() -> None:
    engine = KsqlEngine()
    engine.execute(SRC)
    with pytest.raises(KsqlStatementError, match="only supported for windowed aggregations"):
        engine.execute("CREATE TABLE t AS SELECT k, COUNT(*) FROM s GROUP BY k EMIT FINAL;")
    msg = refused(
        engine,
        "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s "
        "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY k EMIT FINAL;",
    )
    assert "EMIT FINAL" in msg


def test_known_ksqldb_functions_and_test_udfs_are_named() -> None:
    engine = KsqlEngine()
    engine.execute(SRC)
    name = min(NOT_IMPLEMENTED_FUNCTIONS - TEST_ONLY_FUNCTIONS)  # one not computed (yet)
    msg = refused(engine, f"CREATE STREAM o AS SELECT k, {name}(v) AS e FROM s;")
    assert msg.endswith(f"function {name}")
    msg = refused(engine, "CREATE TABLE o AS SELECT k, TEST_UDAF(v) AS x FROM s GROUP BY k;")
    assert "test suite" in msg
    with pytest.raises(KsqlStatementError, match="Can't find any functions with the name"):
        engine.execute("CREATE STREAM o AS SELECT k, NO_SUCH_FN(v) AS x FROM s;")


def test_alter_is_refused_and_read_only_sources_say_why() -> None:
    engine = KsqlEngine()
    engine.execute(SRC)
    assert refused(engine, "ALTER STREAM s ADD COLUMN w INT;").endswith("ALTER STREAM")
    engine.execute(
        "CREATE SOURCE STREAM r (k STRING KEY, v INT) WITH (kafka_topic='r', "
        "value_format='JSON', partitions=1);"
    )
    with pytest.raises(KsqlStatementError, match="ALTER operations are not supported on source"):
        engine.execute("ALTER STREAM r ADD COLUMN w INT;")
