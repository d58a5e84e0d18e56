"""The scoring loop's batching wait (`batch_linger_ms`): at a paced load a batch keeps
collecting records for up to the linger after its first one, and never waits once it is
full. The consumer is an in-memory one whose records arrive at set times, with
librdkafka's `consume(n, timeout)` contract (returns once n records are there or the
timeout passed); the real-broker loop is in tests/integration/scorer."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from confluent_kafka import TopicPartition

from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.scorer.loop import ScoringLoop, Totals
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.scoring import Scored
from fraudstream.serde.ksql_records import RecordBatch
from fraudstream.testing.messages import Msg as FakeMsg


def Msg(offset: int) -> FakeMsg:
    return FakeMsg(offset=offset, topic="live")


class TimedConsumer:
    """Record i becomes available `arrivals[i]` seconds after the consumer is made."""

    def __init__(self, arrivals: list[float]) -> None:
        self.t0 = time.monotonic()
        self.arrivals = arrivals
        self.next = 0
        self.calls: list[tuple[int, float]] = []

    def _ready(self, n: int) -> list[Msg]:
        now = time.monotonic() - self.t0
        out: list[Msg] = []
        while self.next < len(self.arrivals) and self.arrivals[self.next] <= now and len(out) < n:
            out.append(Msg(self.next))
            self.next += 1
        return out

    def consume(self, n: int, timeout: float) -> list[Msg]:
        self.calls.append((n, timeout))
        end = time.monotonic() + timeout
        out = self._ready(n)
        while len(out) < n and time.monotonic() < end:
            time.sleep(0.001)
            out += self._ready(n - len(out))
        return out

    def poll(self, timeout: float) -> Msg | None:
        got = self.consume(1, timeout)
        return got[0] if got else None

    def store_offsets(self, **_kw: Any) -> None:
        pass

    def commit(self, **_kw: Any) -> None:
        pass

    def seek(self, _tp: TopicPartition) -> None:
        pass


class Producer:
    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0

    def __len__(self) -> int:
        return 0


def _loop(consumer: TimedConsumer, linger_ms: float, batch_size: int = 100) -> ScoringLoop:
    producer = Producer()
    ledger: DeliveryLedger[Scored] = DeliveryLedger(consumer, producer)
    ledger.assign([TopicPartition("live", 0)])
    settings = SimpleNamespace(
        exactly_once=False, explain_top_k=3, topic="live", max_wait_ms=20,
        batch_linger_ms=linger_ms, batch_size=batch_size, lag_interval_s=60.0, drift=False,
    )  # fmt: skip
    writer = SimpleNamespace(
        send=lambda scored, ack: None, outputs=SimpleNamespace(score_prefix=b"")
    )
    manifest = SimpleNamespace(drift_reference=None)
    model = SimpleNamespace(version="v1", threshold=1.0, model=SimpleNamespace(manifest=manifest))
    health = SimpleNamespace(
        heartbeat=lambda: None, update_lag=lambda _c: None, ready=lambda: (True, "")
    )
    return ScoringLoop(
        settings,  # type: ignore[arg-type]
        consumer,  # type: ignore[arg-type]
        producer,  # type: ignore[arg-type]
        ledger,
        SimpleNamespace(decode=lambda msgs: RecordBatch(msgs=list(msgs), labels=[0] * len(msgs))),  # type: ignore[arg-type]
        writer,  # type: ignore[arg-type]
        SimpleNamespace(current=model),  # type: ignore[arg-type]
        ScorerMetrics(),
        health,  # type: ignore[arg-type]
        Totals(),
    )


@pytest.fixture(autouse=True)
def _no_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    def score(batch: RecordBatch, *_a: Any) -> Scored:
        n = len(batch)
        return Scored(batch, np.zeros(n), np.zeros(n, np.bool_), [], [])

    monkeypatch.setattr("fraudstream.scorer.loop.score_batch", score)


def _first_batch(loop: ScoringLoop) -> list[int]:
    """Run the loop until its first batch is handled; the batch's offsets."""
    stop = threading.Event()
    seen: list[int] = []
    handle = loop._handle

    def once(msgs: list[Any], model: Any) -> None:
        seen.extend(m.offset() for m in msgs)
        handle(msgs, model)
        stop.set()

    loop._handle = once  # type: ignore[method-assign]
    runner = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), "the loop did not stop after its first batch"
    return seen


def test_without_a_linger_a_batch_is_what_is_fetched_when_its_first_record_arrives() -> None:
    consumer = TimedConsumer([0.0, 0.0, 0.3, 0.31])
    assert _first_batch(_loop(consumer, linger_ms=0)) == [0, 1]
    assert all(timeout == 0 for n, timeout in consumer.calls[1:] if n > 1)


def test_a_paced_trickle_is_gathered_into_one_batch_within_the_linger() -> None:
    # records 20 ms apart, then one long after the linger
    consumer = TimedConsumer([0.0, 0.02, 0.04, 0.06, 3.0])
    loop = _loop(consumer, linger_ms=400)
    start = time.monotonic()
    assert _first_batch(loop) == [0, 1, 2, 3]
    took = time.monotonic() - start
    assert 0.4 <= took < 2.5  # waited out the linger (generous bound: shared machine)
    assert loop.totals.batches == 1 and loop.totals.scored == 4


def test_a_full_batch_does_not_wait_for_the_linger() -> None:
    consumer = TimedConsumer([0.0] * 8)
    loop = _loop(consumer, linger_ms=10_000, batch_size=5)
    start = time.monotonic()
    assert _first_batch(loop) == [0, 1, 2, 3, 4]
    assert time.monotonic() - start < 5.0  # far below the 10 s linger


def test_the_linger_stops_a_partial_batch_at_its_deadline() -> None:
    consumer = TimedConsumer([0.0, 0.01, 0.02])
    loop = _loop(consumer, linger_ms=0)
    start = time.monotonic()
    more = loop._gather(10, time.monotonic() + 0.3)
    took = time.monotonic() - start
    assert [m.offset() for m in more] == [0, 1, 2]
    assert 0.3 <= took < 2.5
