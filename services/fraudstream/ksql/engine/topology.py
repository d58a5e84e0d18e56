"""Query runtime: records in, records out, entirely in memory (no Kafka I/O here).

A persistent or transient query is compiled once into a chain of closures:
source readers (bytes -> row), an operator (filter / join / aggregate), and a projection
(row -> key/value bytes). `process(InRecord)` runs one record through that chain.
Processing errors never raise: they become `ProcessingLogEntry`s passed to `on_error`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from fraudstream.errors import SerdeError, TransientError
from fraudstream.ksql.engine.formats import FormatSpec, Serde, window_suffix
from fraudstream.ksql.engine.state import MaterializedTable, StateStore
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

if TYPE_CHECKING:
    from fraudstream.ksql.engine.plan import PlanNode

# ----------------------------------------------------------------------------- records


@dataclass
class InRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    partition: int = 0
    offset: int = 0
    headers: Sequence[tuple[str, bytes | None]] = ()
    # decoded values, keyed by the reader that decoded them: a runtime that hands one record
    # to several queries of the same source passes a dict here, so it is decoded once
    memo: dict[Any, list[Any]] | None = field(default=None, compare=False, repr=False)


@dataclass
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Sequence[tuple[str, bytes | None]] = ()


@dataclass
class ProcessingLogEntry:
    """One entry of ksqlDB's processing log (KSQL_PROCESSING_LOG stream)."""

    type: str  # DESERIALIZATION_ERROR RECORD_PROCESSING_ERROR SERIALIZATION_ERROR
    message: str
    query_id: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: int = field(default_factory=lambda: int(time.time() * 1000))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "queryId": self.query_id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
        }


# ----------------------------------------------------------------------------- metastore model


@dataclass
class Column:
    name: str
    type: T.SqlType
    namespace: str = "VALUE"  # KEY VALUE HEADERS
    header_key: str | None = None  # HEADER('key'); None for the whole HEADERS array

    @property
    def is_key(self) -> bool:
        return self.namespace == "KEY"


@dataclass
class WindowInfo:
    type: str  # TUMBLING HOPPING SESSION
    size: int | None = None  # ms


@dataclass
class DataSource:
    """A stream or table in the metastore."""

    name: str
    kind: str  # STREAM TABLE
    columns: list[Column]
    topic: str
    key_format: FormatSpec
    value_format: FormatSpec
    partitions: int = 1
    replicas: int = 1
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    window: WindowInfo | None = None
    is_source: bool = False
    statement_text: str = ""

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == "KEY"]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == "VALUE"]

    @property
    def header_columns(self) -> list[Column]:
        """Columns read from the record's headers (they follow the value columns in a row)."""
        return [c for c in self.columns if c.namespace == "HEADERS"]

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def schema_text(self) -> str:
        """`ID BIGINT KEY, NAME STRING` as ksqlDB prints a schema (PRIMARY KEY for tables)."""
        parts = []
        for c in self.columns:
            suffix = ""
            if c.namespace == "KEY":
                suffix = " PRIMARY KEY" if self.kind == "TABLE" else " KEY"
            elif c.namespace == "HEADERS":
                suffix = " HEADERS" if c.header_key is None else f" HEADER('{c.header_key}')"
            parts.append(f"`{c.name}` {c.type}{suffix}")
        return ", ".join(parts)


# ----------------------------------------------------------------------------- readers

# decoded as lists, dicts or buffers: never shared between readers
_MUTABLE = frozenset({T.ARRAY, T.MAP, T.STRUCT, T.BYTES})
PSEUDO_COLUMNS = ("ROWTIME", "ROWPARTITION", "ROWOFFSET")
WINDOW_BOUNDS = ("WINDOWSTART", "WINDOWEND")


class SourceReader:
    """Decodes records of one source into rows: keys + values + ROWTIME, ROWPARTITION,
    ROWOFFSET (+ WINDOWSTART, WINDOWEND for windowed sources)."""

    def __init__(
        self,
        source: DataSource,
        key_serde: Serde,
        value_serde: Serde,
        timestamp_fn: Callable[[list[Any]], int | None] | None = None,
    ) -> None:
        self.source = source
        self.n_keys = len(source.key_columns)
        self.n_values = len(source.value_columns)
        self.headers: list[str | None] = [c.header_key for c in source.header_columns]
        self.kde = key_serde.deserialize
        self.vde = value_serde.deserialize
        self.timestamp_fn = timestamp_fn
        self.window = source.window
        self.n_fields = self.n_values + len(self.headers)
        self.width = self.n_keys + self.n_fields + 3 + (2 if self.window else 0)
        # Readers of the same source share a record's decoded values (`InRecord.memo`) when
        # they are immutable scalars: a row copies them, and no operator can alter another
        # query's view. Nested values (lists, dicts) are decoded per reader.
        self.memo_key: tuple[str, int] | None = (
            ("value", id(source))
            if all(c.type.base not in _MUTABLE for c in source.value_columns)
            else None
        )

    def read_key(self, key: bytes | None) -> tuple[list[Any], list[Any]]:
        """(key values, window bounds)."""
        bounds: list[Any] = []
        if self.window is not None and key is not None:
            if self.window.type == "SESSION":
                if len(key) < 16:
                    raise SerdeError("windowed key too short")
                end, start = struct.unpack(">qq", key[-16:])
                key = key[:-16]
            else:
                if len(key) < 8:
                    raise SerdeError("windowed key too short")
                (start,) = struct.unpack(">q", key[-8:])
                end = start + (self.window.size or 0)
                key = key[:-8]
            bounds = [start, end]
        elif self.window is not None:
            bounds = [None, None]
        if self.n_keys == 0:
            return [], bounds
        if key is None:
            return [None] * self.n_keys, bounds
        return self.kde(key), bounds

    def read(self, rec: InRecord) -> tuple[list[Any], bool]:
        """Decode a record; returns (row, is_tombstone). Raises SerdeError."""
        keys, bounds = self.read_key(rec.key)
        headers = self._headers(rec) if self.headers else []
        if rec.value is None:
            return [
                *keys,
                *([None] * self.n_values),
                *headers,
                rec.timestamp,
                rec.partition,
                rec.offset,
                *bounds,
            ], True
        memo = rec.memo
        if memo is not None and self.memo_key is not None:
            values = memo.get(self.memo_key)
            if values is None:  # a failed decode is not memoized: each query logs its own
                values = memo[self.memo_key] = self.vde(rec.value)
        else:
            values = self.vde(rec.value)
        row = [*keys, *values, *headers, rec.timestamp, rec.partition, rec.offset, *bounds]
        if self.timestamp_fn is not None:
            ts = self.timestamp_fn(row)
            if ts is not None:
                if ts < 0:
                    # Kafka Streams skips a record whose extracted timestamp is negative
                    raise KsqlProcessingError(f"Negative timestamp extracted: {ts}")
                row[self.n_keys + self.n_fields] = ts
        return row, False

    def _headers(self, rec: InRecord) -> list[Any]:
        """HEADERS: every header as a KEY/VALUE struct; HEADER('k'): the last value of k."""
        out: list[Any] = []
        for key in self.headers:
            if key is None:
                out.append([{"KEY": k, "VALUE": v} for k, v in rec.headers])
            else:
                out.append(next((v for k, v in reversed(rec.headers) if k == key), None))
        return out

    @property
    def rowtime_index(self) -> int:
        return self.n_keys + self.n_fields


# ----------------------------------------------------------------------------- queries

ErrorCallback = Callable[[ProcessingLogEntry], None]
Handler = Callable[[InRecord], list[OutRecord]]


class BaseQuery:
    """Shared shape of persistent and transient queries."""

    def __init__(
        self,
        query_id: str,
        statement_text: str,
        source_topics: list[str],
        sink_topic: str | None,
        schema: list[Column],
    ) -> None:
        self.id = query_id
        self.statement_text = statement_text
        self.source_topics = source_topics
        self.sink_topic = sink_topic
        self.schema = schema
        self.errors: list[ProcessingLogEntry] = []
        self.on_error: ErrorCallback = self.errors.append
        self.handlers: dict[str, list[Handler]] = {}
        self.state = "RUNNING"
        self.records_processed = 0
        self.processing_errors = 0
        # keyed state of stateful queries (aggregates), restorable from a changelog topic
        self.state_stores: list[StateStore] = []
        # the operator plan the planner built (EXPLAIN prints it)
        self.plan: PlanNode | None = None

    def log_error(self, kind: str, message: str, rec: InRecord | None) -> None:
        self.processing_errors += 1
        entry = ProcessingLogEntry(
            kind,
            message,
            self.id,
            rec.topic if rec else None,
            rec.partition if rec else None,
            rec.offset if rec else None,
        )
        try:
            self.on_error(entry)
        except Exception:  # a broken callback must not stop the query
            self.errors.append(entry)

    def process(self, record: InRecord) -> list[OutRecord]:
        """Run one input record through the query; never raises for bad records."""
        handlers = self.handlers.get(record.topic)
        if not handlers:
            return []
        self.records_processed += 1
        if len(handlers) == 1:
            try:
                return handlers[0](record)
            except TransientError:  # not the record's fault: the runtime pauses and retries
                raise
            except Exception as exc:  # defensive: one bad record never stops the query
                self.log_error("RECORD_PROCESSING_ERROR", f"{type(exc).__name__}: {exc}", record)
                return []
        out: list[OutRecord] = []
        for h in handlers:
            try:
                out.extend(h(record))
            except TransientError:
                raise
            except Exception as exc:
                self.log_error("RECORD_PROCESSING_ERROR", f"{type(exc).__name__}: {exc}", record)
        return out


class PersistentQuery(BaseQuery):
    """A CSAS / CTAS / INSERT INTO query: input topics -> sink topic."""

    def __init__(
        self, *args: Any, kind: str = "PERSISTENT", sink_name: str | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.kind = kind
        self.sink_name = sink_name
        # a CTAS's table rows, for pull queries: its sink writes every record here too
        # (the planner creates it; it is one of `state_stores`)
        self.materialized: MaterializedTable | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "queryString": self.statement_text,
            "sinks": [self.sink_name] if self.sink_name else [],
            "sinkKafkaTopics": [self.sink_topic] if self.sink_topic else [],
            "id": self.id,
            "statusCount": {self.state: 1},
            "queryType": "PERSISTENT",
            "state": self.state,
        }


@dataclass
class TransientRow:
    values: list[Any]
    tombstone: bool = False


class TransientQuery(BaseQuery):
    """A push query (`SELECT ... EMIT CHANGES [LIMIT n]`): rows instead of sink records."""

    def __init__(self, *args: Any, limit: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.limit = limit
        self.emitted = 0
        self.row_handlers: dict[str, list[Callable[[InRecord], list[TransientRow]]]] = {}
        self.is_table = False

    @property
    def done(self) -> bool:
        return self.limit is not None and self.emitted >= self.limit

    def header_schema(self) -> str:
        return ", ".join(f"`{c.name}` {c.type}" for c in self.schema)

    def process_rows(self, record: InRecord) -> list[TransientRow]:
        """Rows produced by one record (JSON-ready values), honouring LIMIT."""
        if self.done:
            return []
        out: list[TransientRow] = []
        for h in self.row_handlers.get(record.topic, []):
            try:
                out.extend(h(record))
            except TransientError:
                raise
            except Exception as exc:
                self.log_error("RECORD_PROCESSING_ERROR", f"{type(exc).__name__}: {exc}", record)
        self.records_processed += 1
        if self.limit is not None:
            room = self.limit - self.emitted
            out = out[:room]
        self.emitted += len(out)
        return out

    def process(self, record: InRecord) -> list[OutRecord]:
        return [
            OutRecord(
                "",
                None,
                None if r.tombstone else orjson.dumps(r.values, default=str),
                record.timestamp,
            )
            for r in self.process_rows(record)
        ]


def windowed_key(key: bytes | None, start: int, end: int, session: bool) -> bytes:
    return (key or b"") + window_suffix(start, end, session)
