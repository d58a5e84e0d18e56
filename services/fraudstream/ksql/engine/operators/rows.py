"""Row helpers every operator shares: decode-or-log, hashable keys, JSON-ready values."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.topology import InRecord
from fraudstream.ksql.errors import KsqlProcessingError

__all__ = [
    "DECODE_ERRORS",
    "Emit",
    "Log",
    "Read",
    "RowFn",
    "decode_or_log",
    "hashable",
    "json_ready",
]

Log = Callable[[str, str, InRecord | None], None]
"""The query's processing log: (kind, message, record)."""
Read = Callable[[InRecord], tuple[list[Any], bool]]
"""A source reader: record -> (row, is_tombstone)."""
Emit = Callable[..., list[Any]]
"""The sink: row -> output records (persistent) or rows (transient)."""
RowFn = Callable[[Sequence[Any]], Any]
"""A compiled expression over a row."""

DECODE_ERRORS = (SerdeError, KsqlProcessingError, ValueError, TypeError, UnicodeDecodeError)


def decode_or_log(read: Read, log: Log, rec: InRecord) -> tuple[list[Any], bool] | None:
    """Decode a record; one that does not decode goes to the processing log (None)."""
    try:
        return read(rec)
    except DECODE_ERRORS as exc:
        log(
            "DESERIALIZATION_ERROR",
            f"Failed to deserialize value from topic: {rec.topic}. {exc}",
            rec,
        )
        return None


def hashable(v: Any) -> Any:
    """A dict/set key for a SQL value (lists and maps become tuples)."""
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, hashable(x)) for k, x in v.items()))
    return v


def json_ready(v: Any) -> Any:
    """A SQL value as a push query row shows it (DECIMAL as number, BYTES as base64)."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [json_ready(x) for x in v]
    if isinstance(v, dict):
        return {k: json_ready(x) for k, x in v.items()}
    return v
