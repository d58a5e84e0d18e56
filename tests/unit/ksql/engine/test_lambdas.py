"""TRANSFORM / FILTER / REDUCE: ksqlDB's lambda semantics, compiled against a scope."""

from __future__ import annotations

from typing import Any

import pytest

from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, ScopeColumn
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import types as T
from fraudstream.ksql.sql.parser import parse_expression

SCOPE = Scope(
    [
        ScopeColumn("NUMS", T.array_of(T.T_INTEGER), None, 0),
        ScopeColumn("M", T.map_of(T.T_STRING, T.T_INTEGER), None, 1),
        ScopeColumn("A", T.T_INTEGER, None, 2),
    ]
)


def run(text: str, *row: Any) -> Any:
    return ExpressionCompiler(SCOPE).compile(parse_expression(text)).fn(list(row))


def test_transform_array_and_map() -> None:
    assert run("TRANSFORM(NUMS, x => x + A)", [1, 2], None, 10) == [11, 12]
    assert run("TRANSFORM(NUMS, x => x + 1)", None, None, 0) is None
    got = run("TRANSFORM(M, (k, v) => UCASE(k), (k, v) => v * 2)", None, {"a": 1, "b": 2}, 0)
    assert got == {"A": 2, "B": 4}
    ct = ExpressionCompiler(SCOPE).compile(parse_expression("TRANSFORM(NUMS, x => 'n')")).type
    assert ct == T.array_of(T.T_STRING)


def test_null_operand_of_arithmetic_fails_the_whole_lambda() -> None:
    """ksqlDB's generated Java unboxes a NULL operand: the expression fails (NULL + log)."""
    with pytest.raises(KsqlProcessingError):
        run("TRANSFORM(NUMS, x => x + 5)", [1, None], None, 0)
    # a UDF handles NULL itself, and comparisons with NULL are false
    assert run("TRANSFORM(NUMS, x => ABS(x))", [-1, None], None, 0) == [1, None]
    assert run("FILTER(NUMS, x => x > 1)", [5, None], None, 0) == [5]


def test_transform_map_duplicate_key_or_null_value_is_an_error() -> None:
    with pytest.raises(KsqlProcessingError):
        run("TRANSFORM(M, (k, v) => 'same', (k, v) => v)", None, {"a": 1, "b": 2}, 0)
    with pytest.raises(KsqlProcessingError):
        run("FILTER(M, (k, v) => true)", None, {"a": None}, 0)


def test_filter_predicate_null_is_an_error() -> None:
    with pytest.raises(KsqlProcessingError):
        run("FILTER(NUMS, x => CAST(NULL AS BOOLEAN))", [1], None, 0)
    assert run("FILTER(M, (k, v) => LEN(k) > 1)", None, {"ab": 1, "c": 2}, 0) == {"ab": 1}


def test_reduce_array_state_and_nulls() -> None:
    assert run("REDUCE(NUMS, 2, (s, x) => s + x)", [3, 6], None, 0) == 11
    assert run("REDUCE(NUMS, 2, (s, x) => s + x)", None, None, 0) == 2
    assert run("REDUCE(NUMS, A, (s, x) => s + x)", [1], None, None) is None
    with pytest.raises(KsqlProcessingError):
        run("REDUCE(NUMS, 2, (s, x) => s + x)", [5, None], None, 0)


def test_nested_lambdas_see_outer_parameters() -> None:
    got = run("TRANSFORM(NUMS, x => REDUCE(NUMS, 0, (s, y) => s + x * y))", [1, 2], None, 0)
    assert got == [3, 6]


def test_refusals_and_errors() -> None:
    with pytest.raises(KsqlUnsupportedError, match="REDUCE over a MAP"):
        run("REDUCE(M, 0, (s, k, v) => s + v)", None, {}, 0)
    with pytest.raises(KsqlUnsupportedError, match="REDUCE whose lambda returns"):
        run("REDUCE(NUMS, 'a', (s, x) => x)", [], None, 0)
    with pytest.raises(KsqlStatementError):
        run("TRANSFORM(NUMS, (x, y) => x)", [], None, 0)
    with pytest.raises(KsqlStatementError):
        run("FILTER(NUMS, x => x + 1)", [], None, 0)
