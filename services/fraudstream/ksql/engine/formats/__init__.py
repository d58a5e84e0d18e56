"""Key/value formats (JSON, AVRO, DELIMITED, KAFKA, NONE) and the Schema Registry seam.

A serde is built once per (query, source/sink) for a column list and returns plain
closures: `serialize(values) -> bytes | None` and `deserialize(bytes) -> list`, so the
per-record path is one call each. AVRO uses the Confluent wire format (magic byte 0,
4-byte big-endian schema id, Avro binary) and decodes with the WRITER schema fetched by
id, mapping field names case-insensitively to columns.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

import fastavro
import orjson

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats.codegen import avro_record_encoder, json_record_decoder
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T

KNOWN_FORMATS = (
    "JSON",
    "AVRO",
    "DELIMITED",
    "KAFKA",
    "NONE",
    "PROTOBUF",
    "JSON_SR",
    "PROTOBUF_NOSR",
)
SUPPORTED_FORMATS = ("JSON", "AVRO", "DELIMITED", "KAFKA", "NONE")


class SchemaRegistryLike(Protocol):
    """What the engine needs from a Schema Registry (the REST client or the in-memory one)."""

    def register(self, subject: str, schema_str: str) -> int: ...

    def get_schema(self, schema_id: int) -> str: ...

    def get_latest(self, subject: str) -> tuple[int, str] | None: ...


class InMemorySchemaRegistry:
    """A process-local registry: same schema text -> same id; versions per subject."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._subjects: dict[str, list[int]] = {}

    def register(self, subject: str, schema_str: str, schema_id: int | None = None) -> int:
        canon = _canonical(schema_str)
        with self._lock:
            sid = self._ids.get(canon)
            if sid is None:
                sid = schema_id if schema_id is not None else max(self._by_id, default=0) + 1
                self._ids[canon] = sid
                self._by_id[sid] = schema_str
            versions = self._subjects.setdefault(subject, [])
            if not versions or versions[-1] != sid:
                versions.append(sid)
            return sid

    def get_schema(self, schema_id: int) -> str:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SerdeError(f"Schema {schema_id} not found") from None

    def get_latest(self, subject: str) -> tuple[int, str] | None:
        versions = self._subjects.get(subject)
        if not versions:
            return None
        return versions[-1], self._by_id[versions[-1]]

    def subjects(self) -> list[str]:
        return sorted(self._subjects)


def _canonical(schema_str: str) -> str:
    try:
        return json.dumps(json.loads(schema_str), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return schema_str


@dataclass
class FormatSpec:
    """A format name plus its options (WRAP_SINGLE_VALUE, delimiter, schema id/name)."""

    name: str
    wrap_single_value: bool | None = None
    delimiter: str = ","
    schema_id: int | None = None
    schema_full_name: str | None = None
    features: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name


Values = list[Any]


@dataclass
class Serde:
    serialize: Callable[[Sequence[Any]], bytes | None]
    deserialize: Callable[[bytes], Values]
    schema_str: str | None = None


Column = tuple[str, T.SqlType]


def check_supported(fmt: FormatSpec, columns: Sequence[Column], is_key: bool) -> None:
    """Reject column types a format cannot carry, with ksqlDB's messages."""
    n = fmt.name
    if n not in KNOWN_FORMATS:
        raise KsqlStatementError(f"Unknown format: {n}")
    for cname, ctype in columns:
        if is_key and ctype.contains_map():
            raise KsqlStatementError(
                "Map keys, including types that contain maps, are not supported as they may "
                "lead to unexpected behavior due to inconsistent serialization. "
                f"Key column name: `{cname}`. Column type: {ctype}. "
                "See https://github.com/confluentinc/ksql/issues/6621 for more."
            )
    if n in ("KAFKA", "DELIMITED"):
        for cname, ctype in columns:
            if ctype.base in (T.ARRAY, T.MAP, T.STRUCT) or (
                n == "KAFKA" and ctype.base in (T.BOOLEAN, T.DECIMAL, T.DATE, T.TIME, T.TIMESTAMP)
            ):
                if is_key:
                    cols = ", ".join(f"`{c}` {t} KEY" for c, t in columns)
                    col_suffix = f", column: `{cname}`" if n == "DELIMITED" else ""
                    raise KsqlStatementError(
                        f"Key format does not support schema.{chr(10)}format: {n}{chr(10)}"
                        f"schema: Persistence{{columns=[{cols}], features=[]}}{chr(10)}"
                        f"reason: The '{n}' format does not support type '{ctype.base}'{col_suffix}"
                    )
                raise KsqlStatementError(f"The '{n}' format does not support type '{ctype.base}'")
    if n == "KAFKA" and len(columns) > 1:
        if is_key:
            cols = ", ".join(f"`{c}` {t} KEY" for c, t in columns)
            raise KsqlStatementError(
                f"Key format does not support schema.{chr(10)}format: KAFKA{chr(10)}"
                f"schema: Persistence{{columns=[{cols}], features=[]}}{chr(10)}"
                "reason: The 'KAFKA' format only supports a single field. Got: "
                f"[{cols}]"
            )
        raise KsqlStatementError(
            "The 'KAFKA' format only supports a single field. Got: "
            f"[{', '.join(f'`{c}` {t}' for c, t in columns)}]"
        )
    if n in ("JSON", "AVRO"):
        for _cname, ctype in columns:
            if _has_non_string_map_key(ctype):
                raise KsqlStatementError(
                    "JSON only supports MAP types with STRING keys"
                    if n == "JSON"
                    else "Avro only supports MAPs with STRING keys"
                )


def _has_non_string_map_key(t: T.SqlType) -> bool:
    if t.base == T.MAP:
        return (t.key is not None and t.key.base != T.STRING) or (
            t.item is not None and _has_non_string_map_key(t.item)
        )
    if t.base == T.ARRAY and t.item:
        return _has_non_string_map_key(t.item)
    if t.base == T.STRUCT:
        return any(_has_non_string_map_key(ft) for _, ft in t.fields)
    return False


def make_serde(
    fmt: FormatSpec,
    columns: Sequence[Column],
    topic: str,
    is_key: bool,
    registry: SchemaRegistryLike | None,
) -> Serde:
    """Build the serializer/deserializer pair for one side (key or value) of a topic."""
    name = fmt.name
    if not columns and is_key:
        return Serde(lambda v: None, lambda b: [])
    if name == "JSON":
        return _json_serde(fmt, columns, is_key)
    if name == "KAFKA":
        return _kafka_serde(columns, is_key)
    if name == "DELIMITED":
        return _delimited_serde(fmt, columns)
    if name == "AVRO":
        if registry is None:
            raise KsqlStatementError("AVRO format requires a Schema Registry (none configured)")
        return _avro_serde(fmt, columns, topic, is_key, registry)
    if name == "NONE":
        if columns:
            raise KsqlStatementError(
                "The 'NONE' format can only be used when no columns are defined. Got: "
                + ", ".join(f"`{c}` {t}" for c, t in columns)
            )
        return Serde(lambda v: None, lambda b: [])
    raise KsqlStatementError(f"The '{name}' format is not supported by the embedded engine")


# ----------------------------------------------------------------------------- coercion


def _coercer(t: T.SqlType) -> Callable[[Any], Any]:
    """Converts a decoded JSON/Avro value to the column's Python representation."""
    b = t.base
    if b == T.STRING:

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
    if b in (T.INTEGER, T.BIGINT):
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
            raise SerdeError(
                f"Can't convert type. sourceType: {type(v).__name__}, requiredType: {b}"
            )

        return to_int
    if b == T.DOUBLE:

        def to_double(v: Any) -> Any:
            if v is None or type(v) is float:
                return v
            if isinstance(v, bool):
                raise SerdeError(
                    "Can't convert type. sourceType: BooleanNode, requiredType: DOUBLE"
                )
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
    if b == T.DECIMAL:
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
    if b == T.BOOLEAN:

        def to_bool(v: Any) -> Any:
            if v is None or isinstance(v, bool):
                return v
            if isinstance(v, str):
                low = v.strip().lower()
                if low in ("true", "false"):
                    return low == "true"
            raise SerdeError("Can't convert type. requiredType: BOOLEAN")

        return to_bool
    if b == T.ARRAY:
        assert t.item is not None
        inner = _coercer(t.item)

        def to_arr(v: Any) -> Any:
            if v is None:
                return None
            if not isinstance(v, list):
                raise SerdeError("Can't convert type. requiredType: ARRAY")
            return [inner(x) for x in v]

        return to_arr
    if b == T.MAP:
        assert t.item is not None and t.key is not None
        vin = _coercer(t.item)
        kin = _coercer(t.key)

        def to_map(v: Any) -> Any:
            if v is None:
                return None
            if not isinstance(v, dict):
                raise SerdeError("Can't convert type. requiredType: MAP")
            return {kin(k): vin(x) for k, x in v.items()}

        return to_map
    if b == T.STRUCT:
        fields = [(n, n.upper(), _coercer(ft)) for n, ft in t.fields]

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
    if b == T.BYTES:

        def to_bytes(v: Any) -> Any:
            if v is None or isinstance(v, bytes):
                return v
            if isinstance(v, str):
                return base64.b64decode(v)
            raise SerdeError("Can't convert type. requiredType: BYTES")

        return to_bytes
    if b in (T.DATE, T.TIME, T.TIMESTAMP):
        return lambda v: v if v is None or isinstance(v, int) else int(v)
    return lambda v: v


def _jsonable(v: Any, t: T.SqlType) -> Any:
    """Python value -> JSON-ready value (bytes as base64)."""
    if v is None:
        return None
    b = t.base
    if b == T.BYTES:
        return base64.b64encode(v).decode()
    if b == T.ARRAY and t.item is not None:
        return [_jsonable(x, t.item) for x in v]
    if b == T.MAP and t.item is not None:
        return {k: _jsonable(x, t.item) for k, x in v.items()}
    if b == T.STRUCT:
        return {n: _jsonable(v.get(n), ft) for n, ft in t.fields}
    return v


def _needs_conversion(t: T.SqlType) -> bool:
    if t.base in (T.BYTES, T.STRUCT):
        return True
    if t.base in (T.ARRAY, T.MAP) and t.item is not None:
        return _needs_conversion(t.item)
    return False


def _has_decimal(t: T.SqlType) -> bool:
    if t.base == T.DECIMAL:
        return True
    if t.item is not None and _has_decimal(t.item):
        return True
    return any(_has_decimal(ft) for _, ft in t.fields)


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
        return "{" + ",".join(json.dumps(str(k)) + ":" + _enc(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_enc(x) for x in v) + "]"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return '"NaN"' if v != v else ('"Infinity"' if v > 0 else '"-Infinity"')
    return orjson.dumps(v).decode()


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson rejects NaN/Infinity and big ints; the stdlib is lenient
        try:
            return json.loads(data)
        except ValueError:
            raise SerdeError(f"Failed to deserialize JSON: {exc}") from None


def _json_serde(fmt: FormatSpec, columns: Sequence[Column], is_key: bool) -> Serde:
    names = [c for c, _ in columns]
    types = [t for _, t in columns]
    coercers = [_coercer(t) for t in types]
    unwrapped = len(columns) == 1 and (is_key or fmt.wrap_single_value is False)
    convert = [_needs_conversion(t) for t in types]
    any_conv = any(convert)
    dump: Callable[[Any], bytes] = (
        dumps_json if any(_has_decimal(t) for t in types) else orjson.dumps
    )
    double_idx = [i for i, t in enumerate(types) if t.base == T.DOUBLE]
    if double_idx and dump is orjson.dumps:
        # orjson writes NaN/Infinity as null; ksqlDB (Jackson) writes them as strings
        fast_dump = orjson.dumps

        def dump(obj: Any) -> bytes:
            out = fast_dump(obj)
            if b"null" in out and _has_non_finite(obj):
                return dumps_json(obj)
            return out

    if unwrapped:
        c0, t0, conv0 = coercers[0], types[0], convert[0]

        def ser1(values: Sequence[Any]) -> bytes | None:
            v = values[0]
            if v is None and not is_key:
                return None
            return dump(_jsonable(v, t0) if conv0 else v)

        def de1(data: bytes) -> Values:
            return [c0(_loads(data))]

        return Serde(ser1, de1)

    uppers = [n.upper() for n in names]
    plan_cache: dict[tuple[str, ...], Callable[[dict[str, Any]], list[Any]]] = {}
    n_cols = len(names)

    def ser(values: Sequence[Any]) -> bytes | None:
        if any_conv:
            obj = {
                n: (_jsonable(v, t) if c else v)
                for n, v, t, c in zip(names, values, types, convert, strict=True)
            }
        else:
            obj = dict(zip(names, values, strict=True))
        return dump(obj)

    def de(data: bytes) -> Values:
        obj = _loads(data)
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


# ----------------------------------------------------------------------------- KAFKA

_PACK = {
    T.INTEGER: struct.Struct(">i"),
    T.BIGINT: struct.Struct(">q"),
    T.DOUBLE: struct.Struct(">d"),
}


def _kafka_serde(columns: Sequence[Column], is_key: bool) -> Serde:
    if not columns:
        return Serde(lambda v: None, lambda b: [])
    if len(columns) > 1:
        raise KsqlStatementError("The 'KAFKA' format only supports a single field.")
    t = columns[0][1]
    st = _PACK.get(t.base)
    if st is not None:
        size = st.size
        tname = t.base

        def ser(values: Sequence[Any]) -> bytes | None:
            v = values[0]
            return None if v is None else st.pack(v)

        def de(data: bytes) -> Values:
            if len(data) != size:
                kind = {T.BIGINT: "Long", T.INTEGER: "Integer"}.get(tname, "Double")
                raise SerdeError(f"Size of data received by {kind}Deserializer is not {size}")
            return [st.unpack(data)[0]]

        return Serde(ser, de)
    if t.base == T.STRING:
        return Serde(
            lambda v: None if v[0] is None else v[0].encode(),
            lambda b: [b.decode("utf-8", errors="replace")],
        )
    if t.base == T.BYTES:
        return Serde(lambda v: v[0], lambda b: [bytes(b)])
    raise KsqlStatementError(f"The 'KAFKA' format does not support type '{t.base}'")


# ----------------------------------------------------------------------------- DELIMITED


def _delimited_serde(fmt: FormatSpec, columns: Sequence[Column]) -> Serde:
    delim = fmt.delimiter
    types = [t for _, t in columns]
    n = len(columns)

    def parse_field(s: str, t: T.SqlType) -> Any:
        if s == "":
            return None
        b = t.base
        try:
            if b in (T.INTEGER, T.BIGINT):
                v = int(s.strip())
                lo, hi = (T.INT_MIN, T.INT_MAX) if b == T.INTEGER else (T.LONG_MIN, T.LONG_MAX)
                if not lo <= v <= hi:
                    raise ValueError(s)
                return v
            if b == T.DOUBLE:
                return float(s.strip())
            if b == T.DECIMAL:
                return Decimal(s.strip()).quantize(
                    T.decimal_quantum(t.scale), rounding=ROUND_HALF_UP, context=T.DECIMAL_CONTEXT
                )
            if b == T.BOOLEAN:
                low = s.strip().lower()
                if low not in ("true", "false"):
                    raise ValueError(s)
                return low == "true"
            if b == T.BYTES:
                return base64.b64decode(s)
            if b in (T.DATE, T.TIME, T.TIMESTAMP):
                return int(s)
        except (ValueError, InvalidOperation):
            raise SerdeError(f"Failed to deserialize delimited field '{s}' as {t}") from None
        return s

    def de(data: bytes) -> Values:
        text = data.decode("utf-8")
        rows = list(csv.reader([text], delimiter=delim, quotechar='"', strict=False))
        fields = rows[0] if rows else [""]
        if len(fields) != n:
            raise SerdeError(
                "Column count mismatch on deserialization. topic: , partition: 0, offset: 0"
            )
        return [parse_field(f, t) for f, t in zip(fields, types, strict=True)]

    def fmt_field(v: Any, t: T.SqlType) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return T.java_double_str(v)
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, bytes):
            return base64.b64encode(v).decode()
        return str(v)

    specials = {delim, '"', "\r", "\n"}

    def quote(s: str, first: bool) -> str:
        # Apache Commons CSV MINIMAL quoting, as ksqlDB writes DELIMITED values
        if not s:
            return '""' if first else s
        if s[0] <= " " or s[-1] <= " " or any(c in specials for c in s):
            return '"' + s.replace('"', '""') + '"'
        return s

    # numbers and booleans are printed as-is; text (strings, decimals) goes through quoting
    textual = [t.base in (T.STRING, T.DECIMAL, T.BYTES) for t in types]

    def ser(values: Sequence[Any]) -> bytes | None:
        parts = []
        for i, (v, t) in enumerate(zip(values, types, strict=True)):
            if v is None:
                parts.append("")
            elif textual[i]:
                s = fmt_field(v, t)
                if t.base == T.DECIMAL and s[:1] == "-":
                    parts.append('"' + s + '"')
                else:
                    parts.append(quote(s, i == 0))
            else:
                parts.append(fmt_field(v, t))
        return delim.join(parts).encode()

    return Serde(ser, de)


# ----------------------------------------------------------------------------- AVRO

AVRO_NAMESPACE = "io.confluent.ksql.avro_schemas"
AVRO_RECORD = "KsqlDataSourceSchema"


def avro_type(t: T.SqlType, name: str) -> Any:
    """The Avro schema of one SQL type (non-null part)."""
    b = t.base
    if b == T.BOOLEAN:
        return "boolean"
    if b == T.INTEGER:
        return "int"
    if b == T.BIGINT:
        return "long"
    if b == T.DOUBLE:
        return "double"
    if b == T.STRING:
        return "string"
    if b == T.BYTES:
        return "bytes"
    if b == T.DECIMAL:
        return {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": t.precision,
            "scale": t.scale,
            "connect.version": 1,
            "connect.parameters": {
                "scale": str(t.scale),
                "connect.decimal.precision": str(t.precision),
            },
            "connect.name": "org.apache.kafka.connect.data.Decimal",
        }
    if b == T.DATE:
        return {"type": "int", "logicalType": "date"}
    if b == T.TIME:
        return {"type": "int", "logicalType": "time-millis"}
    if b == T.TIMESTAMP:
        return {"type": "long", "logicalType": "timestamp-millis"}
    if b == T.ARRAY:
        assert t.item is not None
        return {"type": "array", "items": ["null", avro_type(t.item, name)]}
    if b == T.MAP:
        assert t.item is not None
        return {"type": "map", "values": ["null", avro_type(t.item, name)]}
    if b == T.STRUCT:
        return {
            "type": "record",
            "name": f"{name}",
            "fields": [
                {"name": fn, "type": ["null", avro_type(ft, f"{name}_{fn}")], "default": None}
                for fn, ft in t.fields
            ],
        }
    raise KsqlStatementError(f"Type {t} is not supported by the AVRO format")


def avro_schema_for(
    columns: Sequence[Column], full_name: str | None = None, unwrapped: bool = False
) -> dict[str, Any] | list[Any]:
    """ksqlDB-style Avro schema: record `KsqlDataSourceSchema`, every field an optional union."""
    if unwrapped:
        return ["null", avro_type(columns[0][1], full_name or f"{AVRO_NAMESPACE}.{AVRO_RECORD}")]
    if full_name:
        ns, _, nm = full_name.rpartition(".")
    else:
        ns, nm = AVRO_NAMESPACE, AVRO_RECORD
    for cname, _ in columns:
        if not (cname[:1].isalpha() or cname[:1] == "_") or not all(
            ch.isalnum() or ch == "_" for ch in cname
        ):
            raise KsqlStatementError(
                f"Schema is not compatible with Avro: Illegal initial character: {cname}"
                if not (cname[:1].isalpha() or cname[:1] == "_")
                else f"Schema is not compatible with Avro: Illegal character in: {cname}"
            )
    schema: dict[str, Any] = {
        "type": "record",
        "name": nm,
        "fields": [
            {"name": c, "type": ["null", avro_type(t, f"{nm}_{c}")], "default": None}
            for c, t in columns
        ],
    }
    if ns:
        schema["namespace"] = ns
    return schema


_HEADER = struct.Struct(">bI")


def _avro_serde(
    fmt: FormatSpec,
    columns: Sequence[Column],
    topic: str,
    is_key: bool,
    registry: SchemaRegistryLike,
) -> Serde:
    names = [c for c, _ in columns]
    uppers = [c.upper() for c in names]
    types = [t for _, t in columns]
    coercers = [_coercer(t) for t in types]
    unwrapped = len(columns) == 1 and (is_key or fmt.wrap_single_value is False)
    subject = f"{topic}-{'key' if is_key else 'value'}"
    schema_obj = avro_schema_for(columns, fmt.schema_full_name, unwrapped)
    schema_str = json.dumps(schema_obj)
    state: dict[str, Any] = {}
    readers: dict[int, tuple[Any, Callable[[Any], Values]]] = {}

    def writer() -> tuple[bytes, Any]:
        w = state.get("w")
        if w is None:
            if fmt.schema_id is not None:
                sid = fmt.schema_id
                wschema = json.loads(registry.get_schema(sid))
            else:
                sid = registry.register(subject, schema_str)
                wschema = schema_obj
            state["raw_schema"] = wschema
            w = state["w"] = (_HEADER.pack(0, sid), fastavro.parse_schema(wschema))
        return w

    fast: list[Callable[[Sequence[Any]], bytes] | None] = []

    def ser(values: Sequence[Any]) -> bytes | None:
        if fast:
            enc = fast[0]
            if enc is not None:
                return enc(values)
        elif not unwrapped and fmt.schema_id is None:
            header, _ = writer()
            fast.append(avro_record_encoder(types, header))
            if fast[0] is not None:
                return fast[0](values)
        if unwrapped:
            if values[0] is None and not is_key:
                return None
            rec: Any = _avro_value(values[0], types[0])
        else:
            rec = {n: _avro_value(v, t) for n, v, t in zip(names, values, types, strict=True)}
            if fmt.schema_id is not None:
                writer()
                rec = _fit_to_schema(rec, state["raw_schema"])
        header, parsed = writer()
        buf = io.BytesIO()
        buf.write(header)
        try:
            fastavro.schemaless_writer(buf, parsed, rec)
        except (ValueError, TypeError) as exc:
            raise SerdeError(f"Failed to serialize Avro record: {exc}") from None
        return buf.getvalue()

    def reader_for(sid: int) -> tuple[Any, Callable[[Any], Values]]:
        r = readers.get(sid)
        if r is not None:
            return r
        try:
            wschema = json.loads(registry.get_schema(sid))
        except Exception as exc:
            raise SerdeError(f"Schema {sid} not found: {exc}") from None
        parsed = fastavro.parse_schema(wschema)
        if unwrapped or not (isinstance(wschema, dict) and wschema.get("type") == "record"):
            c0 = coercers[0]

            def mapper1(rec: Any) -> Values:
                if isinstance(rec, dict) and len(columns) == 1 and not unwrapped:
                    up = {k.upper(): v for k, v in rec.items()}
                    return [c0(up.get(uppers[0]))]
                return [c0(_from_avro(rec))]

            r = (parsed, mapper1)
        else:
            wf = [f["name"] for f in wschema.get("fields", [])]
            upmap = {f.upper(): f for f in wf}
            plan = [n if n in wf else upmap.get(u) for n, u in zip(names, uppers, strict=True)]

            def mapper(rec: Any) -> Values:
                return [
                    c(_from_avro(rec.get(k))) if k is not None else None
                    for c, k in zip(coercers, plan, strict=True)
                ]

            r = (parsed, mapper)
        readers[sid] = r
        return r

    def de(data: bytes) -> Values:
        if len(data) < 5 or data[0] != 0:
            raise SerdeError("Unknown magic byte!")
        sid = int.from_bytes(data[1:5], "big")
        parsed, mapper = reader_for(sid)
        try:
            rec = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None)
        except Exception as exc:
            raise SerdeError(f"Failed to deserialize Avro record: {exc}") from None
        return mapper(rec)

    return Serde(ser, de, schema_str)


def _avro_value(v: Any, t: T.SqlType) -> Any:
    if v is None:
        return None
    b = t.base
    if b == T.STRUCT:
        return {n: _avro_value(v.get(n), ft) for n, ft in t.fields}
    if b == T.ARRAY and t.item is not None and not t.item.is_primitive:
        return [_avro_value(x, t.item) for x in v]
    if b == T.MAP and t.item is not None and not t.item.is_primitive:
        return {k: _avro_value(x, t.item) for k, x in v.items()}
    return v


def _fit_to_schema(v: Any, schema: Any) -> Any:
    """Shape a record for a user-supplied writer schema (VALUE_SCHEMA_ID): field names are
    matched case-insensitively and NULLs of non-nullable fields take the field default."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return None if v is None else _fit_to_schema(v, branches[0] if len(branches) == 1 else None)
    if isinstance(schema, dict) and schema.get("type") == "record" and isinstance(v, dict):
        up = {str(k).upper(): x for k, x in v.items()}
        out = {}
        for f in schema.get("fields", []):
            name = f["name"]
            x = v[name] if name in v else up.get(name.upper())
            ftype = f.get("type")
            nullable = isinstance(ftype, list) and "null" in ftype
            if x is None and not nullable and "default" in f:
                x = f["default"]
            out[name] = _fit_to_schema(x, ftype)
        return out
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(v, list):
        return [_fit_to_schema(x, schema.get("items")) for x in v]
    return v


def _from_avro(v: Any) -> Any:
    # fastavro returns logical types as Python objects (Decimal, datetime, ...)
    import datetime as _dt

    if isinstance(v, _dt.datetime):
        return int(v.timestamp() * 1000)
    if isinstance(v, _dt.date):
        return (v - _dt.date(1970, 1, 1)).days
    if isinstance(v, _dt.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    return v


def sql_type_from_avro(schema: Any) -> T.SqlType:
    """Avro schema -> SQL type (for CREATE without columns over a registered schema)."""
    if isinstance(schema, list):
        non_null = [s for s in schema if s != "null"]
        if len(non_null) != 1:
            raise KsqlStatementError(f"Unsupported Avro union: {schema}")
        return sql_type_from_avro(non_null[0])
    if isinstance(schema, str):
        m = {
            "boolean": T.T_BOOLEAN,
            "int": T.T_INTEGER,
            "long": T.T_BIGINT,
            "double": T.T_DOUBLE,
            "float": T.T_DOUBLE,
            "string": T.T_STRING,
            "bytes": T.T_BYTES,
        }
        if schema in m:
            return m[schema]
        raise KsqlStatementError(f"Unsupported Avro type: {schema}")
    t = schema.get("type")
    lt = schema.get("logicalType")
    if lt == "decimal":
        return T.SqlType(
            T.DECIMAL, precision=int(schema["precision"]), scale=int(schema.get("scale", 0))
        )
    if lt == "date":
        return T.T_DATE
    if lt == "time-millis":
        return T.T_TIME
    if lt == "timestamp-millis":
        return T.T_TIMESTAMP
    if t == "array":
        return T.array_of(sql_type_from_avro(schema["items"]))
    if t == "map":
        return T.map_of(T.T_STRING, sql_type_from_avro(schema["values"]))
    if t == "record":
        return T.struct_of([(f["name"], sql_type_from_avro(f["type"])) for f in schema["fields"]])
    if t == "enum":
        return T.T_STRING
    if t == "fixed":
        return T.T_BYTES
    if isinstance(t, str | list):
        return sql_type_from_avro(t)
    raise KsqlStatementError(f"Unsupported Avro schema: {schema}")


def window_suffix(start: int, end: int, session: bool) -> bytes:
    """Kafka Streams windowed-key suffix: time windows `start`, sessions `end` + `start`."""
    if session:
        return struct.pack(">qq", end, start)
    return struct.pack(">q", start)
