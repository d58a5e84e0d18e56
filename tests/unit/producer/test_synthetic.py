"""The synthetic generator: reproducible, contract-shaped, and statistically like the real data."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from fraudstream.events import FEATURE_COLUMNS, RAW_FIELDS, RawCardEvent
from fraudstream.producer.errors import SourceError
from fraudstream.producer.synthetic import (
    CHUNK,
    GeneratorParams,
    SyntheticBatch,
    _prefetch,
    generate_arrays,
    generate_batch,
    generate_events,
    generate_records,
)
from fraudstream.testing.wait import wait_until

SAMPLE = (
    Path(__file__).resolve().parents[3].parent
    / "shared/data/creditcard/creditcard_sample_bhavyasoni01.csv"
)
N = 120_000


@pytest.fixture(scope="module")
def big() -> SyntheticBatch:
    return generate_batch(N, seed=11)


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC via the rank-sum statistic (no scikit-learn in the producer tests)."""
    ranks = np.empty(len(score))
    ranks[np.argsort(score, kind="mergesort")] = np.arange(1, len(score) + 1)
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def test_arrays_shape_and_reproducibility() -> None:
    X, t, y = generate_arrays(5000, seed=3)
    assert X.shape == (5000, len(FEATURE_COLUMNS)) and t.shape == (5000,) and y.shape == (5000,)
    X2, t2, y2 = generate_arrays(5000, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(t, t2) and np.array_equal(y, y2)
    X3, _, _ = generate_arrays(5000, seed=4)
    assert not np.array_equal(X, X3)
    assert np.isfinite(X).all() and (X[:, 28] >= 0).all()
    assert set(np.unique(y)) <= {0, 1}


def test_shorter_runs_are_prefixes_of_longer_ones() -> None:
    a = generate_batch(CHUNK + 100, seed=5)
    b = generate_batch(3 * CHUNK, seed=5)
    assert np.array_equal(a.X, b.X[: CHUNK + 100])
    assert np.array_equal(a.time, b.time[: CHUNK + 100])
    assert len(generate_batch(0)) == 0


def test_time_runs_forward_with_a_day_night_cycle(big: SyntheticBatch) -> None:
    b = big
    assert (np.diff(b.time) >= 0).all() and b.time[0] >= 0
    # ~1.65 events/s as in the full data set: N events span ~N/1.65 seconds.
    assert b.time[-1] == pytest.approx(N / 1.648, rel=0.05)
    hours = (b.time // 3600) % 24
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour[2:6].mean() < 0.35 * per_hour[10:20].mean()


def test_fraud_rate_shift_noise_and_hard_frauds(big: SyntheticBatch) -> None:
    b = big
    assert b.y_true.mean() == pytest.approx(0.00172, rel=0.25)
    fraud, normal = b.X[b.y_true == 1], b.X[b.y_true == 0]
    v = {c: i for i, c in enumerate(FEATURE_COLUMNS)}
    for col, sign in (("V14", -1), ("V12", -1), ("V10", -1), ("V17", -1), ("V4", 1), ("V11", 1)):
        assert sign * fraud[:, v[col]].mean() > 2.0, col
        assert abs(normal[:, v[col]].mean()) < 0.05, col
    assert b.hard.sum() > 0 and not b.hard[b.y_true == 0].any()
    assert (b.y != b.y_true).sum() > 0  # label noise exists ...
    assert (b.y != b.y_true).sum() < 0.2 * b.y_true.sum()  # ... but is small
    # Detection by the strongest single feature is good but not trivial.
    auc = _auc(-b.X[:, v["V14"]], b.y_true)
    assert 0.85 < auc < 0.995
    # Frauds are more frequent at night than in the afternoon.
    hours = (b.time // 3600) % 24
    night = b.y_true[(hours >= 1) & (hours < 6)].mean()
    day = b.y_true[(hours >= 12) & (hours < 18)].mean()
    assert night > 2 * day


def test_normal_amount_is_log_normal_ish(big: SyntheticBatch) -> None:
    a = big.X[big.y_true == 0, 28]
    assert 15 < np.median(a) < 30 and 60 < a.mean() < 130
    assert np.all(np.round(a, 2) == a)
    assert (a == 0).mean() < 0.05


def test_components_have_decreasing_scale_and_heavy_tails(big: SyntheticBatch) -> None:
    normal = big.X[big.y_true == 0, :28]
    std = normal.std(axis=0)
    assert std[0] > 1.7 and std[27] < 0.5 and std[:5].mean() > 2 * std[-5:].mean()
    z = (normal - normal.mean(0)) / std
    kurt = (z**4).mean(0) - 3
    assert kurt[0] > 5 and kurt[27] > 5  # V1 and V28 are heavy-tailed in the real data
    assert abs(kurt[2]) < 1.0  # V3 is close to normal
    corr = np.corrcoef(np.c_[normal[:, 1], np.log1p(big.X[big.y_true == 0, 28])].T)[0, 1]
    assert corr < -0.25  # log-Amount falls with V2, as in the real data


@pytest.mark.skipif(not SAMPLE.is_file(), reason="real sample not shipped in this checkout")
def test_resembles_the_real_sample(big: SyntheticBatch) -> None:
    with SAMPLE.open() as fh:
        rows = list(csv.reader(fh))[1:]
    real = np.array(rows, dtype=float)
    rn, rf = real[real[:, 30] == 0], real[real[:, 30] == 1]
    syn_n, syn_f = big.X[big.y_true == 0], big.X[big.y_true == 1]
    ratio = syn_n[:, :28].std(0) / rn[:, 1:29].std(0)
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    # Fraud means agree in sign and rough size for the strongly shifted components.
    strong = np.abs(rf[:, 1:29].mean(0)) > 2
    assert np.all(np.sign(syn_f[:, :28].mean(0)[strong]) == np.sign(rf[:, 1:29].mean(0)[strong]))
    rel = syn_f[:, :28].mean(0)[strong] / rf[:, 1:29].mean(0)[strong]
    assert np.all((rel > 0.6) & (rel < 1.5)), rel
    med_ratio = np.median(syn_n[:, 28]) / np.median(rn[:, 29])
    assert 0.6 < med_ratio < 1.6


def test_events_follow_the_contract_and_match_the_arrays() -> None:
    events = list(generate_events(3000, seed=9, users=40, start="2020-01-01T00:00:00Z"))
    X, t, y = generate_arrays(3000, seed=9)
    assert [e["Id"] for e in events] == list(range(3000))
    assert all(tuple(e) == RAW_FIELDS for e in events)
    assert np.array_equal(np.array([[e[c] for c in FEATURE_COLUMNS] for e in events]), X)
    assert [e["Time"] for e in events] == t.tolist() and [e["Class"] for e in events] == y.tolist()
    assert events[0]["Timestamp"].startswith("2020-01-01T")
    assert len({e["User"] for e in events}) > 20
    for e in events[:300]:
        RawCardEvent(**e)


def test_records_are_the_orjson_encoding_of_the_events() -> None:
    kw: dict[str, Any] = {
        "seed": 2,
        "users": 30,
        "unlabelled": 0.3,
        "id_offset": 7,
        "time_offset": 100,
    }
    events = list(generate_events(CHUNK + 10, **kw))
    records = list(generate_records(CHUNK + 10, **kw))
    assert len(records) == len(events)
    for e, (key, value) in zip(events, records, strict=True):
        assert key == e["User"].encode()
        assert value == orjson.dumps(e)
    assert events[0]["Id"] == 7
    share = sum(e["Class"] is None for e in events) / len(events)
    assert 0.25 < share < 0.35


def test_endless_stream_and_bad_parameters() -> None:
    it = generate_events(None, seed=1)
    ids = [next(it)["Id"] for _ in range(CHUNK * 2 + 5)]
    assert ids == list(range(CHUNK * 2 + 5))
    with pytest.raises(SourceError):
        generate_events(10, fraud_rate=0.9)
    with pytest.raises(SourceError):
        generate_events(10, unlabelled=1.5)
    with pytest.raises(SourceError):
        GeneratorParams(label_noise=-0.1).check()


def test_prefetch_helper_stops_when_the_consumer_stops_early() -> None:
    it = generate_records(None, seed=1)  # endless
    for _ in range(CHUNK * 3):
        next(it)
    it.close()
    wait_until(
        lambda: [t for t in threading.enumerate() if t.name == "synthetic-prefetch"],
        10,
        "the prefetch thread to end",
        done=lambda alive: not alive,
    )


def test_prefetch_reraises_errors_of_the_helper() -> None:
    def boom() -> Iterator[int]:
        yield 1
        raise RuntimeError("chunk failed")

    got = []
    with pytest.raises(RuntimeError, match="chunk failed"):
        for x in _prefetch(boom()):
            got.append(x)
    assert got == [1]
