"""Table functions (UDTFs): EXPLODE and CUBE_EXPLODE, resolved at plan time.

A table function turns one row into zero or more: the planner evaluates each call's
arguments, the function returns a list, and `operators.flatmap` zips the lists of all the
calls of one SELECT (shorter ones padded with NULL, KLIP-9). ksqlDB's rules: a NULL array
gives no rows; CUBE_EXPLODE emits every combination of its columns NULLed out, skipping the
logical duplicates a NULL column would create, for at most 20 columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = ["TABLE_FUNCTIONS", "TableFunction", "cube", "explode", "resolve"]

TABLE_FUNCTIONS = frozenset({"EXPLODE", "CUBE_EXPLODE"})
_CUBE_MAX_COLUMNS = 20


@dataclass(frozen=True)
class TableFunction:
    """A resolved call: the type of each produced value and the list-producing callable."""

    type: T.SqlType
    apply: Callable[[Any], list[Any]]


def explode(items: list[Any] | None) -> list[Any]:
    return [] if items is None else items


def cube(columns: list[Any] | None) -> list[list[Any]]:
    """Every combination of `columns` with some NULLed, in ksqlDB's order (bitmask 0..2^n-1,
    the first column the most significant bit); a combination that would NULL an already
    NULL column is a duplicate and is skipped."""
    if columns is None:
        return []
    n = len(columns)
    if n > _CUBE_MAX_COLUMNS:
        raise KsqlProcessingError(
            f"cube_explode: too many columns ({n}); max is {_CUBE_MAX_COLUMNS}"
        )
    present = 0
    for i, v in enumerate(columns):
        if v is not None:
            present |= 1 << (n - 1 - i)
    out = []
    for mask in range(1 << n):
        if mask & present != mask:
            continue
        out.append([columns[i] if mask & (1 << (n - 1 - i)) else None for i in range(n)])
    return out


def resolve(name: str, types: list[T.SqlType]) -> TableFunction:
    """The element type and callable of `name(types...)`, or ksqlDB's statement error."""
    if len(types) == 1 and types[0].base == T.ARRAY and types[0].item is not None:
        item = types[0].item
        if name == "EXPLODE":
            return TableFunction(item, explode)
        return TableFunction(T.array_of(item), cube)
    shown = ", ".join(str(t) for t in types)
    if name == "EXPLODE":
        alternatives = "explode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)"
    else:
        alternatives = "cube_explode(ARRAY<T> columns)"
    raise KsqlStatementError(
        f"Function '{name.lower()}' does not accept parameters ({shown}).\n"
        f"Valid alternatives are:\n{alternatives}"
    )
