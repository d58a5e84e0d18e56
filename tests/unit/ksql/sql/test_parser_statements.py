"""Parser: ksqlDB syntax -> typed AST, variables, and ksqlDB-style syntax errors."""

from __future__ import annotations

import pytest

from fraudstream.ksql.errors import KsqlParseError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import parse, substitute_variables


def test_create_stream_columns_keys_and_properties() -> None:
    (stmt,) = parse(
        "CREATE STREAM src (Id BIGINT KEY, `Timestamp` VARCHAR, V1 DOUBLE, Class INT) "
        "WITH (KAFKA_TOPIC='creditcardfraud_source', VALUE_FORMAT='JSON', PARTITIONS=3);"
    )
    assert isinstance(stmt, A.CreateSource)
    assert stmt.kind == "STREAM" and stmt.name == "SRC"
    assert [(e.name, str(e.type), e.constraint) for e in stmt.elements or []] == [
        ("ID", "BIGINT", "KEY"),
        ("Timestamp", "STRING", None),  # quoted identifiers keep their case
        ("V1", "DOUBLE", None),
        ("CLASS", "INTEGER", None),
    ]
    assert stmt.properties["KAFKA_TOPIC"].value == "creditcardfraud_source"
    assert stmt.properties["PARTITIONS"].value == 3
    assert stmt.text.endswith(";")


def test_create_table_primary_key_and_nested_types() -> None:
    (stmt,) = parse(
        "CREATE TABLE users (userid VARCHAR PRIMARY KEY, tags ARRAY<STRING>, "
        "attrs MAP<STRING, INT>, addr STRUCT<city STRING, zip INT>, amount DECIMAL(10, 2)) "
        "WITH (kafka_topic='users', value_format='JSON');"
    )
    assert isinstance(stmt, A.CreateSource)
    types = {e.name: str(e.type) for e in stmt.elements or []}
    assert types == {
        "USERID": "STRING",
        "TAGS": "ARRAY<STRING>",
        "ATTRS": "MAP<STRING, INTEGER>",
        "ADDR": "STRUCT<`CITY` STRING, `ZIP` INTEGER>",
        "AMOUNT": "DECIMAL(10, 2)",
    }
    assert stmt.elements and stmt.elements[0].constraint == "PRIMARY KEY"


def test_join_query_with_like_filter() -> None:
    (stmt,) = parse(
        "CREATE STREAM per_user WITH (VALUE_FORMAT='AVRO') AS SELECT c.userid, u.city, c.V1 "
        "FROM src c INNER JOIN users u ON c.userid = u.userid "
        "WHERE V1 > 5 AND V2 IS NOT NULL AND u.CITY LIKE 'Premium%' EMIT CHANGES;"
    )
    assert isinstance(stmt, A.CreateAsSelect)
    q = stmt.query
    assert q.source == A.Relation("SRC", "C")
    assert q.joins[0].type == "INNER" and q.joins[0].right == A.Relation("USERS", "U")
    assert A.format_expr(q.joins[0].criteria) == "(C.USERID = U.USERID)"
    assert A.format_expr(q.where) == (  # type: ignore[arg-type]
        "(((V1 > 5) AND (V2 IS NOT NULL)) AND (U.CITY LIKE 'Premium%'))"
    )
    assert q.emit == "CHANGES"


def test_expression_precedence_and_literals() -> None:
    (stmt,) = parse(
        "SELECT a + b * -2, 1.50, 1e3, 'it''s', NOT x OR y AND z FROM s EMIT CHANGES LIMIT 4;"
    )
    assert isinstance(stmt, A.QueryStatement)
    items = [A.format_expr(i.expr) for i in stmt.query.select]  # type: ignore[union-attr]
    assert items == ["(A + (B * -2))", "1.50", "1000.0", "'it''s'", "((NOT X) OR (Y AND Z))"]
    assert stmt.query.limit == 4


def test_windowed_aggregate_and_partition_by() -> None:
    stmts = parse(
        "CREATE TABLE t AS SELECT userid, COUNT(*) AS n, AVG(amount) FROM s "
        "WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES) GROUP BY userid;"
        "CREATE STREAM p AS SELECT * FROM s PARTITION BY userid;"
    )
    t, p = stmts
    assert isinstance(t, A.CreateAsSelect) and isinstance(p, A.CreateAsSelect)
    assert t.query.window == A.Window("HOPPING", 3_600_000, 600_000, None, None)
    assert [A.format_expr(e) for e in t.query.group_by or []] == ["USERID"]
    assert [A.format_expr(e) for e in p.query.partition_by or []] == ["USERID"]


def test_non_reserved_keywords_are_usable_as_column_names() -> None:
    (stmt,) = parse(
        "CREATE STREAM s (KEY STRING, VALUE DOUBLE, TIMESTAMP BIGINT, ID INT) "
        "WITH (kafka_topic='t', value_format='JSON');"
    )
    assert [e.name for e in stmt.elements or []] == ["KEY", "VALUE", "TIMESTAMP", "ID"]  # type: ignore[attr-defined]


def test_variables_are_substituted_before_parsing() -> None:
    sql = (
        "CREATE STREAM s (a INT) "
        "WITH (kafka_topic='${topic}', value_format='JSON', partitions=${parts});"
    )
    (stmt,) = parse(sql, {"TOPIC": "events", "parts": "4"})
    assert isinstance(stmt, A.CreateSource)
    assert stmt.properties["KAFKA_TOPIC"].value == "events"
    assert stmt.properties["PARTITIONS"].value == 4
    assert substitute_variables("x ${unknown} y", {}) == "x ${unknown} y"


def test_syntax_error_has_position_expected_tokens_and_statement() -> None:
    with pytest.raises(KsqlParseError) as err:
        parse(
            "CREATE STREAM INPUT (K STRING (KEY)) WITH (kafka_topic='input',value_format='JSON');"
        )
    msg = str(err.value)
    assert msg.startswith("line 1:32: Syntax Error\nExpecting {'STRING', INTEGER_VALUE}")
    assert msg.endswith(
        "Statement: CREATE STREAM INPUT (K STRING (KEY)) "
        "WITH (kafka_topic='input',value_format='JSON');"
    )


def test_syntax_error_on_second_line_reports_that_line() -> None:
    with pytest.raises(KsqlParseError) as err:
        parse(
            "CREATE STREAM a (x INT) WITH (kafka_topic='a', value_format='JSON');\nSELECT FROM a;"
        )
    assert str(err.value).startswith("line 2:8: Syntax Error")


def test_unsupported_statements_parse_to_a_named_construct() -> None:
    (stmt,) = parse("CREATE TYPE address AS STRUCT<street STRING>;")
    assert isinstance(stmt, A.Unsupported) and stmt.construct == "CREATE TYPE"


def test_conformance_syntax_additions() -> None:
    """Forms ksqlDB accepts that the grammar now parses (found by the conformance runner)."""
    (q,) = parse("SELECT DATEADD(DAYS, 1, d) FROM s EMIT CHANGES;")
    call = q.query.select[0].expr  # type: ignore[attr-defined]
    assert call.args[0] == A.IntervalUnit("DAYS")
    (w,) = parse("SELECT k, COUNT(*) FROM s WINDOW w1 SESSION (5 SECONDS) GROUP BY k EMIT CHANGES;")
    assert w.query.window.type == "SESSION"  # type: ignore[attr-defined]
    (lam,) = parse("SELECT TRANSFORM(xs, (x) => x + 1) FROM s EMIT CHANGES;")
    assert isinstance(lam.query.select[0].expr.args[1], A.Lambda)  # type: ignore[attr-defined]
    (star,) = parse("SELECT a->* FROM s EMIT CHANGES;")
    assert isinstance(star.query.select[0].expr, A.StructStar)  # type: ignore[attr-defined]
    (alter,) = parse("ALTER STREAM s ADD COLUMN c INT, ADD d STRING;")
    assert isinstance(alter, A.AlterSource) and [c.name for c in alter.columns] == ["C", "D"]
    (neg,) = parse("SELECT * FROM s LIMIT -1;")
    assert neg.query.limit == -1  # type: ignore[attr-defined]
