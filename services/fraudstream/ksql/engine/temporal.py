"""DATE / TIME / TIMESTAMP values: the engine holds them as ints (days since the epoch,
milliseconds of the day, epoch milliseconds, as ksqlDB's serialized forms); this module
converts them to and from ksqlDB's text forms (CAST, comparisons with string literals)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

__all__ = [
    "TEMPORAL",
    "format_temporal",
    "parse_date",
    "parse_partial_timestamp",
    "parse_temporal",
    "parse_time",
    "parse_timestamp",
    "temporal_converter",
]

TEMPORAL = (T.DATE, T.TIME, T.TIMESTAMP)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_DAY_MS = 86_400_000


def parse_date(s: str) -> int:
    """'2022-06-14' -> days since the epoch (a missing month or day is the first)."""
    text = s.strip()
    parts = text.split("-")
    if 1 <= len(parts) < 3 and all(p.isdigit() for p in parts):
        text = "-".join([*parts, *(["01"] * (3 - len(parts)))])
    try:
        return (datetime.date.fromisoformat(text) - _EPOCH.date()).days
    except ValueError:
        raise KsqlProcessingError(f"Failed to parse date '{s}'") from None


def parse_time(s: str) -> int:
    """'09:16:00[.123]' -> milliseconds of the day."""
    try:
        t = datetime.time.fromisoformat(s.strip())
    except ValueError:
        raise KsqlProcessingError(f"Failed to parse time '{s}'") from None
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000


def parse_timestamp(s: str) -> int:
    """'2022-06-14T00:00:00[.000][zone]' (UTC unless zoned) -> epoch milliseconds."""
    try:
        d = datetime.datetime.fromisoformat(s.strip())
    except ValueError:
        raise KsqlProcessingError(f"Failed to parse timestamp '{s}'") from None
    d = d if d.tzinfo is not None else d.replace(tzinfo=datetime.UTC)
    return (d - _EPOCH) // datetime.timedelta(milliseconds=1)


_PARTIAL = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


def parse_partial_timestamp(s: str) -> int:
    """ksqlDB's string form of ROWTIME / WINDOWSTART / WINDOWEND in comparisons
    (`yyyy[-MM[-dd[THH[:mm[:ss[.SSS]]]]]][zone]`, missing parts at their minimum, UTC
    unless a zone is given) -> epoch milliseconds."""
    m = _PARTIAL.fullmatch(s.strip())
    if m is None:
        raise KsqlProcessingError(f"Failed to parse timestamp '{s}'")
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    tz = datetime.UTC
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = datetime.timezone(offset if zone[0] == "+" else -offset)
    hour = int(h or 0)
    # hour 24 is the end of the day (Java's parser reads `T24` as the next midnight)
    next_day = hour == 24 and not int(mi or 0) and not int(sec or 0) and not int(frac or 0)
    try:
        dt = datetime.datetime(
            int(y),
            int(mo or 1),
            int(d or 1),
            0 if next_day else hour,
            int(mi or 0),
            int(sec or 0),
            int((frac or "0").ljust(3, "0")) * 1000,
            tzinfo=tz,
        )
    except ValueError:  # a field out of range: month 13, hour 25, ...
        raise KsqlProcessingError(f"Failed to parse timestamp '{s}'") from None
    if next_day:
        dt += datetime.timedelta(days=1)
    return (dt - _EPOCH) // datetime.timedelta(milliseconds=1)


_PARSERS: dict[str, Callable[[str], int]] = {
    T.DATE: parse_date,
    T.TIME: parse_time,
    T.TIMESTAMP: parse_timestamp,
}


def parse_temporal(base: str) -> Callable[[str], int]:
    """The parser of one temporal type's text form."""
    return _PARSERS[base]


def format_temporal(v: int, base: str) -> str:
    """ksqlDB's text of a temporal value: ISO date, java.time.LocalTime.toString() for TIME,
    `yyyy-MM-dd'T'HH:mm:ss.SSS` (UTC) for TIMESTAMP."""
    if base == T.DATE:
        return (_EPOCH.date() + datetime.timedelta(days=v)).isoformat()
    if base == T.TIME:
        secs, ms = divmod(v, 1000)
        mins, sec = divmod(secs, 60)
        hour, minute = divmod(mins, 60)
        out = f"{hour:02d}:{minute:02d}"
        if sec or ms:
            out += f":{sec:02d}"
        if ms:
            out += f".{ms:03d}"
        return out
    d = _EPOCH + datetime.timedelta(milliseconds=v)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond // 1000:03d}"


def temporal_converter(src: str, dst: str) -> Callable[[int], int] | None:
    """CAST between temporal types (DATE <-> TIMESTAMP, TIMESTAMP -> TIME), or None."""
    if src == T.DATE and dst == T.TIMESTAMP:
        return lambda v: v * _DAY_MS
    if src == T.TIMESTAMP and dst == T.DATE:
        return lambda v: v // _DAY_MS
    if src == T.TIMESTAMP and dst == T.TIME:
        return lambda v: v % _DAY_MS
    return None
