"""Decoded JSON/Avro/DELIMITED values -> the column's Python representation, and back to
JSON-ready values (ksqlDB's coercions and its "Can't convert type" errors)."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson

from fraudstream.errors import SerdeError
from fraudstream.ksql.sql import types as T

__all__ = ["coercer", "has_decimal", "jsonable", "needs_conversion"]


def coercer(t: T.SqlType) -> Callable[[Any], Any]:
    """Converts a decoded JSON/Avro value to the column's Python representation."""
    build = _BUILDERS.get(t.base)
    if build is not None:
        return build(t)
    if t.base in (T.DATE, T.TIME, T.TIMESTAMP):
        return _temporal_int
    return lambda v: v


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _temporal_int(v: Any) -> Any:
    """A DATE/TIME/TIMESTAMP as the engine's int (Avro readers hand over datetime objects
    for the date / time-millis / timestamp-millis logical types)."""
    if v is None or isinstance(v, int):
        return v
    if isinstance(v, datetime.datetime):
        d = v if v.tzinfo is not None else v.replace(tzinfo=datetime.UTC)
        return (d - _EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return (v - _EPOCH.date()).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    return int(v)


def _to_string(t: T.SqlType) -> Callable[[Any], Any]:

    def to_str(v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return T.java_double_str(v)
        if isinstance(v, int | Decimal):
            return str(v)
        if isinstance(v, dict | list):
            return orjson.dumps(v).decode()
        raise SerdeError(
            f"Can't convert type. sourceType: {type(v).__name__}, requiredType: STRING"
        )

    return to_str


def _to_integer(t: T.SqlType) -> Callable[[Any], Any]:
    b = t.base
    lo, hi = (T.INT_MIN, T.INT_MAX) if b == T.INTEGER else (T.LONG_MIN, T.LONG_MAX)

    def to_int(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool):
            raise SerdeError(f"Can't convert type. sourceType: BooleanNode, requiredType: {b}")
        if isinstance(v, int):
            if not lo <= v <= hi:
                raise SerdeError(f"Can't convert type. value {v} out of range for {b}")
            return v
        if isinstance(v, float):
            return int(v)
        if isinstance(v, Decimal):
            return int(v)
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                raise SerdeError(f"Can't coerce string to type. targetType: {b}") from None
        raise SerdeError(f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {b}")

    return to_int


def _to_double(t: T.SqlType) -> Callable[[Any], Any]:

    def to_double(v: Any) -> Any:
        if v is None or type(v) is float:
            return v
        if isinstance(v, bool):
            raise SerdeError("Can't convert type. sourceType: BooleanNode, requiredType: DOUBLE")
        if isinstance(v, int | Decimal):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v.strip())
            except ValueError:
                raise SerdeError("Can't coerce string to type. targetType: DOUBLE") from None
        raise SerdeError(
            f"Can't convert type. sourceType: {type(v).__name__}, requiredType: DOUBLE"
        )

    return to_double


def _to_decimal(t: T.SqlType) -> Callable[[Any], Any]:
    q = T.decimal_quantum(t.scale)

    def to_dec(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool):
            raise SerdeError("Can't convert type. requiredType: DECIMAL")
        try:
            d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        except (InvalidOperation, TypeError):
            raise SerdeError(f"Can't convert {v!r} to DECIMAL") from None
        return d.quantize(q, rounding=ROUND_HALF_UP, context=T.DECIMAL_CONTEXT)

    return to_dec


def _to_boolean(t: T.SqlType) -> Callable[[Any], Any]:

    def to_bool(v: Any) -> Any:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("true", "false"):
                return low == "true"
        raise SerdeError("Can't convert type. requiredType: BOOLEAN")

    return to_bool


def _to_array(t: T.SqlType) -> Callable[[Any], Any]:
    assert t.item is not None
    inner = coercer(t.item)

    def to_arr(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, list):
            raise SerdeError("Can't convert type. requiredType: ARRAY")
        return [inner(x) for x in v]

    return to_arr


def _to_map(t: T.SqlType) -> Callable[[Any], Any]:
    assert t.item is not None and t.key is not None
    vin = coercer(t.item)
    kin = coercer(t.key)

    def to_map(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, dict):
            raise SerdeError("Can't convert type. requiredType: MAP")
        return {kin(k): vin(x) for k, x in v.items()}

    return to_map


def _to_struct(t: T.SqlType) -> Callable[[Any], Any]:
    fields = [(n, n.upper(), coercer(ft)) for n, ft in t.fields]

    def to_struct(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, dict):
            raise SerdeError("Can't convert type. requiredType: STRUCT")
        up = {str(k).upper(): x for k, x in v.items()} if v else {}
        out = {}
        for n, u, c in fields:
            x = v.get(n)
            if x is None:
                x = up.get(u)
            out[n] = c(x)
        return out

    return to_struct


def _to_bytes(t: T.SqlType) -> Callable[[Any], Any]:

    def to_bytes(v: Any) -> Any:
        if v is None or isinstance(v, bytes):
            return v
        if isinstance(v, str):
            return base64.b64decode(v)
        raise SerdeError("Can't convert type. requiredType: BYTES")

    return to_bytes


_BUILDERS: dict[str, Callable[[T.SqlType], Callable[[Any], Any]]] = {
    T.STRING: _to_string,
    T.INTEGER: _to_integer,
    T.BIGINT: _to_integer,
    T.DOUBLE: _to_double,
    T.DECIMAL: _to_decimal,
    T.BOOLEAN: _to_boolean,
    T.ARRAY: _to_array,
    T.MAP: _to_map,
    T.STRUCT: _to_struct,
    T.BYTES: _to_bytes,
}


def jsonable(v: Any, t: T.SqlType) -> Any:
    """Python value -> JSON-ready value (bytes as base64)."""
    if v is None:
        return None
    b = t.base
    if b == T.BYTES:
        return base64.b64encode(v).decode()
    if b == T.ARRAY and t.item is not None:
        return [jsonable(x, t.item) for x in v]
    if b == T.MAP and t.item is not None:
        return {k: jsonable(x, t.item) for k, x in v.items()}
    if b == T.STRUCT:
        return {n: jsonable(v.get(n), ft) for n, ft in t.fields}
    return v


def needs_conversion(t: T.SqlType) -> bool:
    if t.base in (T.BYTES, T.STRUCT):
        return True
    if t.base in (T.ARRAY, T.MAP) and t.item is not None:
        return needs_conversion(t.item)
    return False


def has_decimal(t: T.SqlType) -> bool:
    if t.base == T.DECIMAL:
        return True
    if t.item is not None and has_decimal(t.item):
        return True
    return any(has_decimal(ft) for _, ft in t.fields)
