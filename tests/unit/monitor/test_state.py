"""Scores and labels join in either order, once, inside bounded windows; a capped state
withholds the windows it cut instead of answering on part of them."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from fraudstream.monitor.quality import quality
from fraudstream.monitor.state import DAY_MS, ScoreRow, WindowState

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
    assert 1 in st and 9 in st.waiting
    st.evict(T0 + 61_000)
    assert 1 not in st and len(st) == 0 and not st.waiting


def test_the_cap_drops_the_oldest_and_withholds_the_windows_it_cut() -> None:
    st = WindowState(retention_ms=10 * DAY_MS, max_events=100)
    for i in range(150):  # one score a second; the first 50 are forced out
        st.add_score(i, ScoreRow("v1", float(i), i % 10 == 0, T0 + 1_000 * i))
    assert len(st) == 100 and st.dropped_scores == 50
    assert 49 not in st and 50 in st
    now = T0 + 150_000
    st.add_label(49, 1, now)  # its score was dropped: the label waits (and ages out)
    st.add_label(120, 1, now)
    # 100 s covers scores 50..149 (all held); 101 s reaches score 49, dropped
    assert not st.incomplete(now, 100_000) and st.incomplete(now, 101_000)
    assert st.window(now, 101_000, k=5, prevalence=0.01) == {}
    q, _ = st.window(now, 100_000, k=5, prevalence=0.01)["v1"]
    assert (q.events, q.labelled, q.frauds) == (100, 1, 1)
    # once the window's start has passed the newest dropped score it is whole again
    assert not st.incomplete(now + 1_000, 101_000)
    for i in range(150, 2_000):  # many times the cap: still the newest 100, in columns of 151
        st.add_score(i, ScoreRow("v1", 0.0, False, T0 + 1_000 * i))
    assert len(st) == 100 and all(i in st for i in range(1_900, 2_000)) and 1_899 not in st
    assert st.dropped_scores == 1_900 and len(st._score) <= 151


def test_waiting_labels_are_capped_too() -> None:
    st = WindowState(retention_ms=DAY_MS, max_events=3)
    for i in range(5):
        st.add_label(i, 1, T0 + i)
    assert sorted(st.waiting) == [2, 3, 4] and st.dropped_labels == 2
    st.add_score(3, ScoreRow("v1", 1.0, True, T0))  # joins the waiting label 3
    st.add_label(5, 0, T0 + 5)  # below the cap again: nothing dropped
    assert sorted(st.waiting) == [2, 4, 5] and st.dropped_labels == 2


def test_columns_grow_and_compact_without_losing_a_join() -> None:
    """Thousands of scores through eviction, compaction and growth give the same figures as
    the plain computation over the rows that should be held."""
    rng = random.Random(7)
    st = WindowState(retention_ms=60_000, max_events=50_000)
    kept: dict[int, ScoreRow] = {}
    t = T0
    for i in range(6_000):
        t += rng.randint(0, 200)
        row = ScoreRow(rng.choice(["v1", "v2"]), rng.random(), rng.random() < 0.2, t)
        assert st.add_score(i, row)
        kept[i] = ScoreRow(row.version, row.score, row.alert, row.scored_ms)
        if i > 50 and rng.random() < 0.5:
            j = rng.randint(i - 50, i)
            st.add_label(j, int(kept[j].alert), t)
            kept[j].label, kept[j].label_ms = int(kept[j].alert), t
        if i % 500 == 0:
            st.evict(t)
    st.evict(t)
    held = {i: r for i, r in kept.items() if r.scored_ms >= t - 60_000}
    assert len(st) == len(held) and all(i in st for i in held)
    got = st.window(t, 50_000, k=20, prevalence=0.01)
    for version in ("v1", "v2"):
        rows = [r for r in held.values() if r.version == version and r.scored_ms >= t - 50_000]
        want = quality(
            np.array([r.score for r in rows]), np.array([r.alert for r in rows]),
            np.array([r.label for r in rows]), np.array([r.scored_ms // DAY_MS for r in rows]),
            k=20, prevalence=0.01,
        )  # fmt: skip
        assert got[version][0] == want
        assert 0 < want.labelled < want.events
