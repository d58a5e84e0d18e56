"""Key/value formats (JSON, AVRO, DELIMITED, KAFKA, NONE) and the Schema Registry seam.

A serde is built once per (query, source/sink) for a column list and returns plain
closures: `serialize(values) -> bytes | None` and `deserialize(bytes) -> list`, so the
per-record path is one call each. One module per format; `codegen` generates the hot
per-record functions; `timestamps` reads record times from columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.ksql.engine.formats.avro import (
    AVRO_NAMESPACE,
    AVRO_RECORD,
    avro_schema_for,
    avro_serde,
    avro_type,
    sql_type_from_avro,
)
from fraudstream.ksql.engine.formats.delimited import delimited_serde
from fraudstream.ksql.engine.formats.json import dumps_json, json_serde
from fraudstream.ksql.engine.formats.kafka import kafka_serde, window_suffix
from fraudstream.ksql.engine.formats.spec import (
    KNOWN_FORMATS,
    SUPPORTED_FORMATS,
    Column,
    FormatSpec,
    InMemorySchemaRegistry,
    SchemaRegistryLike,
    Serde,
    Values,
    check_supported,
)
from fraudstream.ksql.errors import KsqlStatementError

__all__ = [
    "AVRO_NAMESPACE",
    "AVRO_RECORD",
    "KNOWN_FORMATS",
    "SUPPORTED_FORMATS",
    "Column",
    "FormatSpec",
    "InMemorySchemaRegistry",
    "SchemaRegistryLike",
    "Serde",
    "Values",
    "avro_schema_for",
    "avro_type",
    "check_supported",
    "dumps_json",
    "make_serde",
    "sql_type_from_avro",
    "window_suffix",
]


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
        return json_serde(fmt, columns, is_key)
    if name == "KAFKA":
        return kafka_serde(columns, is_key)
    if name == "DELIMITED":
        return delimited_serde(fmt, columns)
    if name == "AVRO":
        if registry is None:
            raise KsqlStatementError("AVRO format requires a Schema Registry (none configured)")
        return avro_serde(fmt, columns, topic, is_key, registry)
    if name == "NONE":
        if columns:
            raise KsqlStatementError(
                "The 'NONE' format can only be used when no columns are defined. Got: ["
                + ", ".join(f"`{c}` {t}{' KEY' if is_key else ''}" for c, t in columns)
                + "]"
            )
        return Serde(lambda v: None, lambda b: [])
    raise KsqlStatementError(f"The '{name}' format is not supported by the embedded engine")
