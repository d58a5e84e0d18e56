"""What a persistent query reports: its counters, its processing-log records (ksqlDB's
shape), and the group names ksqlDB gives its consumers."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

log = logging.getLogger(__name__)

ProcessingLogSink = Callable[[dict[str, Any]], None]


def query_group_id(service_id: str, query_id: str) -> str:
    """ksqlDB's consumer group name for a persistent query."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def engine_records() -> tuple[Any, Any]:
    from fraudstream.ksql.engine.engine import InRecord, OutRecord

    return InRecord, OutRecord


def entry_to_dict(entry: Any) -> dict[str, Any]:
    """A processing-log entry (dataclass, pydantic model, dict or text) as a JSON-able dict."""
    if isinstance(entry, dict):
        return dict(entry)
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return dataclasses.asdict(entry)
    for attr in ("to_dict", "model_dump", "as_dict"):
        fn = getattr(entry, attr, None)
        if callable(fn):
            return dict(fn())
    return {"message": str(entry)}


def processing_log_record(query_id: str, entry: Any, *, level: str = "ERROR") -> dict[str, Any]:
    """ksqlDB's processing-log message shape (logger, level, time, message{type, ...})."""
    body = entry_to_dict(entry)
    kind = str(body.get("type", body.get("kind", "RECORD_PROCESSING_ERROR")))
    message = str(body.get("message", body.get("errorMessage", "")))
    record = body.get("record")
    if isinstance(record, bytes):
        record = record.decode("utf-8", "replace")
    return {
        "LOGGER": f"processing.{query_id}",
        "LEVEL": level,
        "TIME": int(time.time() * 1000),
        "MESSAGE": {
            "TYPE": kind,
            "ERRORMESSAGE": message,
            "RECORD": None if record is None else str(record),
            "TOPIC": body.get("topic"),
            "PARTITION": body.get("partition"),
            "OFFSET": body.get("offset"),
        },
    }


@dataclasses.dataclass
class RunnerStats:
    """Counters one query's loop keeps (read by LIST QUERIES / DESCRIBE and the tests)."""

    consumed: int = 0
    produced: int = 0
    processing_errors: int = 0
    delivery_errors: int = 0
    transient_errors: int = 0  # batches paused on an unreachable registry/broker
    restored: int = 0  # state changelog records read back at start
    last_error: str | None = None
    state: str = "PENDING"

    def processing_error(self, query_id: str, entry: Any, sink: ProcessingLogSink | None) -> None:
        """A record the query could not process: counted, and written to the processing
        log (a failing log write is logged, never a reason to stop the query)."""
        self.processing_errors += 1
        body = entry_to_dict(entry)
        self.last_error = str(body.get("message", body))[:500]
        if sink is not None:
            try:
                sink(processing_log_record(query_id, entry))
            except Exception:
                log.exception("query %s: could not write the processing log", query_id)


def encode_log_record(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)
