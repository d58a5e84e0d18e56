"""Aggregate functions CORRELATION, HISTOGRAM and TOPK with other columns: ksqlDB's results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from fraudstream.ksql.engine.expressions import Compiled
from fraudstream.ksql.engine.operators.aggregates import Aggregator, make_aggregator
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T


def col(i: int, t: T.SqlType) -> Compiled:
    return Compiled(t, lambda r: r[i], index=i)


def const(v: Any, t: T.SqlType) -> Compiled:
    return Compiled(t, lambda r: v, True, v)


def fold(agg: Aggregator, rows: Sequence[Sequence[Any]]) -> Any:
    s = agg.init()
    for r in rows:
        s = agg.add(s, r)
    return s


def test_correlation_skips_null_pairs_and_is_nan_until_defined() -> None:
    agg = make_aggregator("CORRELATION", [col(0, T.T_DOUBLE), col(1, T.T_DOUBLE)], False, False)
    s = fold(agg, [[1.5, 8.0]])
    assert math.isnan(agg.result(s))
    s = fold(agg, [[1.5, 8.0], [-1.0, -2.0], [None, 3.0]])
    assert agg.result(s) == pytest.approx(1.0)
    s = agg.add(s, [-4.5, -1.0])
    assert agg.result(s) == pytest.approx(0.7580764521133173)
    assert agg.result(agg.undo(s, [-4.5, -1.0])) == pytest.approx(1.0)
    with pytest.raises(KsqlStatementError):
        make_aggregator("CORRELATION", [col(0, T.T_DOUBLE), col(1, T.T_INTEGER)], False, False)


def test_histogram_counts_and_retracts() -> None:
    agg = make_aggregator("HISTOGRAM", [col(0, T.T_STRING)], False, True)
    s = fold(agg, [["a"], ["b"], ["a"]])
    assert agg.result(s) == {"a": 2, "b": 1}
    s = agg.undo(agg.undo(s, ["b"]), ["a"])
    assert agg.result(s) == {"a": 1}


def test_topk_with_other_columns_keeps_ties_in_arrival_order() -> None:
    args = [col(0, T.T_INTEGER), col(1, T.T_STRING), const(3, T.T_INTEGER)]
    agg = make_aggregator("TOPK", args, False, False)
    assert agg.type.item is not None and agg.type.item.base == T.STRUCT
    rows = [[0, "zero"], [100, "one"], [99, "two"], [None, "three"], [100, None]]
    assert agg.result(fold(agg, rows)) == [
        {"sort_col": 100, "col0": "one"},
        {"sort_col": 100, "col0": None},
        {"sort_col": 99, "col0": "two"},
    ]


def test_attr_is_the_single_value_of_the_group() -> None:
    agg = make_aggregator("ATTR", [col(0, T.T_STRING)], False, True)
    s = fold(agg, [["a"], ["a"]])
    assert agg.result(s) == "a"
    s = agg.add(s, [None])  # NULL is a value of its own: two values, no attribute
    assert agg.result(s) is None
    assert agg.result(agg.undo(s, [None])) == "a"
