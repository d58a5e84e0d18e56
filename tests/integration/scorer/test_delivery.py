"""Delivery guarantees on the real broker: kill -9 + restart (at-least-once), exactly-once
for a read_committed reader, SIGTERM stops cleanly with offsets committed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from fraudstream.kafka.reader import read_topic
from fraudstream.testing.scorer import make_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

N = 20_000


def test_kill9_mid_stream_then_restart_scores_every_id(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    scorer_process: Callable[..., Any],
) -> None:
    from fraudstream.testing.scorer import BackgroundSend

    events = make_events(N)
    first = scorer_process(batch_size=500)
    first.wait_metric("fraudstream_ready", 1, timeout=60)
    sender = BackgroundSend(live_producer, events, rate=5000)
    first.wait_metric("fraudstream_events_scored_total", 4000, timeout=60)
    first.kill9()
    sender.join()

    second = scorer_process(batch_size=500)
    second.wait_metric("fraudstream_events_scored_total", 1, timeout=60)
    msgs = read_topic(kafka_bootstrap, topics.scores, expect=N, timeout=90, read_committed=False)
    counts = Counter(int(m.key()) for m in msgs)
    assert set(counts) == {e["Id"] for e in events}, "every id scored at least once"
    dupes = sum(c - 1 for c in counts.values())
    print(f"kill -9: {len(msgs)} score records for {N} ids, {dupes} duplicates")
    # Only batches after the last commit (<= commit interval + in-flight) are re-scored.
    assert dupes < 10_000

    assert second.terminate() == 0, second.log()
    assert "scorer stopped" in second.log()
    # Everything was committed on SIGTERM: a new replica of the group has nothing to do.
    third = scorer_process(batch_size=500)
    third.wait_metric("fraudstream_ready", 1, timeout=60)
    import time

    time.sleep(2)
    assert third.metric("fraudstream_events_consumed_total") == 0
    assert third.terminate() == 0


def test_exactly_once_survives_kill9(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    scorer_process: Callable[..., Any],
    unique_id: str,
) -> None:
    from fraudstream.testing.scorer import BackgroundSend

    events = make_events(N)
    tid = f"scorer-eos-{unique_id}"
    first = scorer_process("--exactly-once", batch_size=500, transactional_id=tid)
    first.wait_metric("fraudstream_ready", 1, timeout=60)
    sender = BackgroundSend(live_producer, events, rate=5000)
    first.wait_metric("fraudstream_events_scored_total", 4000, timeout=60)
    first.kill9()
    sender.join()
    # Same transactional id: the restart fences the dead replica's open transaction.
    second = scorer_process("--exactly-once", batch_size=500, transactional_id=tid)
    second.wait_metric("fraudstream_events_scored_total", 1, timeout=60)
    committed = read_topic(kafka_bootstrap, topics.scores, expect=N, timeout=90)
    counts = Counter(int(m.key()) for m in committed)
    assert set(counts) == {e["Id"] for e in events}
    assert max(counts.values()) == 1, "a read_committed reader sees every id exactly once"
    everything = read_topic(
        kafka_bootstrap, topics.scores, expect=N, timeout=30, read_committed=False
    )
    print(
        f"exactly-once: {len(everything)} records written incl. aborted, {len(committed)} committed"
    )
    assert second.terminate() == 0, second.log()
