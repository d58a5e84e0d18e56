"""Runtime helpers that need no broker: processing-log entries, group names, command records."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from fraudstream.ksql.server.commandlog import Command, command_topic_name
from fraudstream.ksql.server.runtime.reporting import (
    RunnerStats,
    encode_log_record,
    entry_to_dict,
    processing_log_record,
    query_group_id,
)


@dataclass
class Entry:
    type: str
    message: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


def test_processing_log_record_has_ksqldb_shape() -> None:
    rec = processing_log_record(
        "CSAS_LIVE_3", Entry("DESERIALIZATION_ERROR", "bad json", "src", 1, 42)
    )
    assert rec["LOGGER"] == "processing.CSAS_LIVE_3"
    assert rec["LEVEL"] == "ERROR"
    assert isinstance(rec["TIME"], int) and rec["TIME"] > 1_600_000_000_000
    assert rec["MESSAGE"] == {
        "TYPE": "DESERIALIZATION_ERROR",
        "ERRORMESSAGE": "bad json",
        "RECORD": None,
        "TOPIC": "src",
        "PARTITION": 1,
        "OFFSET": 42,
    }
    assert orjson.loads(encode_log_record(rec)) == rec


def test_entries_of_any_shape_become_dicts() -> None:
    class WithToDict:
        def to_dict(self) -> dict[str, str]:
            return {"message": "m"}

    assert entry_to_dict({"a": 1}) == {"a": 1}
    assert entry_to_dict(WithToDict()) == {"message": "m"}
    assert entry_to_dict("plain text") == {"message": "plain text"}
    rec = processing_log_record("Q", {"message": "x", "record": b"\xff raw"})
    assert rec["MESSAGE"]["TYPE"] == "RECORD_PROCESSING_ERROR"
    assert rec["MESSAGE"]["RECORD"].endswith(" raw")


def test_names_follow_ksqldb() -> None:
    assert query_group_id("default_", "CSAS_X_1") == "_confluent-ksql-default_query_CSAS_X_1"
    assert command_topic_name("default_") == "_confluent-ksql-default__command_topic"


def test_command_round_trips_as_json() -> None:
    cmd = Command(statement="CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='x');", properties={"a": 1})
    back = Command.model_validate_json(cmd.model_dump_json())
    assert back.statement == cmd.statement and back.properties == {"a": 1}


def test_a_processing_error_is_counted_and_logged_and_a_broken_log_stops_nothing() -> None:
    stats, written = RunnerStats(), []
    entry = {"type": "RECORD_PROCESSING_ERROR", "message": "x" * 600, "topic": "t"}
    stats.processing_error("Q1", entry, written.append)
    assert stats.processing_errors == 1 and stats.last_error == "x" * 500
    (record,) = written
    assert record["MESSAGE"]["TYPE"] == "RECORD_PROCESSING_ERROR"

    def broken(_record: dict[str, object]) -> None:
        raise RuntimeError("log topic gone")

    stats.processing_error("Q1", {"type": "X", "message": "again"}, broken)
    stats.processing_error("Q1", {"type": "X", "message": "no sink"}, None)
    assert stats.processing_errors == 3 and stats.last_error == "no sink"
