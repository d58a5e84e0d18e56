"""Replayer argument checks and the stats' arithmetic (no broker needed: they fail first)."""

from __future__ import annotations

import pytest

from fraudstream.producer.errors import SourceError
from fraudstream.producer.replay import ReplayStats, replay, replay_records
from fraudstream.producer.synthetic import generate_events, generate_records


def test_loop_over_a_one_shot_iterator_is_refused() -> None:
    with pytest.raises(SourceError, match="re-iterable"):
        replay(generate_events(5), bootstrap="127.0.0.1:1", topic="t", loop=True)
    with pytest.raises(SourceError, match="re-iterable"):
        replay_records(generate_records(5), bootstrap="127.0.0.1:1", topic="t", loop=True)


def test_negative_limit_is_refused() -> None:
    with pytest.raises(SourceError, match="limit"):
        replay_records([], bootstrap="127.0.0.1:1", topic="t", limit=-1)


def test_stats_rate_ok_and_summary() -> None:
    s = ReplayStats(topic="t", produced=10, delivered=8, failed=2, elapsed_s=2.0, passes=1)
    assert s.rate == 4.0 and not s.ok
    assert "10 produced, 8 delivered, 2 failed to t" in s.summary()
    good = ReplayStats(topic="t", produced=3, delivered=3, elapsed_s=0.0)
    assert good.ok and good.rate == 0.0
