"""Date / time arithmetic UDFs (DATEADD ... TIMESTAMPSUB) over the engine's int temporals.

The unit argument is a bare time unit (DAYS, MILLISECONDS, ...); DATE values are days,
TIME values milliseconds of the day (wrapping at midnight), TIMESTAMP values epoch millis.
Registered into `functions` on import.
"""

from __future__ import annotations

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.sql import types as T

__all__ = ["UNIT_MS"]

UNIT_MS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1000,
    "SECONDS": 1000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}
_DAY_MS = 86_400_000


def _arith(name: str, base: str, sign: int) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if (
            len(types) != 3
            or types[0].base != T.STRING
            or types[1].base not in (T.INTEGER, T.BIGINT, T.NULL)
            or types[2].base not in (base, T.NULL)
        ):
            raise bad_args(name.lower(), types)  # ksqlDB registers these UDFs in lower case

        def impl(unit: str, n: int | None, v: int | None) -> int | None:
            if n is None or v is None:
                return None
            delta = sign * n * UNIT_MS[unit.upper()]
            if base == T.DATE:
                return (v * _DAY_MS + delta) // _DAY_MS
            if base == T.TIME:
                return (v + delta) % _DAY_MS
            return v + delta

        return Resolved(T.SqlType(base), impl, null_safe=False)

    register(name)(resolver)


_arith("DATEADD", T.DATE, 1)
_arith("DATESUB", T.DATE, -1)
_arith("TIMEADD", T.TIME, 1)
_arith("TIMESUB", T.TIME, -1)
_arith("TIMESTAMPADD", T.TIMESTAMP, 1)
_arith("TIMESTAMPSUB", T.TIMESTAMP, -1)
