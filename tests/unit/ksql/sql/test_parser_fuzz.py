"""Property tests (hypothesis) of the KSQL parser and engine (issue 21): on generated
statements (token soup from the language's own vocabulary, and the project's statement files
with characters flipped, inserted or cut) they never raise anything but `KsqlError`: a
syntax error with a position, or a statement error. Bounded examples."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.errors import KsqlError
from fraudstream.ksql.engine.engine import KsqlEngine
from fraudstream.ksql.sql.parser import parse

ROOT = Path(__file__).resolve().parents[4]
VARIABLES = {
    "source_topic": "src",
    "source_partitions": "2",
    "users_topic": "users",
    "users_partitions": "1",
    "training_topic": "train",
    "live_topic": "live",
    "live_partitions": "2",
    "enriched_topic": "enriched",
    "per_user_topic": "per_user",
    "per_user_min_v1": "5",
}
FILES = [p.read_text() for p in sorted((ROOT / "ksql").glob("*.sql"))]
EXTRA = [
    "CREATE TABLE t AS SELECT u, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY u"
    " EMIT CHANGES;",
    "SELECT * FROM s WHERE a > 1 AND b IS NOT NULL EMIT CHANGES LIMIT 3;",
    "INSERT INTO s (id, a) VALUES ('x', 1.5);",
    "DEFINE v = 'x'; DROP STREAM IF EXISTS s DELETE TOPIC; TERMINATE ALL;",
    "SET 'auto.offset.reset' = 'earliest'; DESCRIBE s EXTENDED; LIST QUERIES; EXPLAIN q1;",
]
VALID = FILES + EXTRA
WORDS = [
    "CREATE", "STREAM", "TABLE", "AS", "SELECT", "FROM", "WHERE", "GROUP", "BY", "EMIT",
    "CHANGES", "WITH", "WINDOW", "TUMBLING", "HOPPING", "SESSION", "SIZE", "ADVANCE", "JOIN",
    "LEFT", "INNER", "ON", "WITHIN", "PARTITION", "INSERT", "INTO", "VALUES", "DROP", "DELETE",
    "TOPIC", "TERMINATE", "ALL", "DESCRIBE", "EXTENDED", "LIST", "SHOW", "QUERIES", "EXPLAIN",
    "DEFINE", "SET", "UNSET", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "IS", "NOT", "NULL",
    "AND", "OR", "IN", "BETWEEN", "LIKE", "HAVING", "LIMIT", "KEY", "PRIMARY", "STRUCT",
    "ARRAY", "MAP", "INT", "BIGINT", "DOUBLE", "VARCHAR", "STRING", "DECIMAL", "BOOLEAN",
    "COUNT", "SUM", "AVG", "MASK_LEFT", "IFNULL", "HOUR", "SECONDS", "KAFKA_TOPIC",
    "VALUE_FORMAT", "PARTITIONS", "s", "t", "a", "u", "`x y`", "'str'", "''", "'it''s'", "1",
    "-2", "1.5e308", "1e999", "99999999999999999999999", "(", ")", ",", ";", "*", "=", "<",
    ">", "<=", "!=", "<>", "+", "-", "/", "%", "||", ".", "->", "[", "]", "${live_topic}",
    "${nope}", "--c\n", "/* c */", "'", "`", "\"", "\\", "\x00", "é",
]  # fmt: skip

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "word"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "flip" and text:
            text[at] = draw(st.characters(codec="utf-8"))
        elif kind == "insert":
            text[at:at] = list(draw(st.text(max_size=4)))
        elif kind == "delete" and text:
            del text[at : at + draw(st.integers(1, 12))]
        elif kind == "cut":
            del text[at:]
        else:
            text[at:at] = list(f" {draw(st.sampled_from(WORDS))} ")
    return "".join(text)


soup = st.lists(st.sampled_from(WORDS), min_size=1, max_size=40).map(" ".join)
statements = st.one_of(soup, mutated())


@FUZZ
@given(statements)
def test_parser_raises_only_ksql_errors(sql: str) -> None:
    try:
        stmts = parse(sql, VARIABLES)
    except KsqlError as exc:
        assert str(exc)
        return
    assert all(s.text for s in stmts)


@FUZZ
@given(statements)
def test_engine_raises_only_ksql_errors(sql: str) -> None:
    engine = KsqlEngine()
    try:
        engine.execute(
            "CREATE STREAM s (id VARCHAR KEY, a DOUBLE, b INT, u VARCHAR) WITH"
            " (kafka_topic='s', value_format='JSON', partitions=1);"
        )
        engine.execute(sql, VARIABLES)
    except KsqlError as exc:
        assert str(exc)
