"""The delivery ledger: order of completion, rewind on failure, commit cadence, callbacks.

The consumer and producer here are in-memory recorders of the calls the ledger makes (the
real-broker behaviour is covered in tests/integration/kafka/test_delivery_broker.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from fraudstream.errors import KafkaToolkitError
from fraudstream.kafka.delivery import (
    DeliveryLedger,
    backoff,
    batch_offsets,
    produce,
    produce_many,
    seek,
)
from fraudstream.kafka.errors import DeliveryFailedError
from fraudstream.testing.messages import Msg as FakeMsg


def Msg(topic: str, partition: int, offset: int) -> FakeMsg:
    return FakeMsg(offset=offset, topic=topic, partition=partition)


class Consumer:
    def __init__(self, commit_error: KafkaError | None = None) -> None:
        self.seeks: list[tuple[str, int, int]] = []
        self.stored: list[list[tuple[str, int, int]]] = []
        self.commits: list[bool] = []
        self.commit_error = commit_error

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None:
        self.stored.append([(t.topic, t.partition, t.offset) for t in offsets])

    def commit(self, *, asynchronous: bool) -> None:
        self.commits.append(asynchronous)
        if self.commit_error is not None:
            raise KafkaException(self.commit_error)


class Producer:
    """Outputs wait in `pending` until the test acks or fails them; `poll` delivers reports."""

    def __init__(self, auto_ack: bool = False, errors_only: bool = False) -> None:
        self.pending: list[tuple[Callable[..., None], Msg]] = []
        self.reports: list[tuple[Callable[..., None], KafkaError | None, Msg]] = []
        self.auto_ack = auto_ack
        self.errors_only = errors_only  # delivery.report.only.error
        self.polls = 0
        self.full_once = False

    def produce(self, topic: str, value: Any, key: Any, on_delivery: Any = None) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("queue full")
        self.pending.append((on_delivery, Msg(topic, 0, len(self.pending))))

    def ack(self, n: int | None = None, err: KafkaError | None = None) -> None:
        n = len(self.pending) if n is None else n
        for cb, msg in self.pending[:n]:
            if err is not None or not self.errors_only:
                self.reports.append((cb, err, msg))
        del self.pending[:n]

    def __len__(self) -> int:  # librdkafka: unacknowledged records + unserved reports
        return len(self.pending) + len(self.reports)

    def poll(self, timeout: float = 0) -> int:
        self.polls += 1
        if self.auto_ack:
            self.ack()
        served = len(self.reports)
        for cb, err, msg in self.reports:
            cb(err, msg)
        self.reports.clear()
        return served

    def flush(self, timeout: float = 0) -> int:
        self.poll()  # a broker that never answers: what is pending stays pending
        return len(self)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ledger(
    consumer: Consumer, producer: Producer, done: list[str], **kw: Any
) -> DeliveryLedger[str]:
    ledger: DeliveryLedger[str] = DeliveryLedger(
        consumer, producer, on_complete=lambda b: done.append(b.payload), **kw
    )
    ledger.assign([TopicPartition("in", 0), TopicPartition("in", 1), TopicPartition("x", 0)])
    return ledger


def _send(ledger: DeliveryLedger[str], producer: Producer, msgs: list[Msg], name: str, n: int):
    batch = ledger.open(msgs, name)
    batch.expect(n)
    for _ in range(n):
        producer.produce("out", b"v", b"k", on_delivery=batch.ack)
    ledger.track(batch)
    return batch


def test_batch_offsets_first_and_next_per_partition_in_an_interleaved_batch() -> None:
    msgs = [Msg("in", 1, 10), Msg("in", 0, 5), Msg("in", 1, 11), Msg("in", 2, 7)]
    msgs += [Msg("in", 0, 6), Msg("in", 1, 12)]
    first, nxt = batch_offsets(msgs)
    assert [(t.topic, t.partition, t.offset) for t in first] == [
        ("in", 0, 5),
        ("in", 1, 10),
        ("in", 2, 7),
    ]
    assert [(t.partition, t.offset) for t in nxt] == [(0, 7), (1, 13), (2, 8)]


def test_batch_offsets_keeps_topics_apart_unless_one_topic_is_given() -> None:
    msgs = [Msg("a", 0, 3), Msg("b", 0, 9), Msg("a", 0, 4)]
    first, nxt = batch_offsets(msgs)
    assert [(t.topic, t.offset) for t in first] == [("a", 3), ("b", 9)]
    assert [(t.topic, t.offset) for t in nxt] == [("a", 5), ("b", 10)]
    first, _ = batch_offsets(msgs, topic="a")
    assert [(t.topic, t.offset) for t in first] == [("a", 3)]


def test_batches_complete_in_consumption_order_whatever_order_acks_arrive_in() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 10), Msg("in", 0, 11)], "b1", 2)
    _send(ledger, p, [Msg("in", 0, 12)], "b2", 1)
    # The second batch's single output is acknowledged first: nothing may complete yet.
    cb, msg = p.pending.pop()
    cb(None, msg)
    ledger.settle()
    assert done == [] and c.stored == []
    assert ledger.inflight == 2
    p.ack()
    p.poll()
    ledger.settle()
    assert done == ["b1", "b2"]
    assert c.stored == [[("in", 0, 12)], [("in", 0, 13)]]
    assert ledger.inflight == 0 and ledger.inflight_events == 0
    assert c.seeks == []
    assert ledger.uncommitted
    ledger.commit()
    assert not ledger.uncommitted and c.commits == [False]


def test_a_failed_batch_rewinds_every_partition_to_the_oldest_unacked_offset() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 10), Msg("in", 0, 11)], "b1", 2)
    _send(ledger, p, [Msg("in", 0, 12), Msg("in", 1, 5)], "b2", 2)
    p.ack(1)
    p.ack(1, err=KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    p.poll()
    with pytest.raises(DeliveryFailedError, match="1 outputs failed") as exc:
        ledger.settle()
    assert isinstance(exc.value, KafkaToolkitError)
    assert sorted(c.seeks) == [("in", 0, 10), ("in", 1, 5)]
    assert done == [] and c.stored == []
    assert ledger.inflight == 0 and ledger.inflight_events == 0


def test_completed_batches_before_a_failed_one_are_stored_then_the_rest_is_rewound() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 1)], "ok", 1)
    _send(ledger, p, [Msg("in", 0, 2)], "bad", 1)
    _send(ledger, p, [Msg("in", 0, 3)], "later", 1)
    p.ack(1)
    p.ack(1, err=KafkaError(KafkaError._MSG_TIMED_OUT))
    p.poll()
    with pytest.raises(DeliveryFailedError):
        ledger.settle()
    assert done == ["ok"]
    assert c.stored == [[("in", 0, 2)]]
    assert c.seeks == [("in", 0, 2)]


def test_rewind_skips_partitions_no_longer_assigned() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 4), Msg("in", 1, 8)], "b", 1)
    ledger.lose([TopicPartition("in", 1)])
    p.ack(err=KafkaError(KafkaError._MSG_TIMED_OUT))
    p.poll()
    with pytest.raises(DeliveryFailedError):
        ledger.settle()
    assert c.seeks == [("in", 0, 4)]


def test_an_unacknowledged_batch_fails_after_the_delivery_timeout() -> None:
    clock = Clock()
    c, done = Consumer(), []

    class SlowProducer(Producer):
        def poll(self, timeout: float = 0) -> int:
            clock.now += 1.0  # time passes while we wait; the broker never answers
            return super().poll(timeout)

    p = SlowProducer()
    ledger = _ledger(c, p, done, delivery_timeout_s=5.0, clock=clock)
    _send(ledger, p, [Msg("in", 0, 7)], "b", 3)
    with pytest.raises(DeliveryFailedError, match="3 outputs unacknowledged after 5s"):
        ledger.settle(block=True)
    assert c.seeks == [("in", 0, 7)]
    assert 4 <= p.polls <= 8


def test_track_blocks_while_too_many_events_are_in_flight() -> None:
    c, done = Consumer(), []
    p = Producer()
    ledger = _ledger(c, p, done, max_inflight_events=3)
    _send(ledger, p, [Msg("in", 0, 0), Msg("in", 0, 1)], "b1", 1)
    assert done == []  # 2 events in flight: under the limit, track returned at once
    p.auto_ack = True
    _send(ledger, p, [Msg("in", 0, 2), Msg("in", 0, 3)], "b2", 1)
    # 4 > 3: track waited (serving reports) until at least the oldest batch completed
    assert done[:1] == ["b1"]


def test_a_batch_without_outputs_completes_at_the_next_settle() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    batch = ledger.open([Msg("in", 0, 3)], "empty")
    batch.expect(0)
    assert batch.done and batch.done_at > 0
    ledger.track(batch)
    assert done == ["empty"] and c.stored == [[("in", 0, 4)]]


def test_errors_only_reports_complete_batches_once_the_producer_queue_is_empty() -> None:
    c, p, done = Consumer(), Producer(errors_only=True), []
    ledger = _ledger(c, p, done, acks="errors")
    for i in range(3):  # no report arrives for a successful output
        _send(ledger, p, [Msg("in", 0, i)], f"b{i}", 5)
    p.ack(10)  # two batches' outputs acknowledged, the third's still in the queue
    ledger.settle()
    assert done == [], "records still queued: nothing is known to be delivered"
    assert ledger.wait(0.05) is False  # slow is not failed
    p.ack()
    assert ledger.wait(1.0) is True
    assert done == ["b0", "b1", "b2"]
    assert c.stored[-1] == [("in", 0, 3)]


def test_errors_only_reports_rewind_at_the_first_batch_with_a_failure() -> None:
    c, p, done = Consumer(), Producer(errors_only=True), []
    ledger = _ledger(c, p, done, acks="errors")
    for i in range(3):
        _send(ledger, p, [Msg("in", 0, 10 + i)], f"b{i}", 1)
    p.ack(1)
    p.ack(1, err=KafkaError(KafkaError._MSG_TIMED_OUT))
    p.ack()
    with pytest.raises(DeliveryFailedError, match="out: ") as exc:
        ledger.wait(1.0)
    assert len(exc.value.errors) == 1
    assert done == ["b0"]
    assert c.seeks == [("in", 0, 11)]


def test_errors_only_blocking_settle_fails_what_the_producer_could_not_flush() -> None:
    clock = Clock()
    c, done = Consumer(), []

    class Stuck(Producer):
        def flush(self, timeout: float = 0) -> int:
            clock.now += timeout
            return super().flush(timeout)

    p = Stuck(errors_only=True)
    ledger = _ledger(c, p, done, acks="errors", delivery_timeout_s=5.0, clock=clock)
    _send(ledger, p, [Msg("in", 0, 3)], "b", 2)
    with pytest.raises(DeliveryFailedError, match="2 outputs unacknowledged after 5s"):
        ledger.settle(block=True)
    assert c.seeks == [("in", 0, 3)] and done == []


def test_wait_completes_in_order_and_reports_whether_anything_is_left() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    assert ledger.wait(0.01) is True  # nothing in flight
    _send(ledger, p, [Msg("in", 0, 1)], "b1", 2)
    _send(ledger, p, [Msg("in", 0, 2)], "b2", 1)
    p.ack(2)
    assert ledger.wait(0.05) is False
    assert done == ["b1"]
    p.ack()
    assert ledger.wait(0.05) is True and done == ["b1", "b2"]


def test_commit_cadence_commits_at_most_once_per_interval() -> None:
    clock = Clock()
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done, commit_interval_s=1.0, clock=clock)
    assert ledger.maybe_commit()  # the first tick commits
    clock.now += 0.5
    assert not ledger.maybe_commit()
    clock.now += 0.6
    assert ledger.maybe_commit()
    assert c.commits == [True, True]  # asynchronous commits of the stored offsets


def test_commit_with_nothing_stored_is_quiet_and_other_errors_do_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c, p, done = Consumer(KafkaError(KafkaError._NO_OFFSET)), Producer(), []
    ledger = _ledger(c, p, done)
    assert "commit failed" not in caplog.text
    assert ledger.commit() is None
    c.commit_error = KafkaError(KafkaError.REBALANCE_IN_PROGRESS)
    assert ledger.commit(quiet=True) is not None
    assert "offset commit failed" not in caplog.text
    assert ledger.commit() is not None
    assert "offset commit failed" in caplog.text


def test_revoke_drains_and_commits_synchronously_before_handing_over() -> None:
    c, done = Consumer(), []
    p = Producer()
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 1)], "b", 1)
    p.auto_ack = True
    ledger.revoke([TopicPartition("in", 0)])
    assert done == ["b"] and c.commits == [False]
    assert ("in", 0) not in ledger.assigned
    ledger.revoke([TopicPartition("in", 1)], commit=False)  # exactly-once: no commit
    assert c.commits == [False] and ("in", 1) not in ledger.assigned


def test_drain_reports_a_failure_instead_of_raising() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    _send(ledger, p, [Msg("in", 0, 1)], "b", 1)
    p.ack(err=KafkaError(KafkaError._MSG_TIMED_OUT))
    assert ledger.drain() is False
    assert c.seeks == [("in", 0, 1)] and done == []
    assert ledger.drain() is True  # nothing left in flight


def test_complete_untracked_reports_without_storing_offsets() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    ledger.complete_untracked(ledger.open([Msg("in", 0, 1)], "txn"))
    assert done == ["txn"] and c.stored == []


def test_seek_helper_and_rewind_seek_only_assigned_partitions() -> None:
    c = Consumer()
    seek(c, {("in", 0): 5, ("in", 9): 1}, [("in", 0)])
    assert c.seeks == [("in", 0, 5)]
    ledger = _ledger(c, Producer(), [])
    ledger.rewind([Msg("x", 0, 8), Msg("in", 1, 3), Msg("x", 0, 9), Msg("y", 0, 1)])
    assert c.seeks[1:] == [("in", 1, 3), ("x", 0, 8)]


def test_produce_helper_retries_after_a_full_local_queue() -> None:
    p = Producer()
    p.full_once = True
    produce(p, "out", b"v", b"k", on_delivery=lambda *_: None)
    assert len(p.pending) == 1 and p.polls == 1


class BatchProducer(Producer):
    """`produce_batch` as confluent-kafka has it: queues until `room` runs out, marks every
    refused record's dict with `_error` and returns how many were queued."""

    def __init__(self, room: int, refuse: int = KafkaError._QUEUE_FULL) -> None:
        super().__init__()
        self.room = room
        self.refuse = refuse
        self.calls: list[int] = []
        self.sent: list[tuple[str, Any, Any]] = []

    def produce_batch(self, topic: str, msgs: list[dict[str, Any]], on_delivery: Any) -> int:
        self.calls.append(len(msgs))
        queued = 0
        for m in msgs:
            if self.room <= 0:
                m["_error"] = KafkaError(self.refuse, "refused")
                continue
            self.room -= 1
            queued += 1
            self.sent.append((topic, m["value"], m["key"]))
            self.pending.append((on_delivery, Msg(topic, 0, len(self.pending))))
        return queued

    def poll(self, timeout: float = 0) -> int:
        self.room += 2  # reports served: room in the local queue again
        return super().poll(timeout)


def test_produce_many_is_one_call_with_a_report_per_record() -> None:
    p = BatchProducer(room=10)
    acks: list[KafkaError | None] = []
    produce_many(p, "out", [b"a", b"b", b"c"], [b"1", b"2", None], lambda e, _m: acks.append(e))
    assert p.calls == [3] and p.polls == 0
    assert p.sent == [("out", b"a", b"1"), ("out", b"b", b"2"), ("out", b"c", None)]
    p.ack()
    p.poll()
    assert acks == [None, None, None]


def test_produce_many_retries_the_refused_tail_of_a_full_queue_in_order() -> None:
    p = BatchProducer(room=1)
    values = [b"%d" % i for i in range(5)]
    produce_many(p, "out", values, values, lambda *_: None)
    assert [v for _t, v, _k in p.sent] == values  # every record once, in order
    assert p.calls == [5, 4, 2] and p.polls == 2


def test_produce_many_raises_what_is_not_a_full_queue() -> None:
    p = BatchProducer(room=1, refuse=KafkaError.MSG_SIZE_TOO_LARGE)
    with pytest.raises(KafkaException):
        produce_many(p, "out", [b"ok", b"too big"], [None, None], lambda *_: None)
    assert [v for _t, v, _k in p.sent] == [b"ok"]


def test_produce_many_without_produce_batch_produces_one_by_one() -> None:
    p = Producer()
    p.full_once = True
    produce_many(p, "out", [b"a", b"b"], [b"1", b"2"], lambda *_: None)
    assert len(p.pending) == 2 and p.polls == 1
    produce_many(p, "out", [], [], None)
    assert len(p.pending) == 2


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(i) for i in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(50) == 30.0 and backoff(50, cap=10.0) == 10.0


# ---------------------------------------------------------------- exactly-once (issue 21 item 5)


class TxProducer:
    """A transactional producer whose calls fail as scripted (KafkaError per call, or None)."""

    def __init__(self, commit: list[KafkaError | None], send: list[KafkaError | None] = ()):
        self.commit_script = list(commit)
        self.send_script = list(send)
        self.calls: list[str] = []

    def send_offsets_to_transaction(self, offsets: Any, meta: Any, timeout: float) -> None:
        self.calls.append("send_offsets")
        err = self.send_script.pop(0) if self.send_script else None
        if err is not None:
            raise KafkaException(err)

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")
        err = self.commit_script.pop(0) if self.commit_script else None
        if err is not None:
            raise KafkaException(err)

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


class TxConsumer(Consumer):
    def consumer_group_metadata(self) -> str:
        return "meta"


def _timed_out() -> KafkaError:
    return KafkaError(KafkaError._TIMED_OUT, "commit timed out", retriable=True)


def test_a_commit_that_timed_out_is_retried_not_aborted() -> None:
    """librdkafka: a timed-out commit_transaction continues in the background and must be
    called again; aborting and rewinding would write the batch twice for read_committed."""
    from fraudstream.kafka.delivery import commit_transaction

    p = TxProducer(commit=[_timed_out(), _timed_out(), None])
    commit_transaction(p, TxConsumer(), [TopicPartition("in", 0, 5)], timeout_s=1.0)
    assert p.calls == ["send_offsets", "commit", "commit", "commit"]


def test_an_abortable_commit_error_aborts_and_says_so() -> None:
    from fraudstream.kafka.delivery import TransactionAbortedError, commit_transaction

    fenced = KafkaError(KafkaError.ILLEGAL_GENERATION, "stale", txn_requires_abort=True)
    p = TxProducer(commit=[], send=[fenced])
    with pytest.raises(TransactionAbortedError, match="stale"):
        commit_transaction(p, TxConsumer(), [TopicPartition("in", 0, 5)], timeout_s=1.0)
    assert p.calls == ["send_offsets", "abort"]


def test_a_fatal_transaction_error_is_not_retried() -> None:
    from fraudstream.kafka.delivery import TransactionFatalError, commit_transaction

    fatal = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    p = TxProducer(commit=[fatal])
    with pytest.raises(TransactionFatalError, match="fenced"):
        commit_transaction(p, TxConsumer(), [TopicPartition("in", 0, 5)], timeout_s=1.0)
    assert p.calls == ["send_offsets", "commit"]


def test_owned_drops_records_of_partitions_revoked_during_consume() -> None:
    c, p, done = Consumer(), Producer(), []
    ledger = _ledger(c, p, done)
    msgs = [Msg("in", 0, 1), Msg("in", 1, 7), Msg("in", 0, 2)]
    ledger.revoke([TopicPartition("in", 1)], commit=False)  # the callback ran inside consume()
    assert [(m.partition(), m.offset()) for m in ledger.owned(msgs)] == [(0, 1), (0, 2)]


def test_on_rewind_hears_every_dropped_batch_newest_first() -> None:
    c, p, done = Consumer(), Producer(), []
    dropped: list[list[str]] = []
    ledger = _ledger(c, p, done)
    ledger.on_rewind = lambda batches: dropped.append([b.payload for b in batches])
    _send(ledger, p, [Msg("in", 0, 1)], "ok", 1)
    _send(ledger, p, [Msg("in", 0, 2)], "bad", 1)
    _send(ledger, p, [Msg("in", 0, 3)], "later", 1)
    p.ack(1)
    p.ack(1, err=KafkaError(KafkaError._MSG_TIMED_OUT))
    p.poll()
    with pytest.raises(DeliveryFailedError):
        ledger.settle()
    assert done == ["ok"] and dropped == [["later", "bad"]]
