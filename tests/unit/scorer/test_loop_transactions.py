"""Exactly-once mode of the scoring loop (issue 21 item 5): what a transaction does when a
rebalance or an ambiguous commit hits it. Clients are in-memory recorders of the calls the
loop makes; the real-broker behaviour is in tests/integration/scorer/test_delivery.py."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.scorer.errors import DeliveryError, ScorerError
from fraudstream.scorer.loop import ScoringLoop, Totals
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.scoring import Scored
from fraudstream.serde.ksql_records import RecordBatch
from fraudstream.testing.messages import Msg as FakeMsg


def Msg(partition: int, offset: int) -> FakeMsg:
    return FakeMsg(
        offset=offset, topic="live", partition=partition, timestamp=(1, 1_700_000_000_000)
    )


class Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[int, int]] = []

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.partition, tp.offset))

    def store_offsets(self, **_kw: Any) -> None:
        raise AssertionError("exactly-once never stores offsets")

    def commit(self, **_kw: Any) -> None:
        raise AssertionError("exactly-once never commits offsets")

    def consumer_group_metadata(self) -> str:
        return "meta"


class Producer:
    def __init__(self, commit_errors: list[KafkaError]) -> None:
        self.commit_errors = commit_errors
        self.calls: list[str] = []
        self.offsets: list[list[tuple[int, int]]] = []

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets: Any, meta: Any, timeout: float) -> None:
        self.calls.append("send_offsets")
        self.offsets.append([(tp.partition, tp.offset) for tp in offsets])

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0

    def __len__(self) -> int:
        return 0


class Decoder:
    """Every record decodes to one row; scored[i] follows the records handed in."""

    def __init__(self) -> None:
        self.decoded: list[tuple[int, int]] = []

    def decode(self, msgs: list[Msg]) -> RecordBatch:
        self.decoded += [(m.partition(), m.offset()) for m in msgs]
        return RecordBatch(msgs=list(msgs), labels=[0] * len(msgs))


def _loop(producer: Producer, consumer: Consumer, decoder: Decoder) -> ScoringLoop:
    ledger: DeliveryLedger[Scored] = DeliveryLedger(consumer, producer)
    ledger.assign([TopicPartition("live", 0), TopicPartition("live", 1)])
    settings = SimpleNamespace(
        exactly_once=True, explain_top_k=3, topic="live", transaction_timeout_ms=60_000
    )
    writer = SimpleNamespace(
        send=lambda scored, ack: None, outputs=SimpleNamespace(score_prefix=b"")
    )
    loop = ScoringLoop(
        settings,  # type: ignore[arg-type]
        consumer,  # type: ignore[arg-type]
        producer,  # type: ignore[arg-type]
        ledger,
        decoder,  # type: ignore[arg-type]
        writer,  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        ScorerMetrics(),
        SimpleNamespace(),  # type: ignore[arg-type]
        Totals(),
    )
    return loop


@pytest.fixture(autouse=True)
def _no_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    def score(batch: RecordBatch, *_a: Any) -> Scored:
        n = len(batch)
        return Scored(batch, np.zeros(n), np.zeros(n, np.bool_), [b""] * n, [b""] * n)

    monkeypatch.setattr("fraudstream.scorer.loop.score_batch", score)


def test_a_commit_that_timed_out_but_went_through_is_retried_not_aborted() -> None:
    timed_out = KafkaError(KafkaError._TIMED_OUT, "commit timed out", retriable=True)
    p, c, d = Producer([timed_out]), Consumer(), Decoder()
    loop = _loop(p, c, d)
    failures = loop._batch([Msg(0, 10), Msg(0, 11)], None, 0, threading.Event())  # type: ignore[arg-type]
    assert failures == 0
    assert p.calls == ["begin", "send_offsets", "commit", "commit"]
    assert "abort" not in p.calls and c.seeks == []  # no rewind: the outputs are not rewritten
    assert loop.totals.batches == 1 and loop.totals.scored == 2


def test_an_abortable_commit_error_aborts_and_rewinds_the_batch() -> None:
    fenced = KafkaError(KafkaError.ILLEGAL_GENERATION, "stale generation", txn_requires_abort=True)
    p, c, d = Producer([fenced]), Consumer(), Decoder()
    loop = _loop(p, c, d)
    failures = loop._batch(
        [Msg(0, 10), Msg(1, 4)],
        None,
        0,
        threading.Event(),
    )  # type: ignore[arg-type]
    assert failures == 1
    assert p.calls[-1] == "abort"
    assert sorted(c.seeks) == [(0, 10), (1, 4)]
    assert loop.totals.batches == 0


def test_a_fatal_transaction_error_stops_the_replica() -> None:
    fatal = KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True)
    loop = _loop(Producer([fatal]), Consumer(), Decoder())
    with pytest.raises(ScorerError, match="fenced"):
        loop._batch([Msg(0, 1)], None, 0, threading.Event())  # type: ignore[arg-type]
    assert not isinstance(ScorerError("x"), DeliveryError)


def test_records_of_a_partition_revoked_during_consume_are_not_scored_nor_committed() -> None:
    p, c, d = Producer([]), Consumer(), Decoder()
    loop = _loop(p, c, d)
    loop.ledger.revoke([TopicPartition("live", 1)], commit=False)
    loop._batch([Msg(0, 5), Msg(1, 8), Msg(0, 6)], None, 0, threading.Event())  # type: ignore[arg-type]
    assert d.decoded == [(0, 5), (0, 6)]
    assert p.offsets == [[(0, 7)]]
    assert loop.totals.scored == 2


def test_decode_refusals_are_counted_by_limit() -> None:
    from fraudstream.serde.ksql_records import Reject

    class Refusing(Decoder):
        def decode(self, msgs: list[Msg]) -> RecordBatch:
            batch = RecordBatch(msgs=[], labels=[])
            batch.dead = [Reject(m, "decode_error", "too big", "record_bytes") for m in msgs]
            return batch

    loop = _loop(Producer([]), Consumer(), Refusing())
    loop._batch([Msg(0, 1), Msg(0, 2)], None, 0, threading.Event())  # type: ignore[arg-type]
    get = loop.metrics.registry.get_sample_value
    assert get("fraudstream_decode_refusals_total", {"limit": "record_bytes"}) == 2.0
    assert get("fraudstream_events_dead_lettered_total", {"reason": "decode_error"}) == 2.0
