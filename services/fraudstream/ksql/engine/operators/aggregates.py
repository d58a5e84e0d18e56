"""The aggregate functions: init / add / result / undo over an accumulator.

`undo` retracts a row (a table aggregation sees the old row of an updated key leave its
group); functions that cannot retract (MIN, MAX, *_BY_OFFSET, TOPK) raise on undo.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fraudstream.ksql.engine.expressions import Compiled, wrap_int, wrap_long
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import types as T

__all__ = ["Aggregator", "make_aggregator"]


@dataclass
class Aggregator:
    type: T.SqlType
    init: Callable[[], Any]
    add: Callable[[Any, Sequence[Any]], Any]
    result: Callable[[Any], Any]
    undo: Callable[[Any, Sequence[Any]], Any]


def _no_undo(name: str) -> Callable[[Any, Sequence[Any]], Any]:
    def undo(st: Any, row: Sequence[Any]) -> Any:
        raise KsqlProcessingError(f"{name} cannot be undone for table aggregations")

    return undo


def _adder(t: T.SqlType) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """Add/subtract for a SUM/AVG accumulator: DECIMALs in the engine's own decimal context."""
    if t.base == T.DECIMAL:
        return T.DECIMAL_CONTEXT.add, T.DECIMAL_CONTEXT.subtract
    return operator.add, operator.sub


def _count(args: list[Compiled], star: bool) -> Aggregator:
    if star or not args:
        return Aggregator(
            T.T_BIGINT, lambda: 0, lambda s, r: s + 1, lambda s: s, lambda s, r: s - 1
        )
    f = args[0].fn
    return Aggregator(
        T.T_BIGINT,
        lambda: 0,
        lambda s, r: s + (f(r) is not None),
        lambda s: s,
        lambda s, r: s - (f(r) is not None),
    )


def _sum(name: str, args: list[Compiled]) -> Aggregator:
    f, t = args[0].fn, args[0].type
    if not t.is_numeric:
        raise KsqlStatementError(f"Function 'SUM' does not accept parameters ({t}).")
    zero: Any = (
        0.0 if t.base == T.DOUBLE else (Decimal(0).scaleb(-t.scale) if t.base == T.DECIMAL else 0)
    )
    wrap = wrap_int if t.base == T.INTEGER else wrap_long if t.base == T.BIGINT else (lambda v: v)
    add, sub = _adder(t)

    def sadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        return s if v is None else wrap(add(s, v))

    def sundo(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        return s if v is None else wrap(sub(s, v))

    return Aggregator(t, lambda: zero, sadd, lambda s: s, sundo)


def _avg(name: str, args: list[Compiled]) -> Aggregator:
    f, t = args[0].fn, args[0].type
    if not t.is_numeric:
        raise KsqlStatementError(f"Function 'AVG' does not accept parameters ({t}).")
    avg_add, avg_sub = _adder(t)

    def aadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        return s if v is None else (avg_add(s[0], v), s[1] + 1)

    def aundo(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        return s if v is None else (avg_sub(s[0], v), s[1] - 1)

    def ares(s: Any) -> Any:
        return None if s[1] == 0 else float(s[0]) / s[1]

    return Aggregator(T.T_DOUBLE, lambda: (0, 0), aadd, ares, aundo)


def _min_max(name: str, args: list[Compiled]) -> Aggregator:
    f, t = args[0].fn, args[0].type
    pick = min if name == "MIN" else max

    def madd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v is None:
            return s
        return v if s is None else pick(s, v)

    return Aggregator(t, lambda: None, madd, lambda s: s, _no_undo(name))


def _literal_param(name: str, args: list[Compiled], i: int, expr: str) -> Any:
    if not args[i].const:
        raise KsqlStatementError(
            f"Parameter {i + 1} passed to function {name} must be a literal constant, but was "
            f"expression: '{expr}'"
        )
    return args[i].value


def _by_offset(name: str, args: list[Compiled], texts: Sequence[str] = ()) -> Aggregator:
    """EARLIEST_BY_OFFSET / LATEST_BY_OFFSET (col [, n] [, ignoreNulls]): the first / last
    value by offset, or (with n) an array of the first / last n values."""
    f, t = args[0].fn, args[0].type
    latest = name == "LATEST_BY_OFFSET"
    params = [
        _literal_param(name, args, i, texts[i] if i < len(texts) else "?")
        for i in range(1, len(args))
    ]
    if len(params) > 2 or any(p is not None and not isinstance(p, int) for p in params):
        shown = ", ".join(str(a.type) for a in args)
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({shown}).")
    n: int | None = None
    ignore_nulls = True
    if params and isinstance(params[-1], bool):
        ignore_nulls = params.pop()
    if params:
        n = int(params[0])
        if n <= 0:
            raise KsqlStatementError(f"{name} must have a positive value for n, was {n}")
    if n is not None:
        count = n

        def nadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if v is None and ignore_nulls:
                return s
            if latest:
                return [*s, v][-count:]
            return s if len(s) >= count else [*s, v]

        return Aggregator(T.array_of(t), list, nadd, lambda s: list(s), _no_undo(name))

    def ladd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v is None and ignore_nulls:
            return s
        if latest:
            return (v,)
        return s if s is not None else (v,)

    return Aggregator(t, lambda: None, ladd, lambda s: None if s is None else s[0], _no_undo(name))


def _collect(name: str, args: list[Compiled], limit: int | None = None) -> Aggregator:
    """COLLECT_LIST / COLLECT_SET; `limit` (ksql.functions.collect_list|set.limit) caps the
    collection: later values are ignored once it is full, as ksqlDB does."""
    f, t = args[0].fn, args[0].type
    uniq = name == "COLLECT_SET"
    cap = limit if limit is not None and limit >= 0 else None

    def cadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if uniq and v in s:
            return s
        if cap is not None and len(s) >= cap:
            return s
        return [*s, v]

    def cundo(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        out = list(s)
        if v in out:
            out.remove(v)
        return out

    return Aggregator(T.array_of(t), list, cadd, lambda s: list(s), cundo)


def _sum_list(name: str, args: list[Compiled]) -> Aggregator:
    f, t = args[0].fn, args[0].type
    if t.base != T.ARRAY or t.item is None or not t.item.is_numeric:
        raise KsqlStatementError(f"Function 'SUM_LIST' does not accept parameters ({t}).")
    lzero: Any = 0.0 if t.item.base == T.DOUBLE else 0

    def ladd_list(s: Any, r: Sequence[Any]) -> Any:
        xs = f(r)
        return s if xs is None else s + sum(x for x in xs if x is not None)

    def lundo_list(s: Any, r: Sequence[Any]) -> Any:
        xs = f(r)
        return s if xs is None else s - sum(x for x in xs if x is not None)

    return Aggregator(t.item, lambda: lzero, ladd_list, lambda s: s, lundo_list)


def _sort_key(t: T.SqlType) -> Callable[[Any], Any]:
    """Java's `compareTo` order of a TOPK sort value (strings by UTF-16 code units)."""
    if t.base == T.STRING:
        return lambda v: v.encode("utf-16-be")
    return lambda v: v


def _topk(name: str, args: list[Compiled]) -> Aggregator:
    """TOPK(col, [other columns...,] k) / TOPKDISTINCT(col, k): the k greatest values, ties
    in arrival order (ksqlDB's stable sort); with other columns, an array of structs
    `sort_col`, `col0`, `col1`... holding the sort value and that record's other columns."""
    f, t = args[0].fn, args[0].type
    if len(args) < 2 or not args[-1].const or not isinstance(args[-1].value, int):
        raise KsqlStatementError(f"Function '{name}' does not accept parameters.")
    distinct = name == "TOPKDISTINCT"
    if distinct and len(args) > 2:
        raise KsqlStatementError(f"Function '{name}' does not accept parameters.")
    k = int(args[-1].value)
    key = _sort_key(t)
    others = [a.fn for a in args[1:-1]]
    if others:
        fields = [("sort_col", t)] + [(f"col{i}", a.type) for i, a in enumerate(args[1:-1])]
        st = T.struct_of(fields)
        names = [n for n, _ in fields]

        def sadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if v is None:
                return s
            row = dict(zip(names, [v, *(g(r) for g in others)], strict=True))
            return sorted([*s, row], key=lambda e: key(e["sort_col"]), reverse=True)[:k]

        return Aggregator(T.array_of(st), list, sadd, lambda s: list(s), _no_undo(name))

    def tadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v is None or (distinct and v in s):
            return s
        return sorted([*s, v], key=key, reverse=True)[:k]

    return Aggregator(T.array_of(t), list, tadd, lambda s: list(s), _no_undo(name))


def _java_div(a: float, b: float) -> float:
    """IEEE division as Java does it (x/0 is infinite, 0/0 NaN)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _correlation(name: str, args: list[Compiled]) -> Aggregator:
    """CORRELATION(x, y): Pearson's r by ksqlDB's single-pass sums (x, y, x², y², xy, n);
    a pair with a NULL is skipped; the result is NaN until it is defined, as in ksqlDB."""
    if (
        len(args) != 2
        or args[0].type.base not in (T.INTEGER, T.BIGINT, T.DOUBLE)
        or args[0].type != args[1].type
    ):
        shown = ", ".join(str(a.type) for a in args)
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({shown}).")
    fx, fy = args[0].fn, args[1].fn

    def step(s: Any, r: Sequence[Any], sign: int) -> Any:
        x, y = fx(r), fy(r)
        if x is None or y is None:
            return s
        x, y = float(x), float(y)
        sx, sy, sxx, syy, sxy, n = s
        return (
            sx + sign * x,
            sy + sign * y,
            sxx + sign * (x * x),
            syy + sign * (y * y),
            sxy + sign * (x * y),
            n + sign,
        )

    def result(s: Any) -> float:
        sx, sy, sxx, syy, sxy, n = s
        num = n * sxy - sx * sy
        den_x = n * sxx - sx * sx
        den_y = n * syy - sy * sy
        prod = den_x * den_y
        den = math.sqrt(prod) if prod >= 0 else math.nan
        return _java_div(num, den)

    return Aggregator(
        T.T_DOUBLE,
        lambda: (0.0, 0.0, 0.0, 0.0, 0.0, 0),
        lambda s, r: step(s, r, 1),
        result,
        lambda s, r: step(s, r, -1),
    )


def _attr(name: str, args: list[Compiled]) -> Aggregator:
    """ATTR(col): the value when every row of the group holds the same one (NULL included as
    a value), else NULL; ksqlDB keeps (value, count) entries so retractions are exact."""
    if len(args) != 1:
        shown = ", ".join(str(a.type) for a in args)
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({shown}).")
    f = args[0].fn

    def update(s: Any, v: Any, delta: int) -> Any:
        out = list(s)
        for i, (value, count) in enumerate(out):
            if value == v:
                out[i] = (value, max(0, count + delta))
                return out
        if delta > 0:
            out.append((v, delta))
        return out

    def result(s: Any) -> Any:
        live = [value for value, count in s if count > 0]
        return live[0] if len(live) == 1 else None

    return Aggregator(
        args[0].type,
        list,
        lambda s, r: update(s, f(r), 1),
        result,
        lambda s, r: update(s, f(r), -1),
    )


_HISTOGRAM_LIMIT = 1000


def _histogram(name: str, args: list[Compiled]) -> Aggregator:
    """HISTOGRAM(string): value -> count, at most 1000 distinct values (later new values are
    ignored); a retraction removes a value whose count drops to zero."""
    if len(args) != 1 or args[0].type.base != T.STRING:
        shown = ", ".join(str(a.type) for a in args)
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({shown}).")
    f = args[0].fn

    def hadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if len(s) >= _HISTOGRAM_LIMIT and v not in s:
            return s
        return {**s, v: s.get(v, 0) + 1}

    def hundo(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v not in s:
            return s
        out = dict(s)
        if out[v] <= 1:
            del out[v]
        else:
            out[v] -= 1
        return out

    return Aggregator(T.map_of(T.T_STRING, T.T_BIGINT), dict, hadd, lambda s: dict(s), hundo)


def _stddev(name: str, args: list[Compiled]) -> Aggregator:
    """STDDEV_SAMPLE (sample standard deviation) and STDDEV_SAMP, which in ksqlDB returns the
    sample *variance*; both keep (count, sum, m2) with the Youngs-Cramer update, as ksqlDB."""
    f, t = args[0].fn, args[0].type
    if t.base not in (T.INTEGER, T.BIGINT, T.DOUBLE):
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ({t}).")
    root = name == "STDDEV_SAMPLE"

    def sadd(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v is None:
            return s
        n, total, m2 = s
        x = float(v)
        n1, total1 = n + 1, total + x
        if n > 0:
            m2 += (n1 * x - total1) ** 2 / (n1 * n)
        return (n1, total1, m2)

    def sundo(s: Any, r: Sequence[Any]) -> Any:
        v = f(r)
        if v is None or s[0] == 0:
            return s
        n, total, m2 = s
        x = float(v)
        if n > 1:
            m2 -= (n * x - total) ** 2 / (n * (n - 1))
        return (n - 1, total - x, m2 if n > 1 else 0.0)

    def sres(s: Any) -> Any:
        n, _, m2 = s
        var = m2 / (n - 1) if n > 1 else 0.0
        return var**0.5 if root else var

    return Aggregator(T.T_DOUBLE, lambda: (0, 0.0, 0.0), sadd, sres, sundo)


_BUILDERS: dict[str, Callable[[str, list[Compiled]], Aggregator]] = {
    "STDDEV_SAMPLE": _stddev,
    "STDDEV_SAMP": _stddev,
    "SUM": _sum,
    "AVG": _avg,
    "MIN": _min_max,
    "MAX": _min_max,
    "LATEST_BY_OFFSET": _by_offset,
    "EARLIEST_BY_OFFSET": _by_offset,
    "COLLECT_LIST": _collect,
    "COLLECT_SET": _collect,
    "SUM_LIST": _sum_list,
    "TOPK": _topk,
    "TOPKDISTINCT": _topk,
    "CORRELATION": _correlation,
    "HISTOGRAM": _histogram,
    "ATTR": _attr,
}


def make_aggregator(
    name: str,
    args: list[Compiled],
    star: bool,
    table: bool,
    *,
    texts: Sequence[str] = (),
    properties: Mapping[str, Any] | None = None,
) -> Aggregator:
    """The aggregator for one call `name(args)` (`star`: COUNT(*); `texts`: the argument
    expressions as written, for messages; `properties`: the query's config)."""
    if name == "COUNT":
        return _count(args, star)
    if not args:
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ().")
    if name in ("COLLECT_LIST", "COLLECT_SET"):
        raw = (properties or {}).get(f"ksql.functions.{name.lower()}.limit")
        return _collect(name, args, None if raw is None else int(raw))
    if name in ("EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET"):
        return _by_offset(name, args, texts)
    build = _BUILDERS.get(name)
    if build is None:
        raise KsqlUnsupportedError(
            f"Aggregate function {name} is not supported by the embedded engine"
        )
    return build(name, args)
