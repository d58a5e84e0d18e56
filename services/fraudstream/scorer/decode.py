"""The scorer's names for `fraudstream.serde.ksql_records` (the one decoder of KSQL's
event records). A thin re-export kept until `scorer/service.py` imports the serde module
directly; new code imports `fraudstream.serde.ksql_records`."""

from __future__ import annotations

from fraudstream.serde.ksql_records import (
    COLUMNS,
    NUMERIC_COLUMNS,
    Message,
    parse_event_time_ms,
    parse_times_ms,
    plan_for_schema,
)
from fraudstream.serde.ksql_records import RecordBatch as DecodedBatch
from fraudstream.serde.ksql_records import RecordDecoder as Decoder
from fraudstream.serde.ksql_records import Reject as DeadLetter

__all__ = [
    "COLUMNS",
    "NUMERIC_COLUMNS",
    "DeadLetter",
    "DecodedBatch",
    "Decoder",
    "Message",
    "parse_event_time_ms",
    "parse_times_ms",
    "plan_for_schema",
]
