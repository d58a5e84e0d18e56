"""CREATE STREAM/TABLE: from a statement and its WITH clause to a `DataSource`.

The declared columns (KEY / PRIMARY KEY rules), the key and value formats, columns inferred
from the Schema Registry (AVRO without declared value columns), the window of a windowed
topic, and ksqlDB's checks between them. The engine commits the source; this module only
builds and validates it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fraudstream.ksql.engine.formats import (
    SUPPORTED_FORMATS,
    FormatSpec,
    InMemorySchemaRegistry,
    SchemaRegistryLike,
    check_supported,
    make_serde,
    sql_type_from_avro,
)
from fraudstream.ksql.engine.topology import Column, DataSource, WindowInfo
from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T
from fraudstream.ksql.sql.properties import (
    check_full_name,
    column_name,
    parse_delimiter,
    parse_duration,
)

__all__ = [
    "RESERVED_COLUMNS",
    "build_source",
    "check_replace",
    "check_serdes",
    "check_sink_schema_id",
    "check_wrap_single_value",
    "infer_avro",
    "resolve_formats",
]

RESERVED_COLUMNS = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")
_KEY_RULES = (
    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
    "Streams have KEYs, which have no uniqueness or NULL constraints."
)


def resolve_formats(
    p: Mapping[str, Any], properties: Mapping[str, Any], has_key: bool
) -> tuple[FormatSpec, FormatSpec]:
    """The key and value formats a CREATE's WITH clause (and the engine's defaults) give."""
    fmt = p.get("FORMAT")
    kf = p.get("KEY_FORMAT")
    vf = p.get("VALUE_FORMAT")
    if fmt and (kf or vf):
        other = "KEY_FORMAT" if kf else "VALUE_FORMAT"
        raise KsqlStatementError(
            f"Cannot supply both '{other}' and 'FORMAT' properties, as 'FORMAT' sets both "
            "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
            "'VALUE_FORMAT'."
        )
    kname = str(
        fmt or kf or properties.get("ksql.persistence.default.format.key") or "KAFKA"
    ).upper()
    vname = fmt or vf or properties.get("ksql.persistence.default.format.value")
    if not vname:
        raise KsqlStatementError(
            "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either "
            "provide one or set a default via the "
            "'ksql.persistence.default.format.value' config."
        )
    vname = str(vname).upper()
    for n in (kname, vname):
        if n not in SUPPORTED_FORMATS:
            if n in ("PROTOBUF", "JSON_SR", "PROTOBUF_NOSR"):
                raise KsqlUnsupportedError(
                    f"The '{n}' format is not supported by the embedded engine"
                )
            raise KsqlStatementError(f"Unknown format: {n}")
    key = FormatSpec(kname)
    value = FormatSpec(vname)
    if "KEY_FORMAT" not in p and "FORMAT" not in p and not has_key and kname == "KAFKA":
        key = FormatSpec("KAFKA")
    wrap = p.get("WRAP_SINGLE_VALUE")
    if wrap is None:
        wrap = properties.get("ksql.persistence.wrap.single.values")
        if isinstance(wrap, str):
            wrap = wrap.lower() == "true"
    if wrap is not None:
        if value.name in ("KAFKA", "DELIMITED") and wrap is True and "WRAP_SINGLE_VALUE" in p:
            raise KsqlStatementError(
                f"Format '{value.name}' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
            )
        if value.name not in ("KAFKA", "DELIMITED"):
            value.wrap_single_value = bool(wrap)
    for _side, spec, prop in (
        ("VALUE", value, "VALUE_DELIMITER"),
        ("KEY", key, "KEY_DELIMITER"),
    ):
        if prop in p:
            d = str(p[prop])
            if spec.name != "DELIMITED":
                raise KsqlStatementError(
                    f"{spec.name} does not support the following configs: [delimiter]"
                )
            spec.delimiter = parse_delimiter(d, prop)
    if "VALUE_AVRO_SCHEMA_FULL_NAME" in p:
        value.schema_full_name = check_full_name(str(p["VALUE_AVRO_SCHEMA_FULL_NAME"]), value.name)
    if "VALUE_SCHEMA_ID" in p:
        value.schema_id = int(p["VALUE_SCHEMA_ID"])
    if "KEY_SCHEMA_ID" in p:
        key.schema_id = int(p["KEY_SCHEMA_ID"])
    return key, value


def _declared_column(el: A.TableElement, kind: str) -> Column:
    """One declared column; KEY belongs to streams, PRIMARY KEY to tables (ksqlDB's texts)."""
    if el.constraint in ("KEY", "PRIMARY KEY"):
        line, col = el.position
        where = f"Line: {line}, Col: {col}: " if line else ""
        if kind == "STREAM" and el.constraint == "PRIMARY KEY":
            # ksqlDB's AST builder refuses these, so they surface as parse errors
            raise KsqlParseError(
                f"{where}Column `{el.name}` is a 'PRIMARY KEY' column: "
                "please use 'KEY' for streams.\n" + _KEY_RULES
            )
        if kind == "TABLE" and el.constraint == "KEY":
            raise KsqlParseError(
                f"{where}Column `{el.name}` is a 'KEY' column: "
                "please use 'PRIMARY KEY' for tables.\n" + _KEY_RULES
            )
        return Column(el.name, el.type, "KEY")
    if el.constraint == "HEADERS":
        if el.type != _HEADERS_TYPE:
            raise KsqlStatementError(
                f"Invalid type for HEADERS column: expected {_HEADERS_TYPE}, got {el.type}"
            )
        return Column(el.name, el.type, "HEADERS")
    if el.constraint == "HEADER":
        if el.type.base != T.BYTES:
            raise KsqlStatementError(
                f"Invalid type for HEADER('{el.header_key}') column: expected BYTES, got {el.type}"
            )
        return Column(el.name, el.type, "HEADERS", el.header_key)
    return Column(el.name, el.type, "VALUE")


_HEADERS_TYPE = T.array_of(T.struct_of([("KEY", T.T_STRING), ("VALUE", T.T_BYTES)]))


def declared_columns(stmt: A.CreateSource) -> list[Column]:
    """The statement's columns, in order; reserved and duplicate names refused."""
    columns: list[Column] = []
    seen: set[str] = set()
    for el in stmt.elements or []:
        if el.name in RESERVED_COLUMNS:
            raise KsqlStatementError(
                f"'{el.name}' is a reserved column name. You cannot use it as a name for a column."
            )
        if el.name in seen:
            raise KsqlStatementError(f"Duplicate column names: `{el.name}`")
        seen.add(el.name)
        columns.append(_declared_column(el, stmt.kind))
    return columns


def _upper_struct(t: T.SqlType) -> T.SqlType:
    """Inferred struct field names are upper-cased, as ksqlDB does for Avro records."""
    if t.base == T.STRUCT:
        return T.struct_of([(n.upper(), _upper_struct(ft)) for n, ft in t.fields])
    if t.base == T.ARRAY and t.item is not None:
        return T.array_of(_upper_struct(t.item))
    if t.base == T.MAP and t.item is not None and t.key is not None:
        return T.map_of(t.key, _upper_struct(t.item))
    return t


def infer_avro(
    registry: SchemaRegistryLike | None,
    topic: str,
    is_key: bool,
    schema_id: int | None,
    unwrapped: bool = False,
) -> list[Column]:
    """Columns from the topic's registered Avro schema (by id, else the subject's latest)."""
    if registry is None:
        raise KsqlStatementError("Schema inference requires a Schema Registry")
    subject = f"{topic}-{'key' if is_key else 'value'}"
    if schema_id is not None:
        text = registry.get_schema(schema_id)
    else:
        latest = registry.get_latest(subject)
        if latest is None:
            raise KsqlStatementError(
                f"Schema for message {'keys' if is_key else 'values'} on topic "
                f"'{topic}' does not "
                f"exist in the Schema Registry.Subject: {subject}"
            )
        text = latest[1]
    schema = json.loads(text)
    ns = "KEY" if is_key else "VALUE"
    if is_key:
        # a key schema is one key column: ROWKEY, of the schema's (struct) type
        return [Column("ROWKEY", _upper_struct(sql_type_from_avro(schema)), ns)]
    if isinstance(schema, dict) and schema.get("type") == "record" and not unwrapped:
        return [
            Column(
                f["name"] if schema_id is not None else f["name"].upper(),
                _upper_struct(sql_type_from_avro(f["type"])),
                ns,
            )
            for f in schema["fields"]
        ]
    return [Column("ROWVAL", _upper_struct(sql_type_from_avro(schema)), ns)]


def _with_inferred(
    columns: list[Column],
    key_format: FormatSpec,
    value_format: FormatSpec,
    topic: str,
    registry: SchemaRegistryLike | None,
) -> list[Column]:
    """Add the columns the registry gives: AVRO values without declared value columns, an
    AVRO key without declared key columns when the key subject (or id) exists."""
    has_key = any(c.namespace == "KEY" for c in columns)
    if value_format.name == "AVRO" and not any(c.namespace == "VALUE" for c in columns):
        unwrapped = value_format.wrap_single_value is False
        columns = columns + infer_avro(registry, topic, False, value_format.schema_id, unwrapped)
    if (
        key_format.name == "AVRO"
        and not has_key
        and registry is not None
        and (key_format.schema_id is not None or registry.get_latest(f"{topic}-key"))
    ):
        columns = infer_avro(registry, topic, True, key_format.schema_id) + columns
    return columns


def check_wrap_single_value(p: Mapping[str, Any], value_columns: list[Column]) -> None:
    """WITH (WRAP_SINGLE_VALUE=...) only applies to a single value column (ksqlDB's text)."""
    if "WRAP_SINGLE_VALUE" in p and len(value_columns) != 1:
        raise KsqlStatementError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")


def check_sink_schema_id(
    registry: SchemaRegistryLike | None, schema_id: int, value_columns: list[Column]
) -> None:
    """CREATE ... AS SELECT WITH (VALUE_SCHEMA_ID=n): the query's value columns must be the
    registered schema's leading fields, same names and types, in order (ksqlDB's check)."""
    registered = infer_avro(registry, "", False, schema_id)
    bad = [
        c
        for i, c in enumerate(value_columns)
        if i >= len(registered)
        or registered[i].name != c.name
        # struct field names compare case-insensitively (the registry's are upper-cased)
        or str(registered[i].type).upper() != str(c.type).upper()
    ]
    if bad:
        raise KsqlStatementError(
            "The following value columns are changed, missing or reordered: ["
            + ", ".join(f"`{c.name}` {c.type}" for c in bad)
            + "]. Schema from schema registry is ["
            + ", ".join(f"`{c.name}` {c.type}" for c in registered)
            + "]"
        )


def window_of(p: Mapping[str, Any]) -> WindowInfo | None:
    """WINDOW_TYPE / WINDOW_SIZE of a source over a windowed topic."""
    if "WINDOW_TYPE" not in p:
        return None
    wt = str(p["WINDOW_TYPE"]).upper()
    if wt not in ("TUMBLING", "HOPPING", "SESSION"):
        raise KsqlStatementError(f"Invalid window type: {wt}")
    size = None
    if "WINDOW_SIZE" in p and wt == "SESSION":
        raise KsqlParseError("'WINDOW_SIZE' should not be set for SESSION windows.")
    if "WINDOW_SIZE" in p:
        size = parse_duration(str(p["WINDOW_SIZE"]))
    elif wt != "SESSION":
        raise KsqlStatementError(
            f"{wt} windows require 'WINDOW_SIZE' to be provided in the WITH "
            "clause. For example: 'WINDOW_SIZE'='10 SECONDS'"
        )
    return WindowInfo(wt, size)


def _check_columns(
    stmt: A.CreateSource, p: Mapping[str, Any], columns: list[Column], key: FormatSpec
) -> None:
    if not columns:
        raise KsqlStatementError("No columns supplied.")
    has_key = any(c.namespace == "KEY" for c in columns)
    if stmt.kind == "TABLE" and not has_key:
        raise KsqlStatementError(
            "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.\n"
            "Use a partial schema to define the primary key and still let the value columns "
            "be inferred from the schema registry."
        )
    if not has_key and key.name not in ("KAFKA", "NONE") and "KEY_FORMAT" in p:
        raise KsqlStatementError("Key format specified for stream without key columns.")
    if not has_key and "WINDOW_TYPE" in p:
        raise KsqlStatementError("Windowed sources require a key column.")


def build_source(
    stmt: A.CreateSource,
    p: Mapping[str, Any],
    *,
    topic: str,
    known_partitions: int,
    properties: Mapping[str, Any],
    registry: SchemaRegistryLike | None,
) -> DataSource:
    """The source a CREATE STREAM/TABLE declares, checked as ksqlDB checks it."""
    columns = declared_columns(stmt)
    has_key = any(c.namespace == "KEY" for c in columns)
    key_format, value_format = resolve_formats(p, properties, has_key)
    columns = _with_inferred(columns, key_format, value_format, topic, registry)
    _check_columns(stmt, p, columns, key_format)
    keys = [c for c in columns if c.namespace == "KEY"]
    values = [c for c in columns if c.namespace == "VALUE"]
    check_supported(key_format, [(c.name, c.type) for c in keys], True)
    check_supported(value_format, [(c.name, c.type) for c in values], False)
    if (
        value_format.name == "KAFKA"
        and value_format.wrap_single_value is not None
        and "WRAP_SINGLE_VALUE" in p
    ):
        raise KsqlStatementError(
            "Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
        )
    check_wrap_single_value(p, values)
    window = window_of(p)
    partitions = int(p["PARTITIONS"]) if "PARTITIONS" in p else known_partitions
    return DataSource(
        name=stmt.name,
        kind=stmt.kind,
        columns=keys + values + [c for c in columns if c.namespace == "HEADERS"],
        topic=topic,
        key_format=key_format,
        value_format=value_format,
        partitions=partitions,
        replicas=int(p.get("REPLICAS", 1)),
        timestamp_column=column_name(p.get("TIMESTAMP")),
        timestamp_format=p.get("TIMESTAMP_FORMAT"),
        window=window,
        is_source=stmt.is_source,
        statement_text=stmt.text,
    )


def check_serdes(src: DataSource, registry: SchemaRegistryLike | None) -> None:
    """Build the source's key and value serdes once (AVRO schema names, registry presence)."""
    reg = registry or InMemorySchemaRegistry()
    for is_key, columns, fmt in (
        (True, src.key_columns, src.key_format),
        (False, src.value_columns, src.value_format),
    ):
        make_serde(fmt, [(c.name, c.type) for c in columns], src.topic, is_key, reg)


def check_replace(old: DataSource, new: DataSource) -> None:
    """CREATE OR REPLACE keeps the kind: a stream stays a stream, a table a table."""
    if old.kind != new.kind:
        raise KsqlStatementError(
            f"Cannot add {new.kind.lower()} '{new.name}': A {old.kind.lower()} with "
            "the same name already exists"
        )
