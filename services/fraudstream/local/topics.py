"""Topic record counts from watermarks: how the supervisor knows a stage has caught up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from fraudstream.kafka.clients import client_config
from fraudstream.local.errors import ComponentStartError


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        client_config(
            bootstrap,
            **{
                "group.id": f"fraudstream-watermarks-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "log_level": 0,
            },
        )
    )


def end_offsets(bootstrap: str, topic: str, timeout: float = 5.0) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)} watermarks of `topic`; {} when the topic does not exist."""
    consumer = _consumer(bootstrap)
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return {}
        out = {}
        for p in tmd.partitions:
            out[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
        return out
    except KafkaException:
        return {}
    finally:
        consumer.close()


def topic_count(bootstrap: str, topic: str) -> int:
    """Records in `topic` (sum of high - low over partitions; offsets, so an upper bound
    when transactions left control records)."""
    return sum(hi - lo for lo, hi in end_offsets(bootstrap, topic).values())


def wait_for_count(
    bootstrap: str,
    topic: str,
    at_least: int,
    timeout: float,
    settle_s: float = 3.0,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Wait until `topic` holds >= at_least records and stopped growing for `settle_s`.

    Raises ComponentStartError with the count reached after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last = -1
    changed = time.monotonic()
    next_note = time.monotonic() + 5.0
    while True:
        n = topic_count(bootstrap, topic)
        now = time.monotonic()
        if n != last:
            last, changed = n, now
        if n >= at_least and now - changed >= settle_s:
            return n
        if now > deadline:
            raise ComponentStartError(
                f"{topic} holds {n} records after {timeout:.0f}s; expected at least {at_least}"
            )
        if progress is not None and now > next_note:
            progress(f"{topic}: {n}/{at_least} records")
            next_note = now + 5.0
        time.sleep(0.5)
