"""java.time patterns (DateTimeFormatter, and SimpleDateFormat for PARSE_DATE), translated
exactly or refused.

ksqlDB's date/time UDFs take Java pattern strings. A pattern is compiled once into a list of
tokens; letters whose Java behaviour is not reproduced here exactly (optional sections,
week-based fields, localized zone names when parsing, text fields where ksqlDB parses with
Locale.ROOT, ...) are refused with "not supported by the embedded engine: date-time pattern
...". Formatting and parsing follow DateTimeFormatter's strict widths and SMART resolver
(day-of-month clamped to the month when the year is known), English month and day names
(the JVM's default locale in ksqlDB's images); SimpleDateFormat parsing (PARSE_DATE) is
lenient, as Java's: numbers of any width, days and months roll over, trailing text ignored.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fraudstream.ksql.engine.messages import not_supported
from fraudstream.ksql.errors import KsqlProcessingError, KsqlUnsupportedError

__all__ = [
    "Pattern",
    "check_parsable",
    "format_value",
    "offset_ms",
    "parse_date_lenient",
    "parse_local",
    "parse_timestamp",
    "pattern",
    "zone",
]

_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_MONTHS_SHORT = [calendar.month_abbr[i] for i in range(1, 13)]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DATE_LETTERS = set("yuMdE")
_TIME_LETTERS = set("HhkKmsSa")
_ZONE_LETTERS = set("XxZz")
_NUMERIC = set("yuMdHhkKmsS")
# letter -> counts supported
_SUPPORTED = {
    "y": {2, 4},
    "u": {2, 4},
    "M": {1, 2, 3, 4},
    "d": {1, 2},
    "E": {1, 2, 3, 4},
    "H": {1, 2},
    "h": {1, 2},
    "k": {1, 2},
    "K": {1, 2},
    "m": {1, 2},
    "s": {1, 2},
    "S": set(range(1, 10)),
    "a": {1},
    "X": {1, 2, 3},
    "x": {1, 2, 3},
    "Z": {1, 2, 3},
    "z": {1, 2, 3},
}


def _refuse(what: str) -> KsqlUnsupportedError:
    return KsqlUnsupportedError(not_supported(f"date-time pattern {what}"))


@dataclass(frozen=True)
class Pattern:
    """A tokenized Java pattern: ("lit", text) or (letter, count) tokens."""

    text: str
    tokens: tuple[tuple[str, Any], ...]

    @property
    def letters(self) -> set[str]:
        return {t for t, _ in self.tokens if t != "lit"}


@lru_cache(maxsize=256)
def pattern(text: str) -> Pattern:
    """Tokenize a DateTimeFormatter pattern, refusing what is not reproduced exactly."""
    out: list[tuple[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            j = i + 1
            lit = []
            while True:
                if j >= n:
                    raise _refuse(f"'{text}' (unterminated quote)")
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        lit.append("'")
                        j += 2
                        continue
                    break
                lit.append(text[j])
                j += 1
            out.append(("lit", "".join(lit) if j > i + 1 else "'"))
            i = j + 1
            continue
        if c.isascii() and c.isalpha():
            j = i
            while j < n and text[j] == c:
                j += 1
            count = j - i
            if count not in _SUPPORTED.get(c, set()):
                raise _refuse(f"letter '{c * count}' in '{text}'")
            out.append((c, count))
            i = j
            continue
        if c in "[]{}#":
            raise _refuse(f"'{c}' in '{text}'")
        out.append(("lit", c))
        i += 1
    return Pattern(text, tuple(out))


# ----------------------------------------------------------------------------- zones


_OFFSET = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$")


def _offset_zone(sign: str, h: str, m: str | None, s: str | None) -> dt.tzinfo:
    secs = int(h) * 3600 + int(m or 0) * 60 + int(s or 0)
    if int(h) > 18 or int(m or 0) > 59 or int(s or 0) > 59 or secs > 18 * 3600:
        raise KsqlProcessingError(f"Invalid ID for ZoneOffset: {sign}{h}")
    return dt.timezone(dt.timedelta(seconds=-secs if sign == "-" else secs))


@lru_cache(maxsize=256)
def zone(zone_id: str) -> dt.tzinfo:
    """java.time.ZoneId.of: an offset (+h, +hh, +hh:mm, +hhmm, ...), Z / UTC / GMT / UT with
    an optional offset, or a region id."""
    m = _OFFSET.match(zone_id)
    if m and len(m.group(2)) in (1, 2):
        if len(m.group(2)) == 1 and (m.group(3) or m.group(4)):
            raise KsqlProcessingError(f"Invalid ID for ZoneOffset: {zone_id}")
        return _offset_zone(*m.groups())
    if zone_id == "Z":
        return dt.UTC
    for prefix in ("UTC", "GMT", "UT"):
        if zone_id == prefix:
            return dt.UTC
        if zone_id.startswith(prefix) and zone_id[len(prefix)] in "+-":
            m = _OFFSET.match(zone_id[len(prefix) :])
            if m is None:
                raise KsqlProcessingError(f"Invalid ID for offset-based ZoneId: {zone_id}")
            return _offset_zone(*m.groups())
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9~/._+-]+", zone_id):
        raise KsqlProcessingError(f"Invalid ID for region-based ZoneId: {zone_id}")
    try:
        return ZoneInfo(zone_id)
    except (ZoneInfoNotFoundError, ValueError):
        raise KsqlProcessingError(f"Unknown time-zone ID: {zone_id}") from None


def offset_ms(tz: dt.tzinfo, epoch_ms: int) -> int:
    """The zone's UTC offset at an instant, in milliseconds."""
    d = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).astimezone(tz)
    off = d.utcoffset()
    assert off is not None
    return int(off.total_seconds() * 1000)


# ----------------------------------------------------------------------------- formatting


def _fmt_offset(secs: int, count: int, letter: str) -> str:
    if secs == 0 and letter == "X":
        return "Z"
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if s:
        raise KsqlProcessingError(not_supported("a zone offset with seconds in a pattern"))
    if letter == "Z":
        return f"{sign}{h:02d}{m:02d}"
    if count == 1:
        return f"{sign}{h:02d}" + (f"{m:02d}" if m else "")
    if count == 2:
        return f"{sign}{h:02d}{m:02d}"
    return f"{sign}{h:02d}:{m:02d}"


_UNIT = {"m": "minute", "s": "second"}


def _clock(letter: str, hour: int) -> int:
    if letter == "h":
        return (hour % 12) or 12
    if letter == "k":
        return hour or 24
    if letter == "K":
        return hour % 12
    return hour


def format_value(p: Pattern, value: dt.datetime | dt.date | dt.time, kind: str) -> str:
    """`value` (a zoned datetime for kind "timestamp", a date, a time) formatted like
    DateTimeFormatter.format; a field the value lacks is an error, as in Java."""
    out = []
    for letter, arg in p.tokens:
        if letter == "lit":
            out.append(arg)
            continue
        if kind == "date" and letter in _TIME_LETTERS | _ZONE_LETTERS:
            raise KsqlProcessingError(f"Unsupported field for a date: pattern letter {letter}")
        if kind == "time" and letter in _DATE_LETTERS | _ZONE_LETTERS:
            raise KsqlProcessingError(f"Unsupported field for a time: pattern letter {letter}")
        count = arg
        v: Any = value
        if letter in "yu":
            year = v.year
            out.append(f"{year % 100:02d}" if count == 2 else f"{year:04d}")
        elif letter == "M":
            mo = v.month
            out.append(
                str(mo)
                if count == 1
                else f"{mo:02d}"
                if count == 2
                else _MONTHS_SHORT[mo - 1]
                if count == 3
                else _MONTHS[mo - 1]
            )
        elif letter == "d":
            out.append(str(v.day) if count == 1 else f"{v.day:02d}")
        elif letter == "E":
            name = _DAYS[v.weekday()]
            out.append(name if count == 4 else name[:3])
        elif letter in "HhkKms":
            num = _clock(letter, v.hour) if letter in "HhkK" else getattr(v, _UNIT[letter])
            out.append(str(num) if count == 1 else f"{num:02d}")
        elif letter == "S":
            out.append(f"{v.microsecond * 1000:09d}"[:count])
        elif letter == "a":
            out.append("AM" if v.hour < 12 else "PM")
        elif letter == "z":
            name = v.tzname() or ""
            if not re.fullmatch(r"[A-Z]{2,5}", name):
                raise KsqlProcessingError(
                    not_supported(f"the zone name of {v.tzinfo} (pattern letter z)")
                )
            out.append(name)
        else:  # X x Z
            off = v.utcoffset()
            assert off is not None
            out.append(_fmt_offset(int(off.total_seconds()), count, letter))
    return "".join(out)


# ----------------------------------------------------------------------------- parsing


def _offset_regex(letter: str, count: int) -> str:
    if letter == "Z":
        body = r"[+-]\d{4}"
    elif count == 1:
        body = r"[+-]\d{2}(?:\d{2})?"
    elif count == 2:
        body = r"[+-]\d{4}"
    else:
        body = r"[+-]\d{2}:\d{2}"
    return f"(?:Z|{body})" if letter == "X" else body


def _num_regex(letter: str, count: int, lenient: bool, adjacent: bool) -> str:
    if letter == "S":
        return rf"\d{{{count}}}"
    if lenient:
        return rf"\d{{{count}}}" if adjacent else r"\d+"
    if letter in "yu":
        return r"\d{2}" if count == 2 else r"\d{4,19}"
    return r"\d{2}" if count == 2 else r"\d{1,19}"


@dataclass(frozen=True)
class _Parser:
    regex: re.Pattern[str]
    groups: tuple[tuple[str, int], ...]


@lru_cache(maxsize=256)
def _parser(p: Pattern, lenient: bool) -> _Parser:
    parts: list[str] = []
    groups: list[tuple[str, int]] = []
    toks = p.tokens
    letters = p.letters
    if not lenient:
        if "E" in letters:
            raise _refuse(f"letter 'E' when parsing '{p.text}'")
        if "z" in letters:
            raise _refuse(f"letter 'z' when parsing '{p.text}'")
        if letters & set("hK") and "a" not in letters:
            raise _refuse(f"'h'/'K' without 'a' when parsing '{p.text}'")
        if "a" in letters and not letters & set("hK"):
            raise _refuse(f"'a' without 'h'/'K' when parsing '{p.text}'")
    else:
        bad = letters - set("yMdHmsS")
        if bad or any(t in "yu" and c == 2 for t, c in toks):
            raise _refuse(f"'{p.text}' for PARSE_DATE (SimpleDateFormat)")
    for i, (letter, arg) in enumerate(toks):
        if letter == "lit":
            if lenient and arg.isspace():
                parts.append(r"\s*")
            else:
                parts.append(re.escape(arg))
            continue
        nxt = toks[i + 1][0] if i + 1 < len(toks) else "lit"
        prev = toks[i - 1][0] if i > 0 else "lit"
        adjacent = letter in _NUMERIC and nxt in _NUMERIC and not (letter == "M" and arg >= 3)
        if not lenient and prev in _NUMERIC and letter in _NUMERIC:
            fixed = arg == 2 or letter == "S" or (letter in "yu" and arg == 2)
            if not fixed:
                raise _refuse(f"adjacent variable-width fields in '{p.text}'")
        if letter == "M" and arg >= 3:
            names = _MONTHS_SHORT if arg == 3 else _MONTHS
            parts.append("((?i:" + "|".join(names) + "))")  # text is matched ignoring case
        elif letter == "a":
            parts.append("(AM|PM)")
        elif letter in _ZONE_LETTERS:
            parts.append("(" + _offset_regex(letter, arg) + ")")
        else:
            parts.append("(" + _num_regex(letter, arg, lenient, adjacent) + ")")
        groups.append((letter, arg))
    flags = 0 if lenient else re.IGNORECASE
    return _Parser(re.compile("".join(parts), flags), tuple(groups))


def check_parsable(p: Pattern, lenient: bool = False) -> None:
    """Refuse (KsqlUnsupportedError) a pattern this module cannot parse with exactly."""
    _parser(p, lenient)


@dataclass
class _Fields:
    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    nano: int | None = None
    offset: int | None = None  # seconds

    def has_date(self) -> bool:
        return self.year is not None or self.month is not None or self.day is not None


def _fields(p: Pattern, text: str, lenient: bool) -> _Fields:
    parser = _parser(p, lenient)
    m = parser.regex.match(text) if lenient else parser.regex.fullmatch(text)
    if m is None:
        raise KsqlProcessingError(f"Text '{text}' could not be parsed with pattern '{p.text}'")
    f = _Fields()
    h12: int | None = None
    pm: bool | None = None
    for (letter, count), g in zip(parser.groups, m.groups(), strict=True):
        if letter in "yu":
            f.year = 2000 + int(g) if count == 2 else int(g)
        elif letter == "M":
            if count >= 3:
                names = _MONTHS_SHORT if count == 3 else _MONTHS
                f.month = [x.lower() for x in names].index(g.lower()) + 1
            else:
                f.month = int(g)
        elif letter == "d":
            f.day = int(g)
        elif letter == "H":
            f.hour = int(g)
        elif letter == "k":
            f.hour = int(g) % 24 if int(g) != 0 else 99  # 0 is out of range for k
        elif letter in "hK":
            h12 = int(g)
            if (letter == "h" and not 1 <= h12 <= 12) or (letter == "K" and not 0 <= h12 <= 11):
                raise KsqlProcessingError(f"Invalid value for hour of am-pm: {h12}")
        elif letter == "a":
            pm = g.upper() == "PM"
        elif letter == "m":
            f.minute = int(g)
        elif letter == "s":
            f.second = int(g)
        elif letter == "S":
            f.nano = int(g) * 10**6 if lenient else int(g.ljust(9, "0"))  # SimpleDateFormat: ms
        else:
            if g.upper() == "Z":
                f.offset = 0
            else:
                digits = g[1:].replace(":", "")
                secs = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
                f.offset = -secs if g[0] == "-" else secs
    if h12 is not None and pm is not None:
        f.hour = h12 % 12 + (12 if pm else 0)
    if not lenient:
        for name, lo, hi in (
            ("month", 1, 12),
            ("day", 1, 31),
            ("hour", 0, 23),
            ("minute", 0, 59),
            ("second", 0, 59),
        ):
            v = getattr(f, name)
            if v is not None and not lo <= v <= hi:
                raise KsqlProcessingError(f"Invalid value for {name}: {v} in '{text}'")
        if f.year is not None and f.month is not None and f.day is not None:
            # SMART resolver: a day past the month's end is clamped to its last day
            f.day = min(f.day, calendar.monthrange(f.year, f.month)[1])
    return f


def parse_local(p: Pattern, text: str, kind: str) -> int:
    """STRINGTODATE / PARSE_TIME: epoch days of a date (year, month and day required) or
    milliseconds of the day of a time (an hour required, no date field allowed)."""
    f = _fields(p, text, lenient=False)
    if kind == "date":
        if f.year is None or f.month is None or f.day is None:
            raise KsqlProcessingError(f"Text '{text}' does not hold a full date")
        return (dt.date(f.year, f.month, f.day) - dt.date(1970, 1, 1)).days
    if f.has_date():
        raise KsqlProcessingError("Time format contains date field.")
    if f.hour is None:
        raise KsqlProcessingError(f"Text '{text}' does not hold a time")
    ns = (f.hour * 3600 + (f.minute or 0) * 60 + (f.second or 0)) * 10**9 + (f.nano or 0)
    return ns // 10**6


def parse_timestamp(p: Pattern, text: str, default_zone: dt.tzinfo) -> int:
    """ksqlDB's StringToTimestampParser: 1970-01-01T00:00 in the parsed zone (or the given
    one), each parsed field overriding it; epoch milliseconds."""
    f = _fields(p, text, lenient=False)
    tz = default_zone if f.offset is None else dt.timezone(dt.timedelta(seconds=f.offset))
    try:
        local = dt.datetime(
            1970 if f.year is None else f.year,
            1 if f.month is None else f.month,
            1 if f.day is None else f.day,
            f.hour or 0,
            f.minute or 0,
            f.second or 0,
            (f.nano or 0) // 1000,
        )
    except ValueError as exc:
        raise KsqlProcessingError(f"Invalid date in '{text}': {exc}") from None
    first = local.replace(tzinfo=tz)
    if first.utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset():
        raise KsqlProcessingError(
            not_supported(f"a local time in a time-zone overlap ('{text}' in {tz})")
        )
    whole = int(first.timestamp()) * 1000
    return whole + (f.nano or 0) // 10**6


def parse_date_lenient(p: Pattern, text: str) -> int:
    """PARSE_DATE (SimpleDateFormat in GMT, lenient): epoch days; a time of day that is not
    midnight is an error ("Date format contains time field.")."""
    f = _fields(p, text, lenient=True)
    months = (1970 if f.year is None else f.year) * 12 + (1 if f.month is None else f.month) - 1
    y, mo = divmod(months, 12)
    try:
        first = dt.date(y, mo + 1, 1)
    except ValueError as exc:
        raise KsqlProcessingError(f"Invalid date in '{text}': {exc}") from None
    days = (first - dt.date(1970, 1, 1)).days + (1 if f.day is None else f.day) - 1
    ms = (
        days * 86_400_000
        + (f.hour or 0) * 3_600_000
        + (f.minute or 0) * 60_000
        + (f.second or 0) * 1000
        + (f.nano or 0) // 10**6
    )
    if ms % 86_400_000:
        raise KsqlProcessingError("Date format contains time field.")
    return ms // 86_400_000
