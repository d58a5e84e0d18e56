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


def _steady(st: WindowState, first: int, seconds: int, rate: int, t0: int) -> None:
    """`rate` scores a second (9 in 10 labelled a second later), evicting every second."""
    for s in range(seconds):
        base = first + s * rate
        for i in range(base, base + rate):
            st.add_score(i, ScoreRow("v1", 0.5, i % 100 == 0, t0 + 1_000 * (i // rate)))
        for i in range(base - rate, base):
            if i >= 0 and i % 10:
                st.add_label(i, int(i % 100 == 0), t0 + 1_000 * (i // rate) + 1_000)
        st.evict(t0 + 1_000 * ((base + rate) // rate))


def test_steady_traffic_holds_the_same_memory_once_the_retention_has_filled() -> None:
    """Issue 21's soak: the monitor's RSS kept growing after its retention had filled. The
    cause was over-allocation touched page by page (columns doubled up to 2-4 x the scores
    held, a dict of Id -> slot with its int objects and deleted entries), so the bound is on
    what the state allocates (tracemalloc sees NumPy's buffers too): the same after 2 and
    after 6 retentions of steady traffic, and under 100 bytes per score held."""
    import tracemalloc

    rate, retention_s = 500, 10
    tracemalloc.start()
    try:
        st = WindowState(retention_ms=1_000 * retention_s)
        _steady(st, 0, 2 * retention_s, rate, T0)
        warm, slots = tracemalloc.get_traced_memory()[0], len(st._ids)
        held = []
        for lap in range(2, 6):
            _steady(st, lap * retention_s * rate, retention_s, rate, T0)
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert max(held) <= warm * 1.02, (warm, held)
    assert warm / len(st) < 100, warm / len(st)
    assert len(st) == retention_s * rate and len(st._ids) == slots
    assert st.expired_unlabelled == 5 * retention_s * rate // 10  # the unlabelled tenth


def test_ring_and_index_agree_with_a_plain_model_under_churn() -> None:
    """Random scores (repeats, Ids colliding in the index, time going back a little),
    labels before and after their score, evictions and the cap, checked against dicts."""
    rng = random.Random(7)
    st = WindowState(retention_ms=50_000, max_events=700)
    held: dict[int, tuple[int, int]] = {}  # id -> (scored_ms, label), in the order read
    waiting: dict[int, int] = {}
    now = T0
    for step in range(20_000):
        now += rng.randint(0, 40)
        event_id = rng.randint(0, 3_000) * 4096 + rng.choice((0, 1))  # many share low bits
        if rng.random() < 0.7:
            t = now - rng.randint(0, 3_000)
            fresh = st.add_score(event_id, ScoreRow("v1", 0.1, False, t))
            assert fresh == (event_id not in held)
            if fresh:
                if len(held) == 700:
                    del held[next(iter(held))]
                held[event_id] = (t, waiting.pop(event_id, -1))
        else:
            st.add_label(event_id, 1, now)
            if event_id in held:
                held[event_id] = (held[event_id][0], 1)
            else:
                waiting[event_id] = 1
        if step % 50 == 0:
            st.evict(now)
            while held and next(iter(held.values()))[0] < now - 50_000:
                del held[next(iter(held))]
            assert len(st) == len(held) and all(i in st for i in held)
            assert int((st._table >= 0).sum()) == len(held)
            labels = st._column("_label")
            assert int((labels >= 0).sum()) == sum(lab >= 0 for _, lab in held.values())
            for i in waiting.keys() - st.waiting.keys():
                del waiting[i]  # expired (checked by count below)
    assert st.capacity == 700 and st.dropped_scores > 0 and st.duplicates > 0
    assert not any(rng.randint(0, 3_000) * 4096 + 2 in st for _ in range(100))


def test_what_leaves_the_retention_unmatched_is_counted() -> None:
    st = WindowState(retention_ms=60_000)
    st.add_score(1, ScoreRow("v1", 1.0, False, T0))  # its label never comes
    st.add_score(2, ScoreRow("v1", 1.0, False, T0))
    st.add_label(2, 0, T0 + 1_000)
    st.add_label(9, 1, T0)  # its score never comes
    st.add_label(8, 1, T0)
    st.add_label(8, 0, T0 + 30_000)  # repeated: waits from its latest time
    st.evict(T0 + 61_000)
    assert len(st) == 0 and st.expired_unlabelled == 1
    assert st.waiting == {8: (0, T0 + 30_000)} and st.expired_labels == 1
    st.evict(T0 + 91_000)
    assert not st.waiting and st.expired_labels == 2


def test_the_order_of_waiting_labels_stays_bounded_by_the_labels_still_waiting() -> None:
    """Labels that come first and then join (a monitor replaying after a restart) leave
    nothing behind for the retention to clear."""
    st = WindowState(retention_ms=DAY_MS)
    for i in range(50_000):
        st.add_label(i, 0, T0 + i)
        st.add_score(i, ScoreRow("v1", 0.1, False, T0 + i))
    assert not st.waiting and len(st._waiting_order) <= 1_024 + 1
    assert st.window(T0 + 50_000, DAY_MS, k=5, prevalence=0.01)["v1"][0].labelled == 50_000


def test_a_window_over_the_wrapped_ring_equals_quality_on_its_plain_rows() -> None:
    """The window's rows taken from both runs of a wrapped ring, per version (one version
    uses the columns as they are, two select by mask), equal `quality` on plain arrays."""
    rng = np.random.default_rng(3)
    st = WindowState(retention_ms=30_000)
    rows = []  # (id, version, score, alert, scored_ms, label)
    i = 0
    while i < 3_000 or len(st._runs()) < 2:  # until the live slots wrap round the ring
        i += 1
        t = T0 + 30 * i - int(rng.integers(0, 500))  # time goes back a little
        score = float(np.round(rng.random(), 2))  # ties
        version = "v2" if i < 2_500 and rng.random() < 0.3 else "v1"
        st.add_score(i, ScoreRow(version, score, score > 0.9, t))
        label = int(score > 0.95) if rng.random() < 0.8 else -1
        if label >= 0:
            st.add_label(i, label, t + 2_000)
        rows.append((i, version, score, score > 0.9, t, label))
        if i % 100 == 99:
            st.evict(T0 + 30 * i)  # the head moves on, so the ring wraps as it refills
    assert i < 6_000  # the ring did wrap
    now = T0 + 30 * i
    for window_ms, versions in ((10_000, {"v1"}), (25_000, {"v1", "v2"})):
        got = st.window(now, window_ms, k=5, prevalence=0.01)
        assert set(got) == versions
        for version in versions:
            sel = [r for r in rows if r[0] in st and r[1] == version and r[4] >= now - window_ms]
            score = np.array([r[2] for r in sel])
            alert = np.array([r[3] for r in sel])
            label = np.array([r[5] for r in sel], np.int64)
            day = np.array([r[4] for r in sel], np.int64) // DAY_MS
            assert got[version][0] == quality(score, alert, label, day, k=5, prevalence=0.01)
            assert got[version][1].max_s == pytest.approx(2.0)  # every label 2 s after its score
