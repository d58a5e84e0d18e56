"""The AVRO format: ksqlDB-style schemas (record `KsqlDataSourceSchema`, optional fields),
the Confluent wire format, and decoding with the WRITER schema fetched by id, mapping field
names case-insensitively to columns."""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import fastavro

from fraudstream.errors import SerdeError, TransientError
from fraudstream.ksql.engine.formats.codegen import avro_record_encoder
from fraudstream.ksql.engine.formats.coerce import coercer
from fraudstream.ksql.engine.formats.header import confluent_header, read_confluent_header
from fraudstream.ksql.engine.formats.spec import (
    Column,
    FormatSpec,
    SchemaRegistryLike,
    Serde,
    Values,
)
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = [
    "AVRO_NAMESPACE",
    "AVRO_RECORD",
    "avro_schema_for",
    "avro_serde",
    "avro_type",
    "sql_type_from_avro",
]

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


def avro_serde(
    fmt: FormatSpec,
    columns: Sequence[Column],
    topic: str,
    is_key: bool,
    registry: SchemaRegistryLike,
) -> Serde:
    names = [c for c, _ in columns]
    uppers = [c.upper() for c in names]
    types = [t for _, t in columns]
    coercers = [coercer(t) for t in types]
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
            w = state["w"] = (confluent_header(sid), fastavro.parse_schema(wschema))
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
        except TransientError:  # registry down: the record is fine, the query pauses
            raise
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
        sid, start = read_confluent_header(data)
        parsed, mapper = reader_for(sid)
        try:
            rec = fastavro.schemaless_reader(io.BytesIO(data[start:]), parsed, None)
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
