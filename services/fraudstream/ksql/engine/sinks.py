"""The sink of a persistent query, as planned: its key/value formats (WITH clause over the
source's formats and the session defaults), its serializers and its timestamp column."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from fraudstream.ksql.engine.binding import OutputColumn
from fraudstream.ksql.engine.formats import (
    FormatSpec,
    SchemaRegistryLike,
    check_supported,
    make_serde,
)
from fraudstream.ksql.engine.formats.timestamps import ts_parser
from fraudstream.ksql.engine.operators.rows import Log
from fraudstream.ksql.engine.operators.sink import SinkOperator
from fraudstream.ksql.engine.state import MaterializedTable
from fraudstream.ksql.engine.topology import Column, DataSource, WindowInfo
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = ["build_sink", "sink_formats", "sink_timestamp"]


def build_sink(
    *,
    topic: str,
    items: Sequence[OutputColumn],
    key_idx: list[int],
    key_cols: list[Column],
    value_cols: list[Column],
    key_format: FormatSpec,
    value_format: FormatSpec,
    window: WindowInfo | None,
    registry: SchemaRegistryLike | None,
    timestamp_props: Mapping[str, Any] | None,
    passthrough_null_key: bool,
    log: Log,
    table: MaterializedTable | None = None,
) -> SinkOperator:
    """Serializers and timestamp for the sink topic (format checks first, as ksqlDB)."""
    value_items = [it for i, it in enumerate(items) if i not in key_idx]
    check_supported(key_format, [(c.name, c.type) for c in key_cols], True)
    check_supported(value_format, [(c.name, c.type) for c in value_cols], False)
    kser = make_serde(
        key_format, [(c.name, c.type) for c in key_cols], topic, True, registry
    ).serialize
    vser = make_serde(
        value_format, [(c.name, c.type) for c in value_cols], topic, False, registry
    ).serialize
    timestamp_of = (
        sink_timestamp(timestamp_props, key_cols, value_cols) if timestamp_props else None
    )
    compiled = [items[i].compiled for i in key_idx] + [it.compiled for it in value_items]
    return SinkOperator(
        topic=topic,
        key_fns=[c.fn for c in compiled[: len(key_idx)] if c is not None],
        value_fns=[c.fn for c in compiled[len(key_idx) :] if c is not None],
        indexes=[c.index if c is not None else None for c in compiled],
        serialize_key=kser,
        serialize_value=vser,
        null_key_always=len(key_idx) == 1 or key_format.name in ("DELIMITED", "KAFKA"),
        passthrough_null_key=passthrough_null_key,
        timestamp_of=timestamp_of,
        ts_index=None,
        session=window is not None and window.type == "SESSION",
        log=log,
        table=table,
    )


def sink_timestamp(
    props: Mapping[str, Any], key_cols: list[Column], value_cols: list[Column]
) -> Callable[[list[Any], list[Any]], int | None] | None:
    """The WITH (TIMESTAMP=...) column of a new sink: where its value comes from."""
    sink_ts_col = props.get("TIMESTAMP")
    if not sink_ts_col:
        return None
    text = str(sink_ts_col)
    name = text.upper() if not text.startswith("`") else text[1:-1]
    idx = next((i for i, c in enumerate(value_cols) if c.name == name), None)
    kidx = next((i for i, c in enumerate(key_cols) if c.name == name), None)
    if idx is None and kidx is None:
        raise KsqlStatementError(
            f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        )
    fmt = props.get("TIMESTAMP_FORMAT")
    col = value_cols[idx] if idx is not None else key_cols[kidx]  # type: ignore[index]
    if col.type.base not in (T.BIGINT, T.TIMESTAMP) and not (col.type.base == T.STRING and fmt):
        raise KsqlStatementError(
            f"Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a "
            "timestamp_format specified."
        )
    parse = ts_parser(str(fmt) if fmt else None)
    if idx is not None:
        vi = idx
        return lambda keys, vals: parse(vals[vi])
    assert kidx is not None
    ki = kidx
    return lambda keys, vals: parse(keys[ki])


def sink_formats(
    existing_sink: DataSource | None,
    props: Mapping[str, Any],
    properties: Mapping[str, Any],
    key_cols: list[Column],
    base: DataSource,
    *,
    partition_null: bool,
) -> tuple[FormatSpec, FormatSpec]:
    """The sink's key and value formats: the existing sink's (INSERT INTO), or the WITH
    clause over the source's formats and the session's defaults."""
    if existing_sink is not None:
        return existing_sink.key_format, existing_sink.value_format
    return _sink_key_format(props, properties, key_cols, base, partition_null), _sink_value_format(
        props, properties, base
    )


def _sink_key_format(
    props: Mapping[str, Any],
    properties: Mapping[str, Any],
    key_cols: list[Column],
    base: DataSource,
    partition_null: bool,
) -> FormatSpec:
    kf = props.get("KEY_FORMAT") or props.get("FORMAT")
    key_format = replace(base.key_format, schema_id=None, schema_full_name=None)
    if kf:
        key_format = FormatSpec(str(kf).upper())
    elif not key_cols:
        if partition_null:
            key_format = FormatSpec("NONE")
        elif key_format.name == "NONE":
            key_format = FormatSpec("KAFKA")
    if kf and not key_cols and partition_null and str(kf).upper() != "NONE":
        raise KsqlStatementError("Key format specified for stream without key columns.")
    if key_cols and key_format.name == "NONE":
        if kf:
            raise KsqlStatementError(
                "The 'NONE' format can only be used when no columns are defined. Got: ["
                + ", ".join(f"`{c.name}` {c.type} KEY" for c in key_cols)
                + "]"
            )
        key_format = FormatSpec(properties.get("ksql.persistence.default.format.key", "KAFKA"))
    if "KEY_DELIMITER" in props:
        key_format.delimiter = str(props["KEY_DELIMITER"])
    return key_format


def _sink_value_format(
    props: Mapping[str, Any], properties: Mapping[str, Any], base: DataSource
) -> FormatSpec:
    vf = props.get("VALUE_FORMAT") or props.get("FORMAT")
    value_format = replace(
        base.value_format, schema_id=None, schema_full_name=None, wrap_single_value=None
    )
    default_wrap = properties.get("ksql.persistence.wrap.single.values")
    if default_wrap is not None and str(default_wrap) != "":
        value_format.wrap_single_value = str(default_wrap).lower() == "true"
    if vf:
        value_format = FormatSpec(str(vf).upper())
    wrap = props.get("WRAP_SINGLE_VALUE")
    if wrap is not None:
        value_format.wrap_single_value = bool(wrap)
    elif vf:
        value_format.wrap_single_value = None
    delim = props.get("VALUE_DELIMITER")
    if delim is not None:
        value_format.delimiter = str(delim)
    if props.get("VALUE_SCHEMA_ID") is not None:
        value_format.schema_id = int(props["VALUE_SCHEMA_ID"])
    full = props.get("VALUE_AVRO_SCHEMA_FULL_NAME")
    if full:
        value_format.schema_full_name = str(full)
    return value_format
