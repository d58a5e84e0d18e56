"""DATE / TIME / TIMESTAMP text forms: ksqlDB's CAST and comparison texts."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.temporal import (
    format_temporal,
    parse_date,
    parse_partial_timestamp,
    parse_time,
    parse_timestamp,
    temporal_converter,
)
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T


def test_dates_round_trip_and_partial_dates_default_to_the_first() -> None:
    assert parse_date("1970-01-11") == 10
    assert format_temporal(10, T.DATE) == "1970-01-11"
    assert parse_date("1970-01") == 0
    assert parse_date("1969-12-31") == -1
    with pytest.raises(KsqlProcessingError):
        parse_date("foo")


def test_time_text_is_java_local_time_to_string() -> None:
    assert parse_time("00:00:05") == 5000
    assert format_temporal(5000, T.TIME) == "00:00:05"
    assert format_temporal(10, T.TIME) == "00:00:00.010"
    assert format_temporal(60_000, T.TIME) == "00:01"


def test_timestamps_always_print_milliseconds_in_utc() -> None:
    assert parse_timestamp("1970-01-01T00:00:00.010") == 10
    assert format_temporal(10, T.TIMESTAMP) == "1970-01-01T00:00:00.010"
    assert parse_timestamp("1970-01-01T01:00:00+01:00") == 0


def test_partial_rowtime_literals_with_zones() -> None:
    assert parse_partial_timestamp("2018") == 1514764800000
    assert parse_partial_timestamp("2018-01-01T00:00:00.001") == 1514764800001
    assert parse_partial_timestamp("2019-01-01T00:00:00+0445") == 1546283700000
    with pytest.raises(KsqlProcessingError):
        parse_partial_timestamp("not a time")
    # hour 24 is the next midnight, as Java reads it; other out-of-range fields are refused
    assert parse_partial_timestamp("2020-02-24T24") == parse_partial_timestamp("2020-02-25")
    for bad in ("2020-13", "2020-02-24T25", "2020-02-24T24:30"):
        with pytest.raises(KsqlProcessingError):
            parse_partial_timestamp(bad)


def test_casts_between_temporal_types() -> None:
    to_ts = temporal_converter(T.DATE, T.TIMESTAMP)
    to_date = temporal_converter(T.TIMESTAMP, T.DATE)
    to_time = temporal_converter(T.TIMESTAMP, T.TIME)
    assert to_ts is not None and to_ts(1) == 86_400_000
    assert to_date is not None and to_date(86_400_001) == 1
    assert to_time is not None and to_time(86_400_005) == 5
    assert temporal_converter(T.TIME, T.DATE) is None
