"""The DELIMITED format: one CSV line per record, written with Apache Commons CSV's minimal
quoting as ksqlDB writes it."""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats.spec import Column, FormatSpec, Serde, Values
from fraudstream.ksql.sql import types as T

__all__ = ["delimited_serde"]


def _parse_field(s: str, t: T.SqlType) -> Any:
    """One field as its column type (empty: NULL)."""
    if s == "":
        return None
    parse = _PARSERS.get(t.base)
    if parse is None:
        return s
    try:
        return parse(s, t)
    except (ValueError, InvalidOperation):
        raise SerdeError(f"Failed to deserialize delimited field '{s}' as {t}") from None


def _parse_int(s: str, t: T.SqlType) -> int:
    v = int(s.strip())
    lo, hi = (T.INT_MIN, T.INT_MAX) if t.base == T.INTEGER else (T.LONG_MIN, T.LONG_MAX)
    if not lo <= v <= hi:
        raise ValueError(s)
    return v


def _parse_decimal(s: str, t: T.SqlType) -> Decimal:
    return Decimal(s.strip()).quantize(
        T.decimal_quantum(t.scale), rounding=ROUND_HALF_UP, context=T.DECIMAL_CONTEXT
    )


def _parse_bool(s: str, t: T.SqlType) -> bool:
    low = s.strip().lower()
    if low not in ("true", "false"):
        raise ValueError(s)
    return low == "true"


_PARSERS: dict[str, Callable[[str, T.SqlType], Any]] = {
    T.INTEGER: _parse_int,
    T.BIGINT: _parse_int,
    T.DOUBLE: lambda s, t: float(s.strip()),
    T.DECIMAL: _parse_decimal,
    T.BOOLEAN: _parse_bool,
    T.BYTES: lambda s, t: base64.b64decode(s),
    T.DATE: lambda s, t: int(s),
    T.TIME: lambda s, t: int(s),
    T.TIMESTAMP: lambda s, t: int(s),
}


def _fmt_field(v: Any, t: T.SqlType) -> str:
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


def delimited_serde(fmt: FormatSpec, columns: Sequence[Column]) -> Serde:
    delim = fmt.delimiter
    types = [t for _, t in columns]
    n = len(columns)

    def de(data: bytes) -> Values:
        text = data.decode("utf-8")
        rows = list(csv.reader([text], delimiter=delim, quotechar='"', strict=False))
        fields = rows[0] if rows else [""]
        if len(fields) != n:
            raise SerdeError(
                "Column count mismatch on deserialization. topic: , partition: 0, offset: 0"
            )
        return [_parse_field(f, t) for f, t in zip(fields, types, strict=True)]

    specials = {delim, '"', "\r", "\n"}

    def quote(s: str, first: bool) -> str:
        # Apache Commons CSV MINIMAL quoting, as ksqlDB writes DELIMITED values
        if not s:
            return '""' if first else s
        # Commons CSV quotes a value that starts with a character <= "#" (space, !, ", #)
        if s[0] <= "#" or s[-1] <= " " or any(c in specials for c in s):
            return '"' + s.replace('"', '""') + '"'
        return s

    # numbers and booleans are printed as-is; text (strings, decimals) goes through quoting
    # (ksqlDB hands DECIMAL and DATE/TIME/TIMESTAMP to the CSV printer as text too)
    _temporal = (T.DATE, T.TIME, T.TIMESTAMP)
    textual = [t.base in (T.STRING, T.DECIMAL, T.BYTES, *_temporal) for t in types]

    def ser(values: Sequence[Any]) -> bytes | None:
        parts = []
        for i, (v, t) in enumerate(zip(values, types, strict=True)):
            if v is None:
                parts.append("")
            elif textual[i]:
                s = _fmt_field(v, t)
                if (t.base == T.DECIMAL or t.base in _temporal) and s[:1] == "-":
                    parts.append('"' + s + '"')
                else:
                    parts.append(quote(s, i == 0))
            else:
                parts.append(_fmt_field(v, t))
        return delim.join(parts).encode()

    return Serde(ser, de)
