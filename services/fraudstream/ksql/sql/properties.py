"""Statement and stream properties: the WITH clause's names and values, and the `ksql.*` /
streams properties a request or SET gives.

Pure parsing and validation with ksqlDB's messages (no formats, no engine state): which WITH
names a statement accepts, their literal values, delimiters, durations, Avro full names, the
TIMESTAMP column name; the engine's default properties and the push query's
`auto.offset.reset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import TIME_UNITS

__all__ = [
    "CREATE_AS_PROPERTIES",
    "CREATE_PROPERTIES",
    "DEFAULT_PROPERTIES",
    "INSERT_PROPERTIES",
    "check_full_name",
    "column_name",
    "offset_reset",
    "parse_delimiter",
    "parse_duration",
    "with_properties",
    "wrap_single_values",
]

# the WITH clause of CREATE STREAM/TABLE (ksqlDB's CommonCreateConfigs + CreateConfigs)
CREATE_PROPERTIES = frozenset(
    {
        "KAFKA_TOPIC",
        "VALUE_FORMAT",
        "KEY_FORMAT",
        "FORMAT",
        "PARTITIONS",
        "REPLICAS",
        "TIMESTAMP",
        "TIMESTAMP_FORMAT",
        "WRAP_SINGLE_VALUE",
        "VALUE_DELIMITER",
        "KEY_DELIMITER",
        "WINDOW_TYPE",
        "WINDOW_SIZE",
        "VALUE_AVRO_SCHEMA_FULL_NAME",
        "KEY_SCHEMA_ID",
        "VALUE_SCHEMA_ID",
        "KEY_SCHEMA_FULL_NAME",
        "VALUE_SCHEMA_FULL_NAME",
        "RETENTION_MS",
        "CLEANUP_POLICY",
        "SOURCE_CONNECTOR",
        "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
        "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
    }
)
# CREATE ... AS SELECT: the same minus the window of a source declared over a windowed topic
CREATE_AS_PROPERTIES = CREATE_PROPERTIES - {"WINDOW_TYPE", "WINDOW_SIZE"}
INSERT_PROPERTIES = frozenset({"QUERY_ID"})

# the engine's properties before any SET or request override (LIST PROPERTIES' defaults)
DEFAULT_PROPERTIES: dict[str, Any] = {
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.output.topic.name.prefix": "",
    "ksql.persistence.wrap.single.values": None,
    "auto.offset.reset": "latest",
}


def with_properties(props: Mapping[str, A.Literal], allowed: frozenset[str]) -> dict[str, Any]:
    """The WITH clause's values by name; unknown names are refused as ksqlDB refuses them."""
    bad = [k for k in props if k not in allowed]
    if bad:
        raise KsqlStatementError(f"Invalid config variable(s) in the WITH clause: {','.join(bad)}")
    return {k: v.value for k, v in props.items()}


def column_name(value: Any) -> str | None:
    """A column named in a property (TIMESTAMP): back-quoted keeps its case, else upper."""
    if value is None:
        return None
    s = str(value)
    if s.startswith("`") and s.endswith("`"):
        return s[1:-1]
    return s.upper()


def check_full_name(name: str, fmt: str) -> str:
    """VALUE_AVRO_SCHEMA_FULL_NAME is an AVRO-only, non-empty setting (ksqlDB's messages)."""
    if fmt != "AVRO":
        raise KsqlStatementError(f"{fmt} does not support the following configs: [fullSchemaName]")
    if not name.strip():
        raise KsqlStatementError(
            "fullSchemaName cannot be empty. Format configuration: {fullSchemaName="
            + name.strip()
            + "}"
        )
    return name


def parse_duration(text: str) -> int:
    """`10 SECONDS` -> milliseconds (WINDOW_SIZE)."""
    parts = text.strip().split()
    if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
        raise KsqlStatementError(f"Invalid duration: '{text}'")
    unit = parts[1].upper()
    if unit not in TIME_UNITS:
        raise KsqlParseError(
            f"Configuration WINDOW_SIZE is invalid: Invalid duration: '{text}'. Unknown "
            f"time unit: '{unit}'"
        )
    return int(parts[0]) * TIME_UNITS[unit]


def parse_delimiter(d: str, prop: str) -> str:
    """A DELIMITED format's delimiter: one character, or TAB / SPACE."""
    if d.strip() == "":
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Delimiter cannot be "
            "empty, if you meant to have a tab or space for delimiter, please use the special "
            "values 'TAB' or 'SPACE'\nExample valid value: ';'"
        )
    if d.upper() == "TAB":
        return "\t"
    if d.upper() == "SPACE":
        return " "
    if len(d) != 1:
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Invalid delimiter "
            f"value: '{d}'. Delimiter must be a single character or TAB,SPACE\nExample "
            "valid value: ';'"
        )
    return d


def wrap_single_values(properties: Mapping[str, Any]) -> bool | None:
    """`ksql.persistence.wrap.single.values` as a bool (None: not set)."""
    wrap = properties.get("ksql.persistence.wrap.single.values")
    if isinstance(wrap, str):
        return wrap.lower() == "true"
    return None if wrap is None else bool(wrap)


def offset_reset(properties: Mapping[str, Any] | None) -> str:
    """Where a push query starts: `auto.offset.reset` (or its streams-prefixed name), else
    ksqlDB's default `latest`."""
    props = properties or {}
    return str(
        props.get("auto.offset.reset") or props.get("ksql.streams.auto.offset.reset") or "latest"
    )
