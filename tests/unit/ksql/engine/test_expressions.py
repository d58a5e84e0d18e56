"""AND / OR / NOT: SQL's three-valued logic (NULL unknown) as ksqlDB evaluates it."""

from __future__ import annotations

import itertools

import pytest

from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, ScopeColumn
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T
from fraudstream.ksql.sql.parser import parse_expression

SCOPE = Scope(
    [
        ScopeColumn("X", T.T_BOOLEAN, None, 0),
        ScopeColumn("Y", T.T_BOOLEAN, None, 1),
        ScopeColumn("N", T.T_INTEGER, None, 2),
    ]
)
VALUES = (True, False, None)


def run(text: str, x: bool | None, y: bool | None) -> object:
    return ExpressionCompiler(SCOPE).compile(parse_expression(text)).fn([x, y, 0])


def kleene_and(x: bool | None, y: bool | None) -> bool | None:
    if x is False or y is False:
        return False
    return None if x is None or y is None else True


def kleene_or(x: bool | None, y: bool | None) -> bool | None:
    if x is True or y is True:
        return True
    return None if x is None or y is None else False


@pytest.mark.parametrize(("x", "y"), list(itertools.product(VALUES, VALUES)))
def test_and_or_truth_tables(x: bool | None, y: bool | None) -> None:
    assert run("X AND Y", x, y) is kleene_and(x, y)
    assert run("X OR Y", x, y) is kleene_or(x, y)
    assert run("NOT (X AND Y)", x, y) is kleene_or(
        None if x is None else not x, None if y is None else not y
    )


def test_a_deciding_left_side_skips_the_right_one() -> None:
    """FALSE AND ... / TRUE OR ... never evaluates the right side (a failing one included)."""
    assert run("X AND (N / 0 = 1)", False, None) is False
    assert run("X OR (N / 0 = 1)", True, None) is True


def test_non_boolean_operand_is_refused() -> None:
    with pytest.raises(KsqlStatementError, match="Logical binary expects a boolean argument"):
        run("X AND N", True, None)
