"""Timestamps: scalar and vector forms agree; the start accepts ISO text, 'now' or a datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from fraudstream.producer.errors import SourceError
from fraudstream.producer.timefmt import iso_array, iso_at, parse_start, start_epoch


def test_scalar_and_vector_forms_agree() -> None:
    epoch = start_epoch(parse_start("2013-09-01T00:00:00Z"))
    secs = np.array([0, 1, 59, 3600, 86_399, 172_792, 10**7])
    assert iso_array(epoch, secs) == [iso_at(epoch, int(s)) for s in secs]
    assert iso_at(epoch, 91554) == "2013-09-02T01:25:54Z"


def test_parse_start_variants() -> None:
    assert parse_start("2013-09-01T02:00:00+02:00") == datetime(2013, 9, 1, tzinfo=UTC)
    assert parse_start("2013-09-01T00:00:00") == datetime(2013, 9, 1, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    assert parse_start(datetime(2013, 9, 1, 1, tzinfo=cet)) == datetime(2013, 9, 1, tzinfo=UTC)
    now = parse_start("now")
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5
    with pytest.raises(SourceError, match="not an ISO-8601"):
        parse_start("yesterday")
