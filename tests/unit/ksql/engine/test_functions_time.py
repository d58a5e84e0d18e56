"""DATEADD ... TIMESTAMPSUB over the engine's int temporals."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T


def test_date_time_and_timestamp_arithmetic() -> None:
    add_days = F.resolve("DATEADD", [T.T_STRING, T.T_INTEGER, T.T_DATE]).impl
    assert add_days("DAYS", 10, 10) == 20
    assert add_days("HOURS", -25, 0) == -2  # floor to whole days
    sub_time = F.resolve("TIMESUB", [T.T_STRING, T.T_INTEGER, T.T_TIME]).impl
    add_time = F.resolve("TIMEADD", [T.T_STRING, T.T_INTEGER, T.T_TIME]).impl
    assert add_time("MILLISECONDS", 10, 86_399_995) == 5  # wraps at midnight
    assert sub_time("SECONDS", 1, 0) == 86_399_000
    add_ts = F.resolve("TIMESTAMPADD", [T.T_STRING, T.T_INTEGER, T.T_TIMESTAMP]).impl
    assert add_ts("MINUTES", 2, 5) == 120_005
    assert add_ts("DAYS", None, 5) is None


def test_wrong_value_type_names_the_lower_case_udf() -> None:
    with pytest.raises(KsqlStatementError, match="Function 'dateadd' does not accept"):
        F.resolve("DATEADD", [T.T_DATE, T.T_INTEGER, T.T_DATE])


def test_pattern_udfs_and_conversions() -> None:
    from fraudstream.ksql.errors import KsqlUnsupportedError

    S = T.T_STRING
    ts = T.SqlType(T.TIMESTAMP)
    fmt = F.resolve("FORMAT_TIMESTAMP", [ts, S, S])
    assert fmt.impl(1526075913000, "yyyy-MM-dd HH:mm:ss", "America/Los_Angeles") == (
        "2018-05-11 14:58:33"
    )
    assert F.resolve("STRINGTODATE", [S, S]).impl("2018-05-11", "yyyy-MM-dd") == 17662
    assert F.resolve("FORMAT_TIME", [T.SqlType(T.TIME), S]).impl(65000, "HH_mm_ss_SSS") == (
        "00_01_05_000"
    )
    conv = F.resolve("CONVERT_TZ", [ts, S, S])
    assert conv.impl(100, "America/Los_Angeles", "America/New_York") == 10_800_100
    check = F.resolve("PARSE_TIMESTAMP", [S, S]).check
    assert check is not None
    with pytest.raises(KsqlUnsupportedError):
        check([F.UNKNOWN, "yyyy zzz"])
    check([F.UNKNOWN, F.UNKNOWN])  # a pattern from the data is checked per record
