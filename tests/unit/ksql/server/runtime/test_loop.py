"""The loop both runners live in: records through a query (a broken record reported, an
outage propagated), the consume loop's commit points, and a consumed batch's errors."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from fraudstream.kafka.errors import DeliveryFailedError
from fraudstream.ksql.engine.engine import InRecord
from fraudstream.ksql.server.runtime.loop import LoopThread, run_records
from fraudstream.serde.errors import RegistryUnavailableError


def test_run_records_reports_a_broken_record_and_goes_on() -> None:
    def process(rec: InRecord) -> list[Any]:
        if rec.offset == 1:
            raise ValueError("boom")
        return [rec.offset]

    errors: list[dict[str, Any]] = []
    outs: list[Any] = []
    recs = [InRecord("t", None, b"{}", 0, 2, off) for off in range(3)]
    run_records(process, recs, outs, errors.append)
    assert outs == [0, 2]
    assert errors == [
        {
            "type": "RECORD_PROCESSING_ERROR",
            "message": "ValueError: boom",
            "topic": "t",
            "partition": 2,
            "offset": 1,
        }
    ]


def test_run_records_lets_an_outage_pause_the_batch() -> None:
    def process(_rec: InRecord) -> list[Any]:
        raise RegistryUnavailableError("registry down")

    errors: list[dict[str, Any]] = []
    with pytest.raises(RegistryUnavailableError):
        run_records(process, [InRecord("t", None, b"{}", 0)], [], errors.append)
    assert errors == [], "an outage is not the record's fault"


class Loop(LoopThread):
    def __init__(self) -> None:
        super().__init__("test-loop", "test")
        self.failed: list[DeliveryFailedError] = []
        self.warnings: list[str] = []

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        self.failed.append(exc)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)


class Ledger:
    def __init__(self, waits: list[Any]) -> None:
        self.waits = waits

    def wait(self, _timeout: float) -> bool:
        got = self.waits.pop(0)
        if isinstance(got, Exception):
            raise got
        return bool(got)


def test_a_commit_point_commits_only_after_every_ack() -> None:
    loop, commits = Loop(), []
    ledger = Ledger([False, True])
    assert loop._commit_point(ledger, lambda: commits.append(1) or None) is True  # type: ignore[arg-type,func-returns-value]
    assert commits == [1] and ledger.waits == []


def test_a_failed_delivery_skips_the_commit_and_a_failed_commit_is_warned_about() -> None:
    loop, commits = Loop(), []
    failure = DeliveryFailedError("delivery failed", ["out: timed out"])
    assert loop._commit_point(Ledger([failure]), lambda: commits.append(1) or None) is False  # type: ignore[arg-type,func-returns-value]
    assert commits == [] and loop.failed == [failure]
    assert loop._commit_point(Ledger([True]), lambda: "coordinator gone") is True  # type: ignore[arg-type]
    assert loop.warnings == ["commit failed: coordinator gone"]


def test_a_stop_while_unacknowledged_commits_nothing() -> None:
    loop, commits = Loop(), []
    loop._stop.set()
    assert loop._commit_point(Ledger([False]), lambda: commits.append(1) or None) is None  # type: ignore[arg-type,func-returns-value]
    assert commits == []


def test_good_drops_partition_ends_and_warns_about_other_errors() -> None:
    class M:
        def __init__(self, code: int | None) -> None:
            self.code = code

        def error(self) -> KafkaError | None:
            return None if self.code is None else KafkaError(self.code)

    loop = Loop()
    ok = M(None)
    got = loop._good([ok, M(KafkaError._PARTITION_EOF), M(KafkaError._TRANSPORT)])  # type: ignore[list-item]
    assert got == [ok]
    assert len(loop.warnings) == 1 and loop.warnings[0].startswith("consume error")
