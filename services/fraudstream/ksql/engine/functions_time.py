"""Date / time UDFs over the engine's int temporals: arithmetic (DATEADD ... TIMESTAMPSUB),
Java-pattern formatting and parsing (FORMAT_* / PARSE_* / STRINGTO* / *TOSTRING, see
`javatime`), UNIX_DATE, UNIX_TIMESTAMP and CONVERT_TZ.

The unit argument is a bare time unit (DAYS, MILLISECONDS, ...); DATE values are days,
TIME values milliseconds of the day (wrapping at midnight), TIMESTAMP values epoch millis.
Registered into `functions` on import.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fraudstream.ksql.engine import javatime as J
from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.errors import KsqlProcessingError
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


# ----------------------------------------------------------------------------- patterns
# Java-pattern UDFs (see `javatime`): NULL arguments give NULL; a value that does not parse
# or format is an error (NULL with a processing-log entry, as ksqlDB's KsqlFunctionException).

_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_STR = (T.STRING, T.NULL)


def _zoned(ms: int, tz: dt.tzinfo) -> dt.datetime:
    try:
        return (_EPOCH_UTC + dt.timedelta(milliseconds=ms)).astimezone(tz)
    except OverflowError:
        raise KsqlProcessingError(f"Timestamp out of range: {ms}") from None


def _day(days: int) -> dt.date:
    try:
        return _EPOCH_DATE + dt.timedelta(days=days)
    except OverflowError:
        raise KsqlProcessingError(f"Date out of range: {days}") from None


def _time_of_day(ms: int) -> dt.time:
    secs, milli = divmod(ms, 1000)
    mins, sec = divmod(secs, 60)
    hour, minute = divmod(mins, 60)
    return dt.time(hour, minute, sec, milli * 1000)


def _check_pattern(index: int, parse: bool = False, lenient: bool = False) -> Any:
    """A plan-time check refusing a constant pattern the engine cannot follow exactly."""

    def check(values: list[Any]) -> None:
        v = values[index] if index < len(values) else None
        if isinstance(v, str):
            p = J.pattern(v)
            if parse:
                J.check_parsable(p, lenient)

    return check


def _expect(name: str, types: list[T.SqlType], *allowed: tuple[str, ...]) -> None:
    if len(types) != len(allowed) or any(
        t.base not in ok for t, ok in zip(types, allowed, strict=True)
    ):
        raise bad_args(name, types)


def _formatter(name: str, base: str, kind: str, zoned: bool, default_zone: str) -> None:
    arg = (base, T.NULL)

    def resolver(types: list[T.SqlType]) -> Resolved:
        if zoned and len(types) == 3:
            _expect(name, types, arg, _STR, _STR)
        else:
            _expect(name, types, arg, _STR)

        def impl(v: int, fmt: str, tz: str = default_zone) -> str:
            p = J.pattern(fmt)
            if kind == "timestamp":
                return J.format_value(p, _zoned(v, J.zone(tz)), kind)
            if kind == "date":
                return J.format_value(p, _day(v), kind)
            return J.format_value(p, _time_of_day(v), kind)

        return Resolved(T.T_STRING, impl, check=_check_pattern(1))

    register(name)(resolver)


_formatter("FORMAT_TIMESTAMP", T.TIMESTAMP, "timestamp", True, "GMT")
# ksqlDB formats in the JVM's default zone: the embedded engine's is UTC
_formatter("TIMESTAMPTOSTRING", T.BIGINT, "timestamp", True, "UTC")
_formatter("FORMAT_DATE", T.DATE, "date", False, "")
_formatter("DATETOSTRING", T.INTEGER, "date", False, "")
_formatter("FORMAT_TIME", T.TIME, "time", False, "")


def _timestamp_parser(name: str, rt: T.SqlType, default_zone: str) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if len(types) == 3:
            _expect(name, types, _STR, _STR, _STR)
        else:
            _expect(name, types, _STR, _STR)

        def impl(text: str, fmt: str, tz: str = default_zone) -> int:
            return J.parse_timestamp(J.pattern(fmt), text, J.zone(tz))

        return Resolved(rt, impl, check=_check_pattern(1, parse=True))

    register(name)(resolver)


_timestamp_parser("PARSE_TIMESTAMP", T.SqlType(T.TIMESTAMP), "GMT")
# the JVM's default zone again (UTC for the embedded engine)
_timestamp_parser("STRINGTOTIMESTAMP", T.T_BIGINT, "UTC")


def _local_parser(name: str, rt: T.SqlType, kind: str) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        _expect(name, types, _STR, _STR)
        lenient = kind == "lenient-date"

        def impl(text: str, fmt: str) -> int:
            p = J.pattern(fmt)
            if lenient:
                return J.parse_date_lenient(p, text)
            return J.parse_local(p, text, kind)

        return Resolved(rt, impl, check=_check_pattern(1, parse=True, lenient=lenient))

    register(name)(resolver)


_local_parser("PARSE_DATE", T.SqlType(T.DATE), "lenient-date")
_local_parser("STRINGTODATE", T.T_INTEGER, "date")
_local_parser("PARSE_TIME", T.SqlType(T.TIME), "time")


def _now_or(name: str, base: str, rt: T.SqlType, now: Any) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if not types:
            return Resolved(rt, now)
        _expect(name, types, (base, T.NULL))
        return Resolved(rt, lambda v: v)  # a DATE is its day number, a TIMESTAMP its millis

    register(name)(resolver)


_now_or("UNIX_DATE", T.DATE, T.T_INTEGER, lambda: int(time.time() // 86_400))
_now_or("UNIX_TIMESTAMP", T.TIMESTAMP, T.T_BIGINT, lambda: int(time.time() * 1000))


@register("CONVERT_TZ")
def _convert_tz(types: list[T.SqlType]) -> Resolved:
    """The wall-clock time in `to` of the instant whose wall-clock time in `from` is `ts`:
    ts + offset(to, ts) - offset(from, ts), both offsets taken at the instant ts (ksqlDB's)."""
    _expect("CONVERT_TZ", types, (T.TIMESTAMP, T.NULL), _STR, _STR)

    def impl(ts: int, src: str, dst: str) -> int:
        return ts + J.offset_ms(J.zone(dst), ts) - J.offset_ms(J.zone(src), ts)

    return Resolved(T.SqlType(T.TIMESTAMP), impl)
