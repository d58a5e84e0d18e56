"""Scores and labels join in either order, once, inside bounded windows."""

from __future__ import annotations

import math

import pytest

from fraudstream.monitor.state import ScoreRow, WindowState

T0 = 1_780_000_000_000


def test_labels_join_scores_in_either_order_and_windows_select_by_score_time() -> None:
    st = WindowState(retention_ms=3_600_000)
    st.add_label(2, 1, T0 + 5_000)  # label first (restart, lagging scorer)
    st.add_score(1, ScoreRow("v1", 9.0, True, T0))
    st.add_score(2, ScoreRow("v1", 8.0, True, T0 + 1_000))
    st.add_score(3, ScoreRow("v1", 0.5, False, T0 + 2_000))
    st.add_score(4, ScoreRow("v2", 0.4, False, T0 - 600_000))  # outside a 5-minute window
    st.add_label(1, 0, T0 + 10_000)
    st.add_label(3, 1, T0 + 12_000)
    st.add_score(1, ScoreRow("v1", 1.0, False, T0))  # a redelivered score: ignored
    assert st.duplicates == 1
    res = st.window(T0 + 20_000, 300_000, k=10, prevalence=0.01)
    assert set(res) == {"v1"}
    q, d = res["v1"]
    assert (q.events, q.labelled, q.frauds, q.alerts_labelled) == (3, 3, 2, 2)
    assert q.precision == pytest.approx(0.5) and q.recall == pytest.approx(0.5)
    assert d.p50_s == pytest.approx(10.0) and d.max_s == pytest.approx(10.0)
    both = st.window(T0 + 20_000, 3_600_000, k=10, prevalence=0.01)
    assert set(both) == {"v1", "v2"} and both["v2"][0].unlabelled == 1
    assert math.isnan(both["v2"][1].p50_s)


def test_eviction_bounds_the_state() -> None:
    st = WindowState(retention_ms=60_000)
    st.add_score(1, ScoreRow("v1", 1.0, False, T0))
    st.add_label(9, 1, T0)  # its score never comes
    st.evict(T0 + 59_000)
    assert 1 in st.rows and 9 in st.waiting
    st.evict(T0 + 61_000)
    assert not st.rows and not st.waiting
