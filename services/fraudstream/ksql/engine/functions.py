"""Scalar functions (UDFs): type resolution at plan time, a plain Python callable at run time.

Each entry resolves the argument types once per query and returns (return type, callable);
unless a function says otherwise, a NULL argument gives a NULL result without calling it
(ksqlDB's UDFs behave this way for the functions implemented here).
"""

from __future__ import annotations

import json
import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

from fraudstream.ksql.engine.temporal import parse_temporal
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import types as T

Impl = Callable[..., Any]


UNKNOWN = object()
"""An argument value not known when the statement is planned (not a constant)."""


@dataclass
class Resolved:
    type: T.SqlType
    impl: Impl
    null_safe: bool = True  # True: NULL in any argument -> NULL, impl never sees None
    # called at plan time with the constant arguments (UNKNOWN for others): refuses what
    # the engine cannot compute (e.g. a date-time pattern) before any record is processed
    check: Callable[[list[Any]], None] | None = None


Resolver = Callable[[list[T.SqlType]], Resolved]
_REGISTRY: dict[str, Resolver] = {}


def register(*names: str) -> Callable[[Resolver], Resolver]:
    def deco(fn: Resolver) -> Resolver:
        for n in names:
            _REGISTRY[n] = fn
        return fn

    return deco


def is_known(name: str) -> bool:
    return name in _REGISTRY


def resolve(name: str, arg_types: list[T.SqlType]) -> Resolved:
    fn = _REGISTRY.get(name)
    if fn is None:
        raise KsqlStatementError(f"Can't find any functions with the name '{name}'")
    return fn(arg_types)


def bad_args(name: str, types: Sequence[T.SqlType]) -> KsqlStatementError:
    """ksqlDB's "Function 'X' does not accept parameters (...)" error."""
    return _bad_args(name, types)


def _bad_args(name: str, types: Sequence[T.SqlType]) -> KsqlStatementError:
    shown = ", ".join(str(t) for t in types)
    return KsqlStatementError(f"Function '{name}' does not accept parameters ({shown}).")


def _expect(name: str, types: list[T.SqlType], *allowed: Sequence[str]) -> None:
    if len(types) != len(allowed):
        raise _bad_args(name, types)
    for t, ok in zip(types, allowed, strict=True):
        if t.base != T.NULL and t.base not in ok:
            raise _bad_args(name, types)


_STR = (T.STRING,)
_INTS = (T.INTEGER, T.BIGINT)
_NUM = (T.INTEGER, T.BIGINT, T.DOUBLE, T.DECIMAL)

# ----------------------------------------------------------------------------- MASK family


def _mask_char(
    c: str, upper: str | None, lower: str | None, digit: str | None, other: str | None
) -> str:
    cat = unicodedata.category(c)
    if cat == "Lu":
        return c if upper is None else upper
    if cat == "Ll":
        return c if lower is None else lower
    if cat == "Nd":
        return c if digit is None else digit
    return c if other is None else other


_DEFAULT_MASK = ("X", "x", "n", "-")


def _mask_table(chars: tuple[str | None, ...]) -> Callable[[str], str]:
    up, lo, di, ot = chars
    if chars == _DEFAULT_MASK:
        # fast path for ASCII input (the common case): a translation table
        table = {}
        for o in range(128):
            table[o] = _mask_char(chr(o), up, lo, di, ot)
        trans = str.maketrans(table)

        def fast(s: str) -> str:
            if s.isascii():
                return s.translate(trans)
            return "".join(_mask_char(c, up, lo, di, ot) for c in s)

        return fast

    def slow(s: str) -> str:
        return "".join(_mask_char(c, up, lo, di, ot) for c in s)

    return slow


_DEFAULT_MASKER = _mask_table(_DEFAULT_MASK)


def mask_left(s: str, n: int) -> str:
    """`MASK_LEFT(s, n)` with the default mask characters: THE implementation, also used by
    the scorer's JSON input so a user id it writes equals the one KSQL writes."""
    if n < 0:
        raise KsqlProcessingError(
            "function MASK_LEFT requires a non-negative number of characters to mask or skip"
        )
    return _DEFAULT_MASKER(s[:n]) + s[n:]


def _mask_chars(name: str, vals: Sequence[Any]) -> tuple[str | None, ...]:
    out: list[str | None] = []
    for v in vals:
        if v is not None and len(v) != 1:
            raise KsqlProcessingError(
                f"Invalid mask character. Must be only single character, but was '{v}'"
            )
        out.append(v)
    return tuple(out)


def _mask_resolver(name: str, with_count: bool) -> Resolver:
    def resolver(types: list[T.SqlType]) -> Resolved:
        n_fixed = 2 if with_count else 1
        if len(types) not in (n_fixed, n_fixed + 4):
            raise _bad_args(name, types)
        if types[0].base not in (T.STRING, T.NULL):
            raise _bad_args(name, types)
        if with_count and types[1].base not in (T.INTEGER, T.NULL):
            raise _bad_args(name, types)
        default = _DEFAULT_MASKER
        cache: dict[tuple[str | None, ...], Callable[[str], str]] = {_DEFAULT_MASK: default}

        def masker_for(extra: Sequence[Any]) -> Callable[[str], str]:
            if not extra:
                return default
            key = _mask_chars(name, extra)
            m = cache.get(key)
            if m is None:
                m = cache[key] = _mask_table(key)
            return m

        def impl(s: Any, *rest: Any) -> Any:
            if s is None:
                return None
            if with_count:
                n = rest[0]
                if n is None:
                    return None
                if n < 0:
                    raise KsqlProcessingError(
                        f"function {name} requires a non-negative number of characters to"
                        " mask or skip"
                    )
                if name == "MASK_LEFT" and len(rest) == 1:
                    return mask_left(s, n)
                m = masker_for(rest[1:])
                if name == "MASK_LEFT":
                    return m(s[:n]) + s[n:]
                if name == "MASK_RIGHT":
                    return s[: max(len(s) - n, 0)] + m(s[max(len(s) - n, 0) :])
                if name == "MASK_KEEP_LEFT":
                    return s[:n] + m(s[n:])
                # MASK_KEEP_RIGHT
                cut = max(len(s) - n, 0)
                return m(s[:cut]) + s[cut:]
            return masker_for(rest)(s)

        return Resolved(T.T_STRING, impl, null_safe=False)

    return resolver


for _n, _c in (
    ("MASK", False),
    ("MASK_LEFT", True),
    ("MASK_RIGHT", True),
    ("MASK_KEEP_LEFT", True),
    ("MASK_KEEP_RIGHT", True),
):
    _REGISTRY[_n] = _mask_resolver(_n, _c)

# ----------------------------------------------------------------------------- null handling


def common_type(name: str, types: list[T.SqlType]) -> T.SqlType:
    """The type all arguments can be widened to (for COALESCE/IFNULL/CASE/IN/GREATEST)."""
    known = [t for t in types if t.base != T.NULL]
    if not known:
        return T.T_NULL
    out = known[0]
    for t in known[1:]:
        if t == out:
            continue
        if t.is_numeric and out.is_numeric:
            out = T.wider_numeric(out, t)
            continue
        raise _bad_args(name, types)
    return out


@register("IFNULL")
def _ifnull(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2:
        raise _bad_args("IFNULL", types)
    rt = types[0] if types[0].base != T.NULL else types[1]
    if (
        types[0].base != T.NULL
        and types[1].base != T.NULL
        and not T.can_implicitly_cast(types[1], types[0])
    ):
        raise _bad_args("IFNULL", types)
    return Resolved(rt, lambda a, b: b if a is None else a, null_safe=False)


@register("COALESCE")
def _coalesce(types: list[T.SqlType]) -> Resolved:
    if not types:
        raise KsqlStatementError("Function 'COALESCE' does not accept parameters ()")
    rt = types[0]
    if rt.base == T.NULL:
        rt = next((t for t in types if t.base != T.NULL), T.T_NULL)
    for t in types:
        if t.base != T.NULL and t != rt and not (t.is_numeric and rt.is_numeric):
            raise _bad_args("COALESCE", types)

    def impl(*vals: Any) -> Any:
        for v in vals:
            if v is not None:
                return v
        return None

    return Resolved(rt, impl, null_safe=False)


@register("NULLIF")
def _nullif(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2:
        raise _bad_args("NULLIF", types)
    return Resolved(types[0], lambda a, b: None if a == b else a, null_safe=False)


# ----------------------------------------------------------------------------- strings


@register("CONCAT")
def _concat(types: list[T.SqlType]) -> Resolved:
    if not types:
        raise _bad_args("CONCAT", types)
    if all(t.base in (T.STRING, T.NULL) for t in types):
        return Resolved(
            T.T_STRING, lambda *v: "".join(x for x in v if x is not None), null_safe=False
        )
    if all(t.base in (T.BYTES, T.NULL) for t in types):
        return Resolved(
            T.T_BYTES, lambda *v: b"".join(x for x in v if x is not None), null_safe=False
        )
    raise _bad_args("CONCAT", types)


@register("CONCAT_WS")
def _concat_ws(types: list[T.SqlType]) -> Resolved:
    if len(types) >= 2 and all(t.base in (T.BYTES, T.NULL) for t in types):

        def impl_bytes(sep: Any, *vals: Any) -> Any:
            if sep is None:
                return None
            return sep.join(v for v in vals if v is not None)

        return Resolved(T.T_BYTES, impl_bytes, null_safe=False)
    if len(types) < 2 or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise _bad_args("CONCAT_WS", types)

    def impl(sep: Any, *vals: Any) -> Any:
        if sep is None:
            return None
        return sep.join(v for v in vals if v is not None)

    return Resolved(T.T_STRING, impl, null_safe=False)


def _simple(name: str, arg_bases: Sequence[Sequence[str]], rt: T.SqlType, impl: Impl) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        _expect(name, types, *arg_bases)
        return Resolved(rt, impl)

    _REGISTRY[name] = resolver


_simple("LCASE", [_STR], T.T_STRING, lambda s: s.lower())
_simple("UCASE", [_STR], T.T_STRING, lambda s: s.upper())
_simple("TRIM", [_STR], T.T_STRING, lambda s: s.strip(" \t\n\r\x0b\x0c"))
_simple("LTRIM", [_STR], T.T_STRING, lambda s: s.lstrip(" \t\n\r\x0b\x0c"))
_simple("RTRIM", [_STR], T.T_STRING, lambda s: s.rstrip(" \t\n\r\x0b\x0c"))
_simple("REPLACE", [_STR, _STR, _STR], T.T_STRING, lambda s, a, b: s.replace(a, b))
_simple("INITCAP", [_STR], T.T_STRING, lambda s: " ".join(w.capitalize() for w in s.split(" ")))


@register("LEN", "LENGTH")
def _len(types: list[T.SqlType]) -> Resolved:
    _expect("LEN", types, (T.STRING, T.BYTES))
    return Resolved(T.T_INTEGER, len)


def _java_substring(s: str, pos: int, length: int | None = None) -> str:
    n = len(s)
    start = pos - 1 if pos > 0 else n + pos
    start = max(0, min(start, n))
    if pos == 0:
        start = 0
    if length is None:
        return s[start:]
    if length < 0:
        return ""
    return s[start : min(n, start + length)]


@register("SUBSTRING")
def _substring(types: list[T.SqlType]) -> Resolved:
    if len(types) == 2:
        _expect("SUBSTRING", types, (T.STRING, T.BYTES), _INTS)
        return Resolved(types[0] if types[0].base != T.NULL else T.T_STRING, _java_substring)
    _expect("SUBSTRING", types, (T.STRING, T.BYTES), _INTS, _INTS)
    return Resolved(types[0] if types[0].base != T.NULL else T.T_STRING, _java_substring)


@register("INSTR")
def _instr(types: list[T.SqlType]) -> Resolved:
    if len(types) == 2:
        _expect("INSTR", types, _STR, _STR)
        return Resolved(T.T_INTEGER, lambda s, sub: s.find(sub) + 1)
    if len(types) in (3, 4):
        _expect("INSTR", types, _STR, _STR, *([_INTS] * (len(types) - 2)))
        return Resolved(T.T_INTEGER, _instr_at)
    raise _bad_args("INSTR", types)


def _instr_at(s: str, sub: str, position: int, occurrence: int = 1) -> int:
    """INSTR(s, sub, position[, occurrence]): the 1-based index of the occurrence-th match
    searching forward from `position`, or backward from the end when it is negative; 0 if
    there is none (ksqlDB's Instr UDF, Java indexOf / lastIndexOf)."""
    if position < 0:
        idx = len(s) + position
        for _ in range(occurrence):
            if idx < 0:
                return 0
            idx = s.rfind(sub, 0, idx + len(sub))
            if idx < 0:
                return 0
            found = idx
            idx -= 1
        return found + 1
    idx = max(position - 1, 0)
    for _ in range(occurrence):
        idx = s.find(sub, idx)
        if idx < 0:
            return 0
        found = idx
        idx += 1
    return found + 1


def _pad(left: bool) -> Resolver:
    def resolver(types: list[T.SqlType]) -> Resolved:
        name = "LPAD" if left else "RPAD"
        is_bytes = len(types) == 3 and T.BYTES in (types[0].base, types[2].base)
        if is_bytes:
            _expect(name, types, (T.BYTES,), _INTS, (T.BYTES,))
        else:
            _expect(name, types, _STR, _INTS, _STR)

        def impl(s: Any, n: int, pad: Any) -> Any:
            if is_bytes and not pad:
                return None
            if n < 0 or (not pad and n > len(s)):
                return None
            if n <= len(s):
                return s[:n]
            fill = (pad * ((n - len(s)) // len(pad) + 1))[: n - len(s)]
            return fill + s if left else s + fill

        return Resolved(T.T_BYTES if is_bytes else T.T_STRING, impl)

    return resolver


_REGISTRY["LPAD"] = _pad(True)
_REGISTRY["RPAD"] = _pad(False)


@register("SPLIT")
def _split(types: list[T.SqlType]) -> Resolved:
    if len(types) == 2 and T.BYTES in (types[0].base, types[1].base):
        _expect("SPLIT", types, (T.BYTES,), (T.BYTES,))

        def split_bytes(b: bytes, d: bytes) -> list[bytes]:
            if d == b"":  # each byte; an empty value splits into one empty value
                return [b[i : i + 1] for i in range(len(b))] or [b""]
            return b.split(d)

        return Resolved(T.array_of(T.T_BYTES), split_bytes)
    _expect("SPLIT", types, _STR, _STR)

    def impl(s: str, d: str) -> list[str]:
        if d == "":
            return list(s) or [""]
        return s.split(d)

    return Resolved(T.array_of(T.T_STRING), impl)


# ----------------------------------------------------------------------------- math


def _num_unary(name: str, fn: Callable[[float], float], rt: T.SqlType | None = None) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        _expect(name, types, _NUM)

        def impl(x: Any) -> Any:
            try:
                return fn(float(x))
            except (ValueError, OverflowError):
                return math.nan

        return Resolved(rt or T.T_DOUBLE, impl)

    _REGISTRY[name] = resolver


def _cbrt(x: float) -> float:
    return math.copysign(abs(x) ** (1.0 / 3.0), x)


def _ln(x: float) -> float:
    if x == 0:
        return -math.inf
    return math.log(x) if x > 0 else math.nan


_num_unary("SQRT", lambda x: math.sqrt(x) if x >= 0 else math.nan)
_num_unary("CBRT", _cbrt)
_num_unary("EXP", math.exp)
_num_unary("LN", _ln)
_num_unary("SIN", math.sin)
_num_unary("COS", math.cos)
_num_unary("TAN", math.tan)
_num_unary("ASIN", lambda x: math.asin(x) if -1 <= x <= 1 else math.nan)
_num_unary("ACOS", lambda x: math.acos(x) if -1 <= x <= 1 else math.nan)
_num_unary("ATAN", math.atan)
_num_unary("SINH", math.sinh)
_num_unary("COSH", math.cosh)
_num_unary("TANH", math.tanh)
_num_unary("COT", lambda x: 1.0 / math.tan(x) if math.tan(x) != 0 else math.inf)
_num_unary("DEGREES", math.degrees)
_num_unary("RADIANS", math.radians)


@register("ATAN2")
def _atan2(types: list[T.SqlType]) -> Resolved:
    _expect("ATAN2", types, _NUM, _NUM)
    return Resolved(T.T_DOUBLE, lambda y, x: math.atan2(float(y), float(x)))


@register("PI")
def _pi(types: list[T.SqlType]) -> Resolved:
    if types:
        raise _bad_args("PI", types)
    return Resolved(T.T_DOUBLE, lambda: math.pi)


@register("RANDOM")
def _random(types: list[T.SqlType]) -> Resolved:
    if types:
        raise _bad_args("RANDOM", types)
    return Resolved(T.T_DOUBLE, random.random)


@register("LOG")
def _log(types: list[T.SqlType]) -> Resolved:
    if len(types) == 1:
        _expect("LOG", types, _NUM)
        return Resolved(T.T_DOUBLE, lambda x: _ln(float(x)))
    _expect("LOG", types, _NUM, _NUM)

    def impl(b: Any, x: Any) -> float:
        b, x = float(b), float(x)
        if b <= 0 or b == 1 or x < 0:
            return math.nan
        if x == 0:
            return -math.inf
        return math.log(x) / math.log(b)

    return Resolved(T.T_DOUBLE, impl)


@register("POWER")
def _power(types: list[T.SqlType]) -> Resolved:
    _expect("POWER", types, _NUM, _NUM)

    def impl(a: Any, b: Any) -> float:
        try:
            return float(a) ** float(b)
        except (ZeroDivisionError, OverflowError):
            return math.inf
        except ValueError:
            return math.nan

    return Resolved(T.T_DOUBLE, impl)


@register("ABS")
def _abs(types: list[T.SqlType]) -> Resolved:
    _expect("ABS", types, _NUM)
    if types[0].base == T.DECIMAL:
        return Resolved(types[0], T.DECIMAL_CONTEXT.abs)
    return Resolved(types[0] if types[0].base != T.NULL else T.T_DOUBLE, abs)


@register("SIGN")
def _sign(types: list[T.SqlType]) -> Resolved:
    _expect("SIGN", types, _NUM)
    return Resolved(T.T_INTEGER, lambda x: (x > 0) - (x < 0))


def _ceil_floor(name: str, fn: Callable[[Any], Any]) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        _expect(name, types, _NUM)
        t = types[0]
        if t.base in (T.INTEGER, T.BIGINT):
            return Resolved(t, lambda x: x)
        if t.base == T.DECIMAL:
            q = T.decimal_quantum(t.scale)
            return Resolved(t, lambda x: Decimal(fn(x)).quantize(q, context=T.DECIMAL_CONTEXT))
        return Resolved(T.T_DOUBLE, lambda x: float(fn(x)) if math.isfinite(x) else x)

    _REGISTRY[name] = resolver


_ceil_floor("CEIL", math.ceil)
_ceil_floor("FLOOR", math.floor)


def _java_round_half_up(x: float, places: int = 0) -> float:
    if not math.isfinite(x):
        return x
    return float(_round_half_ceiling(Decimal(repr(x)), places))


def _round_half_ceiling(d: Decimal, places: int) -> Decimal:
    """ksqlDB rounds half towards positive infinity (Math.round semantics)."""
    ctx = T.DECIMAL_CONTEXT
    q = T.decimal_quantum(places)
    r = ctx.add(d, ctx.divide(q, 2)).quantize(q, rounding=ROUND_FLOOR, context=ctx)
    return ctx.add(r, 0)  # normalise -0


@register("ROUND")
def _round(types: list[T.SqlType]) -> Resolved:
    if len(types) == 1:
        _expect("ROUND", types, _NUM)
        t = types[0]
        if t.base in (T.INTEGER, T.BIGINT):
            return Resolved(t, lambda x: x)
        if t.base == T.DECIMAL:
            rt = T.SqlType(T.DECIMAL, precision=max(t.precision - t.scale, 1), scale=0)
            return Resolved(rt, lambda x: _round_half_ceiling(x, 0))
        # ksqlDB: ROUND(DOUBLE) -> BIGINT, rounding half up (Math.round)
        return Resolved(T.T_BIGINT, lambda x: math.floor(x + 0.5))
    _expect("ROUND", types, _NUM, _INTS)
    t = types[0]
    if t.base in (T.INTEGER, T.BIGINT):
        return Resolved(t, lambda x, p: x if p >= 0 else int(_java_round_half_up(x, p)))
    if t.base == T.DECIMAL:

        def dec(x: Decimal, p: int) -> Decimal:
            return _round_half_ceiling(x, p).quantize(
                T.decimal_quantum(t.scale), context=T.DECIMAL_CONTEXT
            )

        return Resolved(t, dec)
    return Resolved(T.T_DOUBLE, lambda x, p: _java_round_half_up(x, p))


@register("TRUNC")
def _trunc(types: list[T.SqlType]) -> Resolved:
    if len(types) == 1:
        _expect("TRUNC", types, _NUM)
        t = types[0]
        if t.base in (T.INTEGER, T.BIGINT):
            return Resolved(t, lambda x: x)
        if t.base == T.DECIMAL:
            return Resolved(t, lambda x: Decimal(int(x)))
        return Resolved(T.T_BIGINT, lambda x: int(x))
    _expect("TRUNC", types, _NUM, _INTS)
    t = types[0]

    def trunc_to(x: Any, p: int) -> Decimal:
        ctx = T.DECIMAL_CONTEXT
        q = T.decimal_quantum(p)
        d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
        if p >= 0:
            return d.quantize(q, rounding=ROUND_DOWN, context=ctx)
        return ctx.multiply(ctx.divide(d, q).to_integral_value(ROUND_DOWN, context=ctx), q)

    if t.base == T.DECIMAL:
        return Resolved(
            t,
            # plus() turns -0 into 0: BigDecimal has no negative zero
            lambda x, p: T.DECIMAL_CONTEXT.plus(
                trunc_to(x, p).quantize(T.decimal_quantum(t.scale), context=T.DECIMAL_CONTEXT)
            ),
        )
    if t.base == T.DOUBLE:
        return Resolved(T.T_DOUBLE, lambda x, p: float(trunc_to(x, p)) if math.isfinite(x) else x)
    return Resolved(t, lambda x, p: int(trunc_to(x, p)))


_TEMPORAL_PARSERS: dict[str, Callable[[str], int]] = {
    b: parse_temporal(b) for b in (T.DATE, T.TIME, T.TIMESTAMP)
}


def _extreme(name: str, pick: Callable[..., Any]) -> None:
    """GREATEST / LEAST: ksqlDB's variadic overloads (INT..., BIGINT..., DOUBLE..., DECIMAL...,
    STRING..., BYTES..., DATE..., TIME..., TIMESTAMP...) resolved with its implicit casts: a
    mix of numeric types resolves only when one overload is the sole fit (DOUBLE present),
    otherwise it is ambiguous; the UDF is registered in lower case, so messages say so."""
    udf = name.lower()

    def ambiguous(types: list[T.SqlType]) -> KsqlStatementError:
        shown = ", ".join("null" if t.base == T.NULL else str(t) for t in types)
        return KsqlStatementError(
            f"Function '{udf}' cannot be resolved due to ambiguous method parameters ({shown})."
        )

    def resolver(types: list[T.SqlType]) -> Resolved:
        if not types:
            raise _bad_args(udf, types)
        known = [t for t in types if t.base != T.NULL]
        if not known:
            raise ambiguous(types)
        bases = {t.base for t in known}
        convert: Callable[[Any], Any] | None = None
        if len(bases) == 1 and T.DECIMAL in bases:
            digits = max(t.precision - t.scale for t in known)
            scale = max(t.scale for t in known)
            rt = T.decimal_type(digits + scale, scale)
        elif len(bases) == 1:
            rt = known[0]
        elif all(t.is_numeric for t in known) and T.DOUBLE in bases:
            rt = T.T_DOUBLE
            convert = float
        elif all(t.is_numeric for t in known):
            raise ambiguous(types)
        elif len(bases) == 2 and T.STRING in bases and bases & set(_TEMPORAL_PARSERS):
            # a string argument (a literal in practice) is implicitly cast to the temporal type
            rt = next(t for t in known if t.base != T.STRING)
            parse_str = _TEMPORAL_PARSERS[rt.base]

            def convert(v: Any) -> Any:
                return parse_str(v) if isinstance(v, str) else v

        else:
            raise _bad_args(udf, types)

        def impl(*vals: Any) -> Any:
            present = [v for v in vals if v is not None]
            if not present:
                return None
            best = pick(present if convert is None else [convert(v) for v in present])
            return best

        return Resolved(rt, impl, null_safe=False)

    _REGISTRY[name] = resolver


_extreme("GREATEST", max)
_extreme("LEAST", min)

# ----------------------------------------------------------------------------- collections


@register("ARRAY_LENGTH")
def _array_length(types: list[T.SqlType]) -> Resolved:
    _expect("ARRAY_LENGTH", types, (T.ARRAY,))
    return Resolved(T.T_INTEGER, len)


@register("AS_VALUE")
def _as_value(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1:
        raise _bad_args("AS_VALUE", types)
    return Resolved(types[0], lambda x: x, null_safe=False)


_JSON_PATH = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _json_path(path: str) -> list[str | int] | None:
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _JSON_PATH.match(path, pos)
        if m is None:
            return None
        if m.group(2) is not None:
            steps.append(int(m.group(2)))
        else:
            steps.append(next(g for g in (m.group(1), m.group(3), m.group(4)) if g is not None))
        pos = m.end()
    return steps


@register("EXTRACTJSONFIELD")
def _extract_json_field(types: list[T.SqlType]) -> Resolved:
    _expect("EXTRACTJSONFIELD", types, _STR, _STR)

    def impl(text: str, path: str) -> Any:
        steps = _json_path(path)
        if steps is None:
            return None
        try:
            # Jackson reads the first JSON value (trailing text ignored), numbers exactly
            node: Any = _EXACT_JSON.raw_decode(text.lstrip())[0]
        except ValueError:
            return None
        for step in steps:
            in_list = isinstance(step, int) and isinstance(node, list) and step < len(node)
            in_obj = isinstance(step, str) and isinstance(node, dict) and step in node
            if not (in_list or in_obj):
                return None
            node = node[step]
        if node is None:
            return None
        if isinstance(node, str):
            return node
        return _json_text(node)

    return Resolved(T.T_STRING, impl)


_EXACT_JSON = json.JSONDecoder(parse_float=Decimal)


def _json_text(node: Any) -> str:
    """Compact JSON text of a parsed node, decimals as written (Jackson's JsonNode text)."""
    if isinstance(node, Decimal):
        return str(node)
    if isinstance(node, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _json_text(v) for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_json_text(v) for v in node) + "]"
    return json.dumps(node)


# more UDF families register themselves into this registry
from fraudstream.ksql.engine import (  # noqa: E402, F401
    functions_arrays,
    functions_bytes,
    functions_json,
    functions_misc,
    functions_regex,
    functions_time,
    functions_url,
)
