"""FlatMapOperator: zipping table-function lists, failures logged, tombstones dropped."""

from __future__ import annotations

from typing import Any

from fraudstream.ksql.engine.operators.flatmap import FlatMapOperator
from fraudstream.ksql.engine.table_functions import explode

# row: [K, V, ROWTIME, ROWPARTITION, ROWOFFSET]; V is a list of two arrays


def _op(kit: Any, *calls: Any) -> FlatMapOperator:
    return FlatMapOperator(list(calls), 5, kit.emit, kit.log)


def _arr(i: int) -> Any:
    return ("EXPLODE", [lambda r: r[1][i]], explode)


def test_lists_zip_to_the_longest_with_nulls(kit: Any) -> None:
    op = _op(kit, _arr(0), _arr(1))
    out = op.emit(["k", [[1, 2], [10, 11, 12]], 7, 0, 0], None, 7)
    assert [e.row[5:] for e in out] == [[1, 10], [2, 11], [None, 12]]
    assert all(e.row[0] == "k" and e.ts == 7 for e in out)


def test_null_or_empty_arrays_give_no_rows(kit: Any) -> None:
    op = _op(kit, _arr(0))
    assert op.emit(["k", [None, None], 1, 0, 0], None, 1) == []
    assert op.emit(["k", [[], None], 1, 0, 0], None, 1) == []


def test_tombstones_produce_nothing(kit: Any) -> None:
    op = _op(kit, _arr(0))
    assert op.emit(["k", None, 1, 0, 0], None, 1, tombstone=True) == []
    assert kit.emitted == []


def test_failures_are_logged_argument_null_function_empty(kit: Any) -> None:
    def boom(_: Any) -> list[Any]:
        raise ValueError("no")

    op = _op(kit, ("BAD_ARG", [lambda r: r[9]], explode), ("BAD_FN", [lambda r: r[1]], boom))
    assert op.emit(["k", [1], 1, 0, 0], None, 1) == []
    kinds = [m for _, m in kit.logged]
    assert "parameter 0" in kinds[0] and "BAD_FN threw" in kinds[1]
