"""The lambda UDFs TRANSFORM, FILTER and REDUCE: their run-time halves, with ksqlDB's semantics.

The expression compiler binds each lambda parameter to a one-slot cell and compiles the body
once; these helpers set the cells and call the body per element. ksqlDB's failure cases are
kept: a NULL collection gives NULL (REDUCE: the initial state), a FILTER predicate that yields
NULL, a map result with a NULL value or a duplicate key is an error (Java's `Collectors.toMap`),
so the whole expression evaluates to NULL with a processing-log entry, as ksqlDB's does.
REDUCE over a map is refused by the compiler: ksqlDB visits a map's entries in Java `HashMap`
order, which depends on the table size the map was built with (the JSON decoder sizes it by
the entry count, TRANSFORM's collector does not), so a non-commutative reduction cannot be
reproduced from the entries alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.ksql.errors import KsqlProcessingError

__all__ = [
    "filter_array",
    "filter_map",
    "reduce_array",
    "transform_array",
    "transform_map",
]

Row = Sequence[Any]
Body = Callable[[Row], Any]
Cell = list[Any]


def transform_array(items: list[Any], cell: Cell, body: Body, row: Row) -> list[Any]:
    out = []
    for x in items:
        cell[0] = x
        out.append(body(row))
    return out


def _put_unique(out: dict[Any, Any], k: Any, v: Any) -> None:
    if v is None:
        raise KsqlProcessingError("a lambda gave a NULL map value (not allowed by ksqlDB)")
    if k in out:
        raise KsqlProcessingError(f"Duplicate key {k} (attempted merging values)")
    out[k] = v


def transform_map(
    m: dict[Any, Any],
    kcells: tuple[Cell, Cell],
    kbody: Body,
    vcells: tuple[Cell, Cell],
    vbody: Body,
    row: Row,
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in m.items():
        kcells[0][0], kcells[1][0] = k, v
        nk = kbody(row)
        vcells[0][0], vcells[1][0] = k, v
        _put_unique(out, nk, vbody(row))
    return out


def _test(pred: Body, row: Row) -> bool:
    ok = pred(row)
    if ok is None:
        raise KsqlProcessingError("a FILTER lambda gave NULL instead of a boolean")
    return bool(ok)


def filter_array(items: list[Any], cell: Cell, pred: Body, row: Row) -> list[Any]:
    out = []
    for x in items:
        cell[0] = x
        if _test(pred, row):
            out.append(x)
    return out


def filter_map(m: dict[Any, Any], cells: tuple[Cell, Cell], pred: Body, row: Row) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in m.items():
        cells[0][0], cells[1][0] = k, v
        if _test(pred, row):
            _put_unique(out, k, v)
    return out


def reduce_array(
    items: list[Any], state: Any, cells: tuple[Cell, Cell], body: Body, row: Row
) -> Any:
    for x in items:
        cells[0][0], cells[1][0] = state, x
        state = body(row)
    return state
