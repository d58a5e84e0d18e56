"""Map, string-list and geo UDFs (AS_MAP ... GEO_DISTANCE) with ksqlDB's NULL rules.

Registered into `functions` on import. MAP_KEYS / MAP_VALUES and ENTRIES(map, false) are
not computed: their result order is the iteration order of ksqlDB's Java HashMap, which
depends on how the map was built, so only ENTRIES(map, true) (sorted by key) is exact.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from decimal import Decimal
from typing import Any

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.engine.messages import not_supported
from fraudstream.ksql.engine.temporal import TEMPORAL, format_temporal
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

__all__: list[str] = []


def _java_order(s: str) -> bytes:
    """Sort key of Java's `String.compareTo` (UTF-16 code units)."""
    return s.encode("utf-16-be")


# ----------------------------------------------------------------------------- maps


@register("AS_MAP")
def _as_map(types: list[T.SqlType]) -> Resolved:
    if (
        len(types) != 2
        or types[0].base != T.ARRAY
        or types[0].item != T.T_STRING
        or types[1].base != T.ARRAY
        or types[1].item is None
    ):
        raise bad_args("AS_MAP", types)

    def impl(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
        return {k: values[i] if i < len(values) else None for i, k in enumerate(keys)}

    return Resolved(T.map_of(T.T_STRING, types[1].item), impl)


@register("MAP_UNION")
def _map_union(types: list[T.SqlType]) -> Resolved:
    maps = [t for t in types if t.base != T.NULL]
    if len(types) != 2 or not maps or any(t.base != T.MAP or t.key != T.T_STRING for t in maps):
        raise bad_args("MAP_UNION", types)
    if len(maps) == 2 and maps[0] != maps[1]:
        raise bad_args("MAP_UNION", types)

    def impl(a: dict[Any, Any] | None, b: dict[Any, Any] | None) -> dict[Any, Any] | None:
        if a is None and b is None:
            return None
        return {**(a or {}), **(b or {})}

    return Resolved(maps[0], impl, null_safe=False)


_ENTRY_VALUE_TYPES = (T.INTEGER, T.BIGINT, T.DOUBLE, T.BOOLEAN, T.STRING)


@register("ENTRIES")
def _entries(types: list[T.SqlType]) -> Resolved:
    if (
        len(types) != 2
        or types[0].base != T.MAP
        or types[0].key != T.T_STRING
        or types[0].item is None
        or types[0].item.base not in _ENTRY_VALUE_TYPES
        or types[1].base not in (T.BOOLEAN, T.NULL)
    ):
        raise bad_args("ENTRIES", types)
    rt = T.array_of(T.struct_of([("K", T.T_STRING), ("V", types[0].item)]))

    def impl(m: dict[str, Any], sort: bool) -> list[dict[str, Any]]:
        if not sort:
            raise KsqlProcessingError(
                not_supported("ENTRIES(map, false): the order of Java's HashMap iteration")
            )
        return [{"K": k, "V": m[k]} for k in sorted(m, key=_java_order)]

    return Resolved(rt, impl)


# ----------------------------------------------------------------------------- strings


@register("ELT")
def _elt(types: list[T.SqlType]) -> Resolved:
    if not types or types[0].base not in (T.INTEGER, T.NULL):
        raise bad_args("ELT", types)
    if any(t.base not in (T.STRING, T.NULL) for t in types[1:]):
        raise bad_args("ELT", types)

    def impl(n: int | None, *args: str | None) -> str | None:
        if n is None or n < 1 or n > len(args):
            return None
        return args[n - 1]

    return Resolved(T.T_STRING, impl, null_safe=False)


@register("FIELD")
def _field(types: list[T.SqlType]) -> Resolved:
    if not types or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise bad_args("FIELD", types)

    def impl(s: str | None, *args: str | None) -> int:
        if s is None:
            return 0
        for i, a in enumerate(args):
            if a == s:
                return i + 1
        return 0

    return Resolved(T.T_INTEGER, impl, null_safe=False)


@register("MD5")
def _md5(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.STRING, T.NULL):
        raise bad_args("MD5", types)
    return Resolved(T.T_STRING, lambda s: hashlib.md5(s.encode()).hexdigest())


@register("SPLIT_TO_MAP")
def _split_to_map(types: list[T.SqlType]) -> Resolved:
    if len(types) != 3 or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise bad_args("SPLIT_TO_MAP", types)

    def impl(s: str, entry_delim: str, kv_delim: str) -> dict[str, str] | None:
        """Guava's Splitter: empty entries dropped, an entry without the key-value delimiter
        skipped, the value is the text between the first and second delimiter, a repeated
        key keeps the last value."""
        if not entry_delim or not kv_delim or entry_delim == kv_delim:
            return None
        out: dict[str, str] = {}
        for entry in s.split(entry_delim):
            if entry and kv_delim in entry:
                parts = entry.split(kv_delim)
                out[parts[0]] = parts[1]
        return out

    return Resolved(T.map_of(T.T_STRING, T.T_STRING), impl)


# ----------------------------------------------------------------------------- dates


@register("FROM_DAYS")
def _from_days(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.INTEGER, T.NULL):
        raise bad_args("FROM_DAYS", types)
    return Resolved(T.SqlType(T.DATE), lambda d: d)  # a DATE is its day number


@register("FROM_UNIXTIME")
def _from_unixtime(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1 or types[0].base not in (T.BIGINT, T.INTEGER, T.NULL):
        raise bad_args("FROM_UNIXTIME", types)
    return Resolved(T.SqlType(T.TIMESTAMP), lambda ms: ms)  # epoch millis


# ----------------------------------------------------------------------------- geo

_EARTH_RADIUS = {"km": 6371.0, "mi": 3959.0}
_UNITS = {
    **dict.fromkeys(("mi", "mile", "miles"), "mi"),
    **dict.fromkeys(("km", "kilometer", "kilometers", "kilometre", "kilometres"), "km"),
}
_UNIT_NAMES = "one of mi, mile, miles, km, kilometer, kilometers, kilometre or kilometres"
_COORD = (T.INTEGER, T.BIGINT, T.DOUBLE, T.DECIMAL, T.NULL)


def _haversin(v: float) -> float:
    return math.sin(v / 2) ** 2


def geo_distance(
    lat1: float, lon1: float, lat2: float, lon2: float, units: str | None = None
) -> float:
    """Great-circle distance by the haversine formula, ksqlDB's radii (6371 km, 3959 mi)."""
    if any(lat < -90 or lat > 90 for lat in (lat1, lat2)):
        raise KsqlProcessingError(
            "valid latitude values for GeoDistance function are in the range of -90 to 90"
        )
    if any(lon < -180 or lon > 180 for lon in (lon1, lon2)):
        raise KsqlProcessingError(
            "valid longitude values for GeoDistance function are in the range of -180 to +180"
        )
    radius = _EARTH_RADIUS["km"]
    if units is not None and units.strip():
        unit = _UNITS.get(units.strip().lower())
        if unit is None:
            raise KsqlProcessingError(f"GeoDistance function units parameter must be {_UNIT_NAMES}")
        radius = _EARTH_RADIUS[unit]
    d_lat = math.radians(lat2 - lat1)
    d_lon = math.radians(lon2 - lon1)
    a = _haversin(d_lat) + _haversin(d_lon) * math.cos(math.radians(lat1)) * math.cos(
        math.radians(lat2)
    )
    return 2 * math.asin(math.sqrt(a)) * radius


@register("GEO_DISTANCE")
def _geo_distance(types: list[T.SqlType]) -> Resolved:
    if len(types) not in (4, 5) or any(t.base not in _COORD for t in types[:4]):
        raise bad_args("geo_distance", types)  # its UDF name is lower case
    if len(types) == 5 and types[4].base not in (T.STRING, T.NULL):
        raise bad_args("geo_distance", types)  # its UDF name is lower case

    def impl(*args: Any) -> float | None:
        if any(a is None for a in args[:4]):
            return None
        lat1, lon1, lat2, lon2 = (float(a) for a in args[:4])
        return geo_distance(lat1, lon1, lat2, lon2, args[4] if len(args) == 5 else None)

    return Resolved(T.T_DOUBLE, impl, null_safe=False)


# ----------------------------------------------------------------------------- JSON


def _json_str(s: str) -> str:
    """Jackson's string literal: quotes, backslash and control characters escaped, the rest
    (non-ASCII included) as is."""
    return json.dumps(s, ensure_ascii=False)


def to_json(v: Any, t: T.SqlType) -> str:
    """TO_JSON_STRING's text: Jackson's compact JSON of ksqlDB's prepared value (temporals as
    ksqlDB's ISO texts, BYTES base64, struct fields and map keys sorted as Java sorts
    strings, doubles as Java prints them, NaN and infinities quoted)."""
    if v is None:
        return "null"
    b = t.base
    if b in TEMPORAL:
        return _json_str(format_temporal(v, b))
    if b == T.BOOLEAN:
        return "true" if v else "false"
    if b == T.DOUBLE:
        text = T.java_double_str(float(v))
        return text if math.isfinite(v) else _json_str(text)
    if b == T.DECIMAL:
        return str(Decimal(v))  # BigDecimal.toString(): the same scientific-notation rules
    if b == T.STRING:
        return _json_str(v)
    if b == T.BYTES:
        return _json_str(base64.b64encode(v).decode("ascii"))
    if b == T.ARRAY:
        assert t.item is not None
        it = t.item
        return "[" + ",".join(to_json(x, it) for x in v) + "]"
    if b == T.MAP:
        assert t.item is not None
        it = t.item
        keys = sorted((str(k) for k in v), key=_java_order)
        by_text = {str(k): x for k, x in v.items()}
        return "{" + ",".join(_json_str(k) + ":" + to_json(by_text[k], it) for k in keys) + "}"
    if b == T.STRUCT:
        names = sorted((n for n, _ in t.fields or ()), key=_java_order)
        return (
            "{"
            + ",".join(
                _json_str(n) + ":" + to_json(v.get(n), t.field_type(n) or T.T_STRING) for n in names
            )
            + "}"
        )
    return str(v)  # INTEGER, BIGINT


@register("TO_JSON_STRING")
def _to_json_string(types: list[T.SqlType]) -> Resolved:
    if len(types) != 1:
        raise bad_args("TO_JSON_STRING", types)
    t = types[0]
    return Resolved(T.T_STRING, lambda v: to_json(v, t), null_safe=False)
