"""Array UDFs (ARRAY_DISTINCT ... SLICE): ksqlDB's semantics for NULL arrays and elements.

Registered into the scalar-function registry of `functions` on import (that module imports
this one last). Set operations keep the first occurrence's order, as ksqlDB's do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

__all__ = ["array_text"]

_ESCAPES = re.compile(r"(?:\\[uU][0-9a-fA-F]{4})+")


def _arrays(name: str, types: Sequence[T.SqlType], n: int) -> T.SqlType:
    """The element type of `n` array arguments (NULL-typed ones take the others')."""
    if len(types) != n:
        raise bad_args(name, types)
    items = [t.item for t in types if t.base == T.ARRAY and t.item is not None]
    if len(items) + sum(t.base == T.NULL for t in types) != n or not items:
        raise bad_args(name, types)
    first = items[0]
    for it in items[1:]:
        if it != first:
            raise bad_args(name, types)
    return first


def _distinct(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


@register("ARRAY_DISTINCT")
def _array_distinct(types: list[T.SqlType]) -> Resolved:
    it = _arrays("ARRAY_DISTINCT", types, 1)
    return Resolved(T.array_of(it), _distinct)


def _set_op(name: str, op: Callable[[list[Any], list[Any]], list[Any]]) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        it = _arrays(name, types, 2)
        return Resolved(T.array_of(it), op)

    register(name)(resolver)


_set_op("ARRAY_EXCEPT", lambda a, b: [v for v in _distinct(a) if v not in b])
_set_op("ARRAY_INTERSECT", lambda a, b: [v for v in _distinct(a) if v in b])
_set_op("ARRAY_UNION", lambda a, b: _distinct([*a, *b]))


@register("ARRAY_CONCAT")
def _array_concat(types: list[T.SqlType]) -> Resolved:
    it = _arrays("ARRAY_CONCAT", types, 2)

    def impl(a: list[Any] | None, b: list[Any] | None) -> list[Any] | None:
        if a is None:
            return b
        if b is None:
            return a
        return [*a, *b]

    return Resolved(T.array_of(it), impl, null_safe=False)


@register("ARRAY_REMOVE")
def _array_remove(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2 or types[0].base != T.ARRAY or types[0].item is None:
        raise bad_args("ARRAY_REMOVE", types)
    it = types[0].item

    def impl(a: list[Any] | None, v: Any) -> list[Any] | None:
        return None if a is None else [x for x in a if x != v]

    return Resolved(T.array_of(it), impl, null_safe=False)


@register("ARRAY_CONTAINS")
def _array_contains(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2 or types[0].base != T.ARRAY:
        raise bad_args("ARRAY_CONTAINS", types)

    def impl(a: list[Any] | None, v: Any) -> bool:
        return a is not None and v in a

    return Resolved(T.T_BOOLEAN, impl, null_safe=False)


def _comparable(it: T.SqlType, name: str, types: Sequence[T.SqlType]) -> None:
    if not (it.is_primitive and it.base != T.BYTES):
        raise bad_args(name, types)


def _extreme(name: str, pick: Callable[..., Any]) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        it = _arrays(name, types, 1)
        _comparable(it, name, types)

        def impl(a: list[Any]) -> Any:
            present = [x for x in a if x is not None]
            return pick(present) if present else None

        return Resolved(it, impl)

    register(name)(resolver)


_extreme("ARRAY_MAX", max)
_extreme("ARRAY_MIN", min)


@register("ARRAY_SORT")
def _array_sort(types: list[T.SqlType]) -> Resolved:
    if len(types) not in (1, 2):
        raise bad_args("ARRAY_SORT", types)
    it = _arrays("ARRAY_SORT", types[:1], 1)
    _comparable(it, "ARRAY_SORT", types)

    def impl(a: list[Any], direction: str = "ASC") -> list[Any] | None:
        d = direction.upper()
        if d not in ("ASC", "DESC"):
            return None
        present = sorted((x for x in a if x is not None), reverse=d == "DESC")
        return present + [None] * (len(a) - len(present))  # NULLs last either way

    return Resolved(T.array_of(it), impl)


def array_text(v: Any) -> str:
    """An element as ARRAY_JOIN writes it (Java's String.valueOf)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return T.java_double_str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


@register("ARRAY_JOIN")
def _array_join(types: list[T.SqlType]) -> Resolved:
    if len(types) not in (1, 2):
        raise bad_args("ARRAY_JOIN", types)
    it = _arrays("ARRAY_JOIN", types[:1], 1)
    if not it.is_primitive:
        raise bad_args("ARRAY_JOIN", types)

    def impl(a: list[Any] | None, delim: str | None = ",") -> str | None:
        if a is None:
            return None
        return ("" if delim is None else delim).join(array_text(x) for x in a)

    return Resolved(T.T_STRING, impl, null_safe=False)


@register("SLICE")
def _slice(types: list[T.SqlType]) -> Resolved:
    if len(types) != 3 or types[0].base != T.ARRAY or types[0].item is None:
        raise bad_args("SLICE", types)

    def impl(a: list[Any], start: int, end: int) -> list[Any]:
        # 1-based, both ends inclusive
        return a[max(start - 1, 0) : max(end, 0)]

    return Resolved(types[0], impl)


@register("CHR")
def _chr(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.INTEGER, T.STRING):
        raise bad_args("CHR", types)
    if types[0].base == T.INTEGER:

        def from_code(n: int) -> str | None:
            try:
                return chr(n)
            except (ValueError, OverflowError):
                return None

        return Resolved(T.T_STRING, from_code)

    def from_escape(s: str) -> str | None:
        # '\\u597d' or a surrogate pair '\\ud820\\udeb8' (Java unicode escapes) -> the text
        if not _ESCAPES.fullmatch(s):
            return None
        units = bytes.fromhex("".join(s[i + 2 : i + 6] for i in range(0, len(s), 6)))
        try:
            return units.decode("utf-16-be")
        except UnicodeDecodeError:
            return None

    return Resolved(T.T_STRING, from_escape)


@register("GENERATE_SERIES")
def _generate_series(types: list[T.SqlType]) -> Resolved:
    """GENERATE_SERIES(start, end[, step]): INT bounds give ARRAY<INT>, a BIGINT one
    ARRAY<BIGINT>; the step is an INT, its sign must lead from start to end (ksqlDB's
    errors otherwise), the end is included when the step lands on it."""
    if len(types) not in (2, 3) or any(t.base not in (T.INTEGER, T.BIGINT) for t in types[:2]):
        raise bad_args("GENERATE_SERIES", types)
    if len(types) == 3 and types[2].base != T.INTEGER:
        raise bad_args("GENERATE_SERIES", types)
    rt = T.T_BIGINT if T.BIGINT in (types[0].base, types[1].base) else T.T_INTEGER

    def impl(start: int, end: int, step: int | None = None) -> list[int]:
        diff = end - start
        if step is None:
            step = 1 if diff > 0 else -1
        if step == 0:
            raise KsqlProcessingError("GENERATE_SERIES step cannot be zero")
        if (diff > 0 and step < 0) or (diff < 0 and step > 0):
            raise KsqlProcessingError("GENERATE_SERIES step has wrong sign")
        return list(range(start, end + (1 if step > 0 else -1), step))

    return Resolved(T.array_of(rt), impl)
