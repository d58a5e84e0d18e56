"""SQL types of the engine, named and printed exactly as ksqlDB prints them
(`INTEGER`, `ARRAY<BIGINT>`, ``STRUCT<`F0` STRING>``, `DECIMAL(12, 2)`), because error
messages and DESCRIBE output are compared against ksqlDB's text.

Python value representation: BOOLEAN bool, INTEGER/BIGINT int, DOUBLE float, DECIMAL
decimal.Decimal, STRING str, BYTES bytes, DATE int (days), TIME int (ms of day),
TIMESTAMP int (epoch ms), ARRAY list, MAP dict, STRUCT dict (field name -> value).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field

from fraudstream.ksql.errors import KsqlStatementError

BOOLEAN = "BOOLEAN"
INTEGER = "INTEGER"
BIGINT = "BIGINT"
DOUBLE = "DOUBLE"
DECIMAL = "DECIMAL"
STRING = "STRING"
BYTES = "BYTES"
DATE = "DATE"
TIME = "TIME"
TIMESTAMP = "TIMESTAMP"
ARRAY = "ARRAY"
MAP = "MAP"
STRUCT = "STRUCT"
NULL = "NULL"  # only the type of a bare NULL literal before inference

# ksqlDB DECIMALs go up to 38 digits; Python's default context keeps only 28. Every
# context-sensitive DECIMAL operation of the engine (arithmetic, quantize, scaleb) passes this
# context explicitly, so importing the engine leaves the process-wide decimal context alone.
DECIMAL_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)


def decimal_quantum(scale: int) -> decimal.Decimal:
    """10^-scale, the quantize() target for a DECIMAL(p, scale) value."""
    return decimal.Decimal(1).scaleb(-scale, context=DECIMAL_CONTEXT)


INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class SqlType:
    """One SQL type; `params` holds (precision, scale) for DECIMAL."""

    base: str
    item: SqlType | None = None  # ARRAY item, MAP value
    key: SqlType | None = None  # MAP key
    fields: tuple[tuple[str, SqlType], ...] = field(default=())  # STRUCT
    precision: int = 0
    scale: int = 0

    def __str__(self) -> str:
        if self.base == ARRAY:
            return f"ARRAY<{self.item}>"
        if self.base == MAP:
            return f"MAP<{self.key}, {self.item}>"
        if self.base == STRUCT:
            inner = ", ".join(f"`{n}` {t}" for n, t in self.fields)
            return f"STRUCT<{inner}>"
        if self.base == DECIMAL:
            return f"DECIMAL({self.precision}, {self.scale})"
        return self.base

    @property
    def is_numeric(self) -> bool:
        return self.base in (INTEGER, BIGINT, DOUBLE, DECIMAL)

    @property
    def is_primitive(self) -> bool:
        return self.base not in (ARRAY, MAP, STRUCT)

    def contains_map(self) -> bool:
        if self.base == MAP:
            return True
        if self.base == ARRAY and self.item is not None:
            return self.item.contains_map()
        if self.base == STRUCT:
            return any(t.contains_map() for _, t in self.fields)
        return False

    def field_type(self, name: str) -> SqlType | None:
        for n, t in self.fields:
            if n == name:
                return t
        return None


T_BOOLEAN = SqlType(BOOLEAN)
T_INTEGER = SqlType(INTEGER)
T_BIGINT = SqlType(BIGINT)
T_DOUBLE = SqlType(DOUBLE)
T_STRING = SqlType(STRING)
T_BYTES = SqlType(BYTES)
T_DATE = SqlType(DATE)
T_TIME = SqlType(TIME)
T_TIMESTAMP = SqlType(TIMESTAMP)
T_NULL = SqlType(NULL)


def decimal_type(precision: int, scale: int) -> SqlType:
    if precision < 1:
        raise KsqlStatementError("DECIMAL precision must be >= 1")
    if scale < 0 or scale > precision:
        raise KsqlStatementError(
            f"DECIMAL scale must be between 0 and precision {precision}. Got {scale}"
        )
    return SqlType(DECIMAL, precision=precision, scale=scale)


def array_of(item: SqlType) -> SqlType:
    return SqlType(ARRAY, item=item)


def map_of(key: SqlType, value: SqlType) -> SqlType:
    return SqlType(MAP, key=key, item=value)


def struct_of(fields: list[tuple[str, SqlType]]) -> SqlType:
    return SqlType(STRUCT, fields=tuple(fields))


_BASE_NAMES = {
    "BOOLEAN": T_BOOLEAN,
    "INT": T_INTEGER,
    "INTEGER": T_INTEGER,
    "BIGINT": T_BIGINT,
    "DOUBLE": T_DOUBLE,
    "STRING": T_STRING,
    "VARCHAR": T_STRING,
    "BYTES": T_BYTES,
    "DATE": T_DATE,
    "TIME": T_TIME,
    "TIMESTAMP": T_TIMESTAMP,
}


def base_type(name: str) -> SqlType:
    """Resolve a simple type name (`INT`, `VARCHAR`, ...); unknown names are rejected."""
    t = _BASE_NAMES.get(name.upper())
    if t is None:
        raise KsqlStatementError(f"Unknown type: {name}")
    return t


def decimal_for_int(t: SqlType) -> SqlType:
    """The DECIMAL an integer type widens to (ksqlDB: INT -> DECIMAL(10,0), BIGINT -> (19,0))."""
    if t.base == INTEGER:
        return SqlType(DECIMAL, precision=10, scale=0)
    if t.base == BIGINT:
        return SqlType(DECIMAL, precision=19, scale=0)
    return t


_NUMERIC_RANK = {INTEGER: 0, BIGINT: 1, DECIMAL: 2, DOUBLE: 3}


def wider_numeric(a: SqlType, b: SqlType) -> SqlType:
    """The common numeric type of two operands (INTEGER < BIGINT < DECIMAL < DOUBLE)."""
    if _NUMERIC_RANK[a.base] >= _NUMERIC_RANK[b.base]:
        return a
    return b


def can_implicitly_cast(src: SqlType, dst: SqlType) -> bool:
    """Whether ksqlDB widens `src` to `dst` without an explicit CAST (function args, IN, etc.)."""
    if src == dst or src.base == NULL:
        return True
    if src.is_numeric and dst.is_numeric:
        return _NUMERIC_RANK[src.base] <= _NUMERIC_RANK[dst.base]
    if src.base == dst.base == ARRAY and src.item and dst.item:
        return can_implicitly_cast(src.item, dst.item)
    if src.base == dst.base == MAP and src.item and dst.item and src.key and dst.key:
        return can_implicitly_cast(src.key, dst.key) and can_implicitly_cast(src.item, dst.item)
    if src.base == dst.base == STRUCT:
        return src.fields == dst.fields
    return False


def java_double_str(d: float) -> str:
    """Java's Double.toString: `1.0`, `1.0E7`, `1.0E-4`, `NaN`, `Infinity` (ksqlDB prints
    doubles this way in CAST(... AS STRING) and the DELIMITED format)."""
    if d != d:
        return "NaN"
    if d in (float("inf"), float("-inf")):
        return "Infinity" if d > 0 else "-Infinity"
    if d == 0:
        return "-0.0" if str(d).startswith("-") else "0.0"
    a = abs(d)
    if 1e-3 <= a < 1e7:
        s = repr(d)
        if "e" in s or "E" in s:
            s = format(d, "f")
        if "." not in s:
            s += ".0"
        return s
    mantissa, exp = f"{d:.17e}".split("e")
    # shortest round-trip digits
    r = repr(d)
    if "e" in r:
        m, e = r.split("e")
        mantissa, exp = m, e
    else:
        digits = r.replace("-", "").replace(".", "").lstrip("0")
        e10 = (
            len(r.replace("-", "").split(".")[0]) - 1
            if a >= 1
            else -(len(r.split(".")[1]) - len(r.split(".")[1].lstrip("0")) + 1)
        )
        digits = digits.rstrip("0") or "0"
        mantissa = ("-" if d < 0 else "") + digits[0] + "." + (digits[1:] or "0")
        exp = str(e10)
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{int(exp)}"
