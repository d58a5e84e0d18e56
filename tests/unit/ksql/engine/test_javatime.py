"""Java date-time patterns: exact formatting/parsing of the supported letters, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from fraudstream.ksql.engine import javatime as J
from fraudstream.ksql.errors import KsqlProcessingError, KsqlUnsupportedError


def test_tokens_quotes_and_refusals() -> None:
    assert J.pattern("yyyy-MM-dd'T'''HH").tokens == (
        ("y", 4),
        ("lit", "-"),
        ("M", 2),
        ("lit", "-"),
        ("d", 2),
        ("lit", "T'"),
        ("H", 2),
    )
    for bad in ("YYYY", "yyyy[MM]", "w", "yyy", "EEEEE", "'open"):
        with pytest.raises(KsqlUnsupportedError, match="date-time pattern"):
            J.pattern(bad)
    with pytest.raises(KsqlUnsupportedError, match="'z' when parsing"):
        J.check_parsable(J.pattern("HH zzz"))
    with pytest.raises(KsqlUnsupportedError, match="adjacent"):
        J.check_parsable(J.pattern("yyyyMd"))


def test_format_like_datetimeformatter() -> None:
    la = J.zone("America/Los_Angeles")
    ts = (dt.datetime(2018, 5, 11, 21, 58, 33, 7000, tzinfo=dt.UTC)).astimezone(la)
    p = J.pattern("yy/M/d EEE MMM h:mm:ss.SSS a zzz XXX Z")
    assert J.format_value(p, ts, "timestamp") == "18/5/11 Fri May 2:58:33.007 PM PDT -07:00 -0700"
    assert J.format_value(J.pattern("X"), ts.astimezone(dt.UTC), "timestamp") == "Z"
    assert J.format_value(J.pattern("dd-MM-yyyy'x'"), dt.date(1969, 12, 31), "date") == (
        "31-12-1969x"
    )
    with pytest.raises(KsqlProcessingError):
        J.format_value(J.pattern("HH"), dt.date(1970, 1, 1), "date")


def test_parse_timestamp_defaults_zones_and_strictness() -> None:
    p = J.pattern("yyyy-MM-dd'T'HH:mm:ssX")
    assert J.parse_timestamp(p, "2018-05-11T21:58:33Z", dt.UTC) == 1526075913000
    assert J.parse_timestamp(p, "2018-05-11T21:58:33z", dt.UTC) == 1526075913000  # any case
    assert J.parse_timestamp(p, "2018-05-11T23:58:33+02", dt.UTC) == 1526075913000
    only_date = J.pattern("yyyy-MM-dd")
    assert J.parse_timestamp(only_date, "1970-01-02", J.zone("+01:00")) == 86_400_000 - 3_600_000
    with pytest.raises(KsqlProcessingError):
        J.parse_timestamp(p, "2018-05-11T21:58:33Zjunk", dt.UTC)
    with pytest.raises(KsqlProcessingError):
        J.parse_timestamp(J.pattern("yyyy-MM-dd HH"), "2018-05-11 24", dt.UTC)
    # a wall-clock time in a fall-back overlap is ambiguous: refused, not guessed
    with pytest.raises(KsqlProcessingError, match="overlap"):
        J.parse_timestamp(
            J.pattern("yyyy-MM-dd HH:mm"), "2020-11-01 01:30", J.zone("America/New_York")
        )


def test_parse_local_date_and_time() -> None:
    assert J.parse_local(J.pattern("dd-MMM-yyyy"), "01-JAN-2022", "date") == 18993
    assert J.parse_local(J.pattern("yyyy-MM-dd"), "2021-02-31", "date") == 18686  # clamped
    assert J.parse_local(J.pattern("hh:mm:ss a"), "01:00:00 Pm", "time") == 46_800_000
    with pytest.raises(KsqlProcessingError, match="date field"):
        J.parse_local(J.pattern("yyyy HH"), "2020 10", "time")


def test_parse_date_is_lenient_like_simpledateformat() -> None:
    p = J.pattern("yyyy-MM-dd")
    assert J.parse_date_lenient(p, "2003-12-24-01-01") == 12410  # trailing text ignored
    assert J.parse_date_lenient(p, "2021-02-30") == J.parse_date_lenient(p, "2021-03-02")
    assert J.parse_date_lenient(J.pattern("MMM-yyyy"), "JAN-2022") == 18993
    with pytest.raises(KsqlProcessingError, match="time field"):
        J.parse_date_lenient(J.pattern("yyyy-MM-dd HH"), "2020-01-01 10")
    with pytest.raises(KsqlUnsupportedError):
        J.check_parsable(J.pattern("yy-MM-dd"), lenient=True)


def test_zone_ids_like_zoneid_of() -> None:
    assert J.offset_ms(J.zone("+0200"), 0) == 7_200_000
    assert J.offset_ms(J.zone("GMT-3"), 0) == -10_800_000
    assert J.offset_ms(J.zone("UTC"), 0) == 0
    with pytest.raises(KsqlProcessingError):
        J.zone("Not/AZone")
