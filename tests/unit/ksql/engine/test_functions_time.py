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
