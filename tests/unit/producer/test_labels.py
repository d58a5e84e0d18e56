"""Delayed labels: the delay grammar, the held-back label and its due-time publication."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from fraudstream.producer.errors import SourceError
from fraudstream.producer.labels import DelayedLabels, LabelDelay, label_record, parse_duration_s


def test_durations_read_units() -> None:
    assert parse_duration_s("250ms") == pytest.approx(0.25)
    assert parse_duration_s("5") == 5.0
    assert parse_duration_s("2m") == 120.0
    assert parse_duration_s("1.5h") == 5400.0
    assert parse_duration_s("3d") == 3 * 86400.0
    with pytest.raises(SourceError, match="not a duration"):
        parse_duration_s("soon")


def test_delay_specs_parse_and_sample_their_distribution() -> None:
    rng = np.random.default_rng(0)
    assert LabelDelay.parse("fixed:5s").sample(rng, 3).tolist() == [5.0, 5.0, 5.0]
    u = LabelDelay.parse("uniform:1d,3d").sample(rng, 20_000)
    assert u.min() >= 86400 and u.max() <= 3 * 86400
    assert u.mean() == pytest.approx(2 * 86400, rel=0.02)
    e = LabelDelay.parse("exp:10s").sample(rng, 20_000)
    assert e.min() >= 0 and e.mean() == pytest.approx(10.0, rel=0.05)
    assert str(LabelDelay.parse("exp:2m")) == "exp:120s"
    for bad in ("gauss:1s", "fixed", "uniform:5s", "uniform:9s,1s", "exp:fast"):
        with pytest.raises(SourceError, match="label delay"):
            LabelDelay.parse(bad)


def test_label_record_is_keyed_by_event_id() -> None:
    key, value = label_record(42, 1, 1_780_000_000.5)
    assert key == b"42"
    assert orjson.loads(value) == {"Id": 42, "Class": 1, "LabelTime": "2026-05-28T20:26:40.500Z"}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _FakeProducer:
    """Records what would be produced (the broker part is in the integration test)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _t: float) -> int:
        return 0

    def flush(self, _t: float) -> int:
        return 0


def _held(delay: str, share: float = 1.0) -> tuple[DelayedLabels, _Clock, _FakeProducer]:
    clock = _Clock()
    dl = DelayedLabels(
        bootstrap="127.0.0.1:1", topic="labels", delay=LabelDelay.parse(delay), share=share,
        drain_s=0.0, clock=clock,
    )  # fmt: skip
    fake = _FakeProducer()
    dl._producer = fake  # type: ignore[assignment]
    return dl, clock, fake


def test_events_lose_their_label_which_is_published_when_due() -> None:
    dl, clock, fake = _held("fixed:5s")
    events = [{"Id": i, "Class": c, "V1": 0.5} for i, c in enumerate([0, 1, None])]
    out = list(dl.wrap(events))
    assert [e["Class"] for e in out] == [None, None, None]
    assert events[1]["Class"] == 1, "the caller's events are not mutated"
    assert dl.stats.held == 2 and dl.pending == 2 and fake.sent == []
    clock.now += 4.9
    assert dl.publish_due() == 0
    clock.now += 0.2
    assert dl.publish_due() == 2
    assert [(t, k, orjson.loads(v)["Class"]) for t, k, v in fake.sent] == [
        ("labels", b"0", 0),
        ("labels", b"1", 1),
    ]
    stats = dl.close()
    assert (stats.held, stats.published, stats.pending) == (2, 2, 0)


def test_labels_come_out_in_due_order_and_undue_ones_stay_pending() -> None:
    dl, clock, _fake = _held("uniform:1s,100s")
    list(dl.wrap({"Id": i, "Class": 0} for i in range(500)))
    clock.now += 50
    n = dl.publish_due()
    assert 150 < n < 350  # about half fall due within 50 s
    stats = dl.close()  # drain_s = 0: nothing more is published early
    assert stats.pending == 500 - n and stats.published == n


def test_share_drops_some_labels_for_good() -> None:
    dl, _clock, _fake = _held("fixed:1s", share=0.25)
    list(dl.wrap({"Id": i, "Class": 0} for i in range(4000)))
    assert 800 < dl.stats.held < 1200
