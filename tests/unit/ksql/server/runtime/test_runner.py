"""One persistent query's batch handling without a broker (issue 21 item 1): an earlier
batch's delivery failure reported while the next is tracked does not kill the query, and a
transient failure (the registry down) pauses the batch: nothing produced, the consumer
rewound to it. The ledger is the real one over in-memory clients."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.ksql.engine.engine import InRecord
from fraudstream.ksql.server.runtime.runner import QueryRunner
from fraudstream.serde.errors import RegistryUnavailableError
from fraudstream.testing.messages import Msg as FakeMsg


def Msg(offset: int) -> FakeMsg:
    return FakeMsg(b"{}", offset, topic="src")


class Out:
    def __init__(self) -> None:
        self.topic, self.key, self.value, self.timestamp, self.headers = "out", b"k", b"v", 1, ()


class Query:
    id = "CSAS_OUT_0"
    source_topics = ("src",)

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.state_stores: list[Any] = []

    def process(self, rec: InRecord) -> list[Out]:
        if rec.offset == self.fail_at:
            raise RegistryUnavailableError("registry http://r unreachable")
        return [Out()]


class Consumer:
    def __init__(self) -> None:
        self.seeks: list[int] = []

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append(tp.offset)

    def store_offsets(self, **_kw: Any) -> None:
        pass

    def commit(self, **_kw: Any) -> None:
        pass


class Producer:
    def __init__(self) -> None:
        self.produced: list[Any] = []

    def produce(self, *_a: Any, on_delivery: Any = None, **_kw: Any) -> None:
        self.produced.append(on_delivery)

    def poll(self, _t: float = 0) -> int:
        return 0

    def flush(self, _t: float = 0) -> int:
        return len(self)

    def __len__(self) -> int:
        return 0


def _runner(query: Query) -> tuple[QueryRunner, DeliveryLedger[Any], Consumer, Producer]:
    runner = QueryRunner(query, bootstrap="127.0.0.1:1", group_id="g")
    consumer, producer = Consumer(), Producer()
    ledger: DeliveryLedger[Any] = DeliveryLedger(consumer, producer, acks="each")
    ledger.assign([TopicPartition("src", 0)])
    return runner, ledger, consumer, producer


def test_a_failed_earlier_batch_does_not_kill_the_query() -> None:
    runner, ledger, consumer, producer = _runner(Query())
    runner._batch([Msg(0), Msg(1)], ledger, producer, None, None, InRecord)  # type: ignore[arg-type]
    first = producer.produced[0]
    first(KafkaError(KafkaError._MSG_TIMED_OUT), Msg(0))  # its output failed
    runner._batch([Msg(2)], ledger, producer, None, None, InRecord)  # type: ignore[arg-type]
    assert runner.stats.delivery_errors == 1
    assert consumer.seeks == [0], "rewound to the failed batch, which is read again"
    assert ledger.inflight == 0


def test_a_registry_outage_pauses_the_batch_without_producing_it() -> None:
    runner, ledger, consumer, producer = _runner(Query(fail_at=6))
    runner._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, None, None, InRecord)  # type: ignore[arg-type]
    assert producer.produced == [], "no output of a paused batch (its first record's neither)"
    assert consumer.seeks == [5] and runner._paused
    assert runner.stats.transient_errors == 1 and runner.stats.processing_errors == 0
    assert ledger.inflight == 0
    runner.query = Query()
    runner._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, None, None, InRecord)  # type: ignore[arg-type]
    assert len(producer.produced) == 3 and not runner._paused
