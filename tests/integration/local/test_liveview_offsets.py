"""The live view counts this run's scores only: it starts at the offsets the scores topic had
when `up` began, and reads from the beginning a partition that did not exist then (issue 19).

Records here are not wire-format Avro on purpose: the view counts each one it consumed as
undecodable, which is enough to see which records it read, without a registry or a scorer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from fraudstream.local.liveview import LiveView
from fraudstream.local.procs import free_port
from fraudstream.local.topics import end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _send(bootstrap: str, topic: str, n: int, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        producer.produce(topic, value=b"not avro %d" % i, partition=partition)
    assert producer.flush(30) == 0


def _view(bootstrap: str, topic: str, start: dict[int, int]) -> LiveView:
    return LiveView(
        bootstrap, "http://127.0.0.1:9", f"http://127.0.0.1:{free_port()}", topic, topic,
        start_offsets=start,
    )  # fmt: skip


def _consumed(view: LiveView, seconds: float = 8.0) -> int:
    view.run(seconds, threading.Event(), interactive=False, log_every=100)
    return view.stats.undecodable


def test_earlier_runs_records_are_not_counted(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("lv-scores", 2)
    _send(kafka_bootstrap, topic, 30, partition=0)  # an earlier run's scores
    start = {p: hi for p, (_lo, hi) in end_offsets(kafka_bootstrap, topic).items()}
    assert start == {0: 30, 1: 0}
    _send(kafka_bootstrap, topic, 7, partition=0)
    _send(kafka_bootstrap, topic, 5, partition=1)
    assert _consumed(_view(kafka_bootstrap, topic, start)) == 12


def test_no_start_offsets_reads_every_partition_from_the_beginning(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    """`up` found no offsets (the topic's metadata was not there yet): read it all. This used
    to assign no partition at all, and the view showed 0 scored while the scorer scored."""
    topic = topic_factory("lv-scores-new", 2)
    _send(kafka_bootstrap, topic, 4, partition=0)
    _send(kafka_bootstrap, topic, 6, partition=1)
    assert _consumed(_view(kafka_bootstrap, topic, {})) == 10
