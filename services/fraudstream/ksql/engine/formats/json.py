"""The JSON format: one object per record (or a bare value when unwrapped), field names
matched case-insensitively, DECIMALs written as exact numbers, NaN/Infinity as strings."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import orjson

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats.codegen import json_record_decoder
from fraudstream.ksql.engine.formats.coerce import coercer, has_decimal, jsonable, needs_conversion
from fraudstream.ksql.engine.formats.spec import Column, FormatSpec, Serde, Values
from fraudstream.ksql.sql import types as T

__all__ = ["dumps_json", "json_serde", "loads_json"]


def dumps_json(v: Any) -> bytes:
    """JSON text with DECIMALs written as exact numbers (orjson cannot)."""
    return _enc(v).encode()


def _has_non_finite(v: Any) -> bool:
    if isinstance(v, float):
        return v != v or v in (float("inf"), float("-inf"))
    if isinstance(v, dict):
        return any(_has_non_finite(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_non_finite(x) for x in v)
    return False


def _enc(v: Any) -> str:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict):
        # Jackson writes a null map key as "null"
        return (
            "{"
            + ",".join(
                json.dumps("null" if k is None else str(k)) + ":" + _enc(x) for k, x in v.items()
            )
            + "}"
        )
    if isinstance(v, list):
        return "[" + ",".join(_enc(x) for x in v) + "]"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return '"NaN"' if v != v else ('"Infinity"' if v > 0 else '"-Infinity"')
    return orjson.dumps(v).decode()


def _loads_exact(data: bytes) -> Any:
    try:
        return json.loads(data, parse_float=Decimal)
    except ValueError as exc:
        raise SerdeError(f"Failed to deserialize JSON: {exc}") from None


def loads_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson rejects NaN/Infinity and big ints; the stdlib is lenient
        try:
            return json.loads(data)
        except ValueError:
            raise SerdeError(f"Failed to deserialize JSON: {exc}") from None


def json_serde(fmt: FormatSpec, columns: Sequence[Column], is_key: bool) -> Serde:
    names = [c for c, _ in columns]
    types = [t for _, t in columns]
    coercers = [coercer(t) for t in types]
    unwrapped = len(columns) == 1 and (is_key or fmt.wrap_single_value is False)
    convert = [needs_conversion(t) for t in types]
    any_conv = any(convert)
    dump: Callable[[Any], bytes] = (
        dumps_json if any(has_decimal(t) for t in types) else orjson.dumps
    )
    double_idx = [i for i, t in enumerate(types) if t.base == T.DOUBLE]
    if double_idx and dump is orjson.dumps:
        # orjson writes NaN/Infinity as null; ksqlDB (Jackson) writes them as strings
        fast_dump = orjson.dumps
        flat = not any(t.base in (T.ARRAY, T.MAP, T.STRUCT) for t in types)

        def dump(obj: Any) -> bytes:
            out = fast_dump(obj)
            if b"null" not in out:
                return out
            # A flat object writes one `null` per None and one per NaN/Infinity (and more
            # only inside strings): no more of them than Nones means none is non-finite.
            # Two C-level counts instead of a Python walk over every value.
            if flat and type(obj) is dict and out.count(b"null") <= [*obj.values()].count(None):
                return out
            if _has_non_finite(obj):
                return dumps_json(obj)
            return out

    if any(t.contains_map() for t in types):
        # a map may hold a NULL key, which orjson refuses: fall back to the exact encoder
        map_dump = dump

        def dump(obj: Any) -> bytes:
            try:
                return map_dump(obj)
            except TypeError:
                return dumps_json(obj)

    # DECIMAL columns are read exactly (Jackson's USE_BIG_DECIMAL_FOR_FLOATS), not via double
    load: Callable[[bytes], Any] = (
        _loads_exact if any(has_decimal(t) for t in types) else loads_json
    )

    if unwrapped:
        c0, t0, conv0 = coercers[0], types[0], convert[0]

        def ser1(values: Sequence[Any]) -> bytes | None:
            v = values[0]
            if v is None and not is_key:
                return None
            return dump(jsonable(v, t0) if conv0 else v)

        def de1(data: bytes) -> Values:
            return [c0(load(data))]

        return Serde(ser1, de1)

    uppers = [n.upper() for n in names]
    plan_cache: dict[tuple[str, ...], Callable[[dict[str, Any]], list[Any]]] = {}
    n_cols = len(names)

    def ser(values: Sequence[Any]) -> bytes | None:
        if any_conv:
            obj = {
                n: (jsonable(v, t) if c else v)
                for n, v, t, c in zip(names, values, types, convert, strict=True)
            }
        else:
            obj = dict(zip(names, values, strict=True))
        return dump(obj)

    def de(data: bytes) -> Values:
        obj = load(data)
        if not isinstance(obj, dict):
            if n_cols == 1:
                return [coercers[0](obj)]
            raise SerdeError(
                f"Can't convert type. sourceType: {type(obj).__name__}, requiredType: STRUCT"
            )
        keys = tuple(obj)
        decode = plan_cache.get(keys)
        if decode is None:
            # one generated decoder per observed field layout (producers keep theirs stable)
            up = {k.upper(): k for k in keys}
            plan = [k if k in obj else up.get(u) for k, u in zip(names, uppers, strict=True)]
            decode = json_record_decoder(plan, types, coercers)
            if len(plan_cache) < 256:
                plan_cache[keys] = decode
        return decode(obj)

    return Serde(ser, de)
