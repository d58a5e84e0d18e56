"""The single-partition topic log on the real broker: append, read your own write, replay."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from fraudstream.kafka.errors import TopicLogError
from fraudstream.kafka.topiclog import FOREVER, TopicLog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


class State:
    """What a follower applied, in order."""

    def __init__(self) -> None:
        self.applied: list[tuple[bytes | None, bytes | None]] = []

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        self.applied.append((key, value))


def test_append_returns_consecutive_offsets_and_replay_reads_them_back_in_order(
    kafka_bootstrap: str, unique_id: str
) -> None:
    log = TopicLog(kafka_bootstrap, f"cmds-{unique_id}", config=FOREVER)
    log.ensure_topic()
    try:
        assert log.replay() == []
        offsets = [log.append(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]
        offsets.append(log.append(b"gone", None))  # a tombstone is a record too
    finally:
        log.stop()
    assert offsets == list(range(6))
    again = TopicLog(kafka_bootstrap, f"cmds-{unique_id}", config=FOREVER)
    entries = again.replay()
    assert entries == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(5)] + [
        (5, b"gone", None)
    ]


def test_append_returns_only_after_the_follower_applied_the_record(
    kafka_bootstrap: str, unique_id: str
) -> None:
    topic = f"state-{unique_id}"
    mine, theirs = State(), State()
    a, b = TopicLog(kafka_bootstrap, topic), TopicLog(kafka_bootstrap, topic)
    a.start(mine.apply)
    b.start(theirs.apply)
    try:
        for i in range(20):
            off = a.append(b"k", str(i).encode())
            # read-your-write: the state the answer is based on already holds the record
            assert mine.applied[-1] == (b"k", str(i).encode())
            assert a.position == off + 1
        # the other follower sees every write too, in the same order
        b.wait_for(19, timeout=30)
        assert theirs.applied == mine.applied
        off = b.append(b"other", b"writer")
        a.wait_for(off, timeout=30)
        assert mine.applied[-1] == (b"other", b"writer")
    finally:
        a.stop()
        b.stop()


def test_a_restarted_follower_has_replayed_everything_when_start_returns(
    kafka_bootstrap: str, unique_id: str
) -> None:
    topic = f"state-{unique_id}"
    first = TopicLog(kafka_bootstrap, topic)
    first.start(State().apply)
    try:
        for i in range(50):
            first.append(f"k{i % 7}".encode(), str(i).encode())
    finally:
        first.stop()
    state = State()
    again = TopicLog(kafka_bootstrap, topic)
    t0 = time.monotonic()
    again.start(state.apply)
    try:
        assert len(state.applied) == 50, "start returned before the topic was read to its end"
        assert state.applied[-1] == (b"k0", b"49")
        assert time.monotonic() - t0 < 30
    finally:
        again.stop()


def test_a_topic_with_more_than_one_partition_is_refused(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("multi", partitions=2)
    log = TopicLog(kafka_bootstrap, topic)
    with pytest.raises(TopicLogError, match="exactly 1 partition, has 2"):
        log.start(State().apply, timeout=30)
    log.stop()


def test_a_write_that_cannot_be_acknowledged_in_time_raises_topic_log_error(
    kafka_bootstrap: str, unique_id: str
) -> None:
    log = TopicLog(kafka_bootstrap, f"cmds-{unique_id}", config=FOREVER)
    log.ensure_topic()
    try:
        with pytest.raises(TopicLogError, match="timed out writing"):
            log.append(b"k", b"v", timeout=0.000001)
    finally:
        log.stop()
