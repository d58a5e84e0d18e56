"""Event latency is measured from the Kafka record timestamp, not the event's own Timestamp."""

from __future__ import annotations

import numpy as np
from prometheus_client import generate_latest

from fraudstream.scorer.metrics import (
    LATENCY_BUCKETS,
    ScorerMetrics,
    event_latency_s,
    observe_many,
    record_times_ms,
)
from fraudstream.testing.messages import Msg as FakeMsg


def _Msg(kind: int, ms: int) -> FakeMsg:
    return FakeMsg(timestamp=(kind, ms))


def test_record_times_reads_create_time_and_marks_missing_as_nan() -> None:
    got = record_times_ms([_Msg(1, 1_700_000_000_123), _Msg(0, -1), _Msg(2, 1_700_000_000_500)])
    assert got[0] == 1_700_000_000_123
    assert np.isnan(got[1])
    assert got[2] == 1_700_000_000_500


def test_latency_is_done_time_minus_record_time_and_drops_missing() -> None:
    lat = event_latency_s(1000.25, [1000_000.0, np.nan, 1000_250.0, 1000_300.0])
    np.testing.assert_allclose(lat, [0.25, 0.0, 0.0])  # the last: producer clock ahead -> 0


def test_replayed_2013_events_land_in_low_buckets() -> None:
    """The bug: the event's 2013 Timestamp gave ~13 years of latency (+Inf). Record times of
    events produced 6-40 ms ago give 6-40 ms, whatever the event's own Timestamp says."""
    now = 1_780_000_000.0
    record_ms = now * 1000.0 - np.linspace(6, 40, 200)
    m = ScorerMetrics()
    observe_many(m.event_latency, event_latency_s(now, record_ms))
    text = generate_latest(m.registry).decode()
    assert 'fraudstream_event_latency_seconds_bucket{le="0.05"} 200.0' in text
    assert 'fraudstream_event_latency_seconds_bucket{le="0.005"} 0.0' in text
    assert "fraudstream_event_latency_seconds_count 200.0" in text
    # what the old code observed for the same rows: all above the last finite bucket
    old = now - np.datetime64("2013-09-01T00:00:00", "s").astype(np.int64)
    assert old > LATENCY_BUCKETS[-1]


def test_a_record_without_a_timestamp_method_counts_as_missing() -> None:
    class Bare:
        def value(self) -> bytes:
            return b""

    got = record_times_ms([Bare(), _Msg(1, 5)])
    assert np.isnan(got[0]) and got[1] == 5
