"""Record timestamps from a column: BIGINT milliseconds, TIMESTAMP, or a string parsed with a
java.time pattern (WITH TIMESTAMP=..., TIMESTAMP_FORMAT=...)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fraudstream.ksql.engine import javatime
from fraudstream.ksql.engine.topology import DataSource
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = ["timestamp_extractor", "ts_parser"]


def ts_parser(fmt: str | None) -> Callable[[Any], int | None]:
    """BIGINT milliseconds as they are, or a string parsed with a java.time pattern as
    ksqlDB's StringToTimestampParser does (in the JVM's default zone: UTC here); a pattern
    the engine cannot follow exactly is refused when the statement is planned."""
    if fmt is None:

        def as_ms(v: Any) -> int | None:
            if v is None:
                return None
            if isinstance(v, int):
                return v
            raise KsqlProcessingError(f"Timestamp column value is not a BIGINT: {v!r}")

        return as_ms
    pattern = javatime.pattern(fmt)
    javatime.check_parsable(pattern)

    def parse(v: Any) -> int | None:
        if v is None:
            return None
        try:
            return javatime.parse_timestamp(pattern, str(v), dt.UTC)
        except KsqlProcessingError as exc:
            raise KsqlProcessingError(
                f"Failed to parse timestamp '{v}' with format '{fmt}': {exc}"
            ) from None

    return parse


def timestamp_extractor(
    src: DataSource, column: str, fmt: str | None
) -> Callable[[list[Any]], int | None]:
    names = [c.name for c in src.key_columns] + [c.name for c in src.value_columns]
    if column not in names:
        raise KsqlStatementError(
            f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
        )
    idx = names.index(column)
    col = src.column(column)
    assert col is not None
    if col.type.base not in (T.BIGINT, T.TIMESTAMP) and not (col.type.base == T.STRING and fmt):
        raise KsqlStatementError(
            f"Timestamp column, `{column}`, should be LONG(INT64), TIMESTAMP, or a String with a "
            "timestamp_format specified."
        )
    parse = ts_parser(fmt if col.type.base == T.STRING else None)
    return lambda row: parse(row[idx])
