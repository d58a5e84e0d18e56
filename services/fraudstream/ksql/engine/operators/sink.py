"""The sink: a result row -> the output record of a persistent query, or the row a push
query shows. Every operator ends in one; `emit` is the per-record call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats.codegen import projector
from fraudstream.ksql.engine.operators.rows import Log, RowFn, json_ready
from fraudstream.ksql.engine.state import MaterializedTable
from fraudstream.ksql.engine.topology import InRecord, OutRecord, TransientRow, windowed_key
from fraudstream.ksql.errors import KsqlProcessingError

__all__ = ["SinkOperator", "TransientSink"]

_SERIALIZE_ERRORS = (SerdeError, KsqlProcessingError, ValueError, TypeError, OverflowError)


class SinkOperator:
    """Projects a row to key and value columns, serializes them and stamps the timestamp.

    `null_key_formats`: a key that is all NULL is written as a NULL key when there is one
    key column or the key format is DELIMITED/KAFKA; `passthrough_null_key` also when the
    input record's key was NULL (a stream keeping its key). `table`: the sink is a CTAS table,
    whose rows pull queries read; each record written is put there as well.
    """

    def __init__(
        self,
        *,
        topic: str,
        key_fns: list[RowFn],
        value_fns: list[RowFn],
        indexes: list[int | None] | None,
        serialize_key: Callable[[list[Any]], bytes | None],
        serialize_value: Callable[[list[Any]], bytes | None],
        null_key_always: bool,
        passthrough_null_key: bool,
        timestamp_of: Callable[[list[Any], list[Any]], int | None] | None,
        ts_index: int | None,
        session: bool,
        log: Log,
        table: MaterializedTable | None = None,
    ) -> None:
        self.topic = topic
        self.table = table  # a CTAS: every record written is also the table's row
        self.all_fns = key_fns + value_fns
        self.nk = len(key_fns)
        self.project = projector(
            self.all_fns, indexes if indexes is not None else [None] * len(self.all_fns)
        )
        self.kser = serialize_key
        self.vser = serialize_value
        self.null_key_always = null_key_always
        self.passthrough_null_key = passthrough_null_key
        self.timestamp_of = timestamp_of
        self.ts_index = ts_index
        self.session = session
        self.log = log

    def evaluate(self, row: Sequence[Any], rec: InRecord | None) -> list[Any]:
        """Column by column, when the generated projection failed: a failing expression
        gives NULL and a processing-log entry."""
        out = []
        for f in self.all_fns:
            try:
                out.append(f(row))
            except Exception as exc:
                self.log("RECORD_PROCESSING_ERROR", f"Error computing expression: {exc}", rec)
                out.append(None)
        return out

    def emit(
        self,
        row: Sequence[Any],
        rec: InRecord | None,
        ts: int | None = None,
        tombstone: bool = False,
        wstart: int | None = None,
        wend: int | None = None,
        key_override: list[Any] | None = None,
    ) -> list[OutRecord]:
        try:
            vals = self.project(row)
        except Exception:
            vals = self.evaluate(row, rec)
        nk = self.nk
        keys = vals[:nk] if key_override is None else key_override
        values = vals[nk:]
        if ts is None:
            ts_index = self.ts_index
            ts = row[ts_index] if ts_index is not None else (rec.timestamp if rec else 0)
        try:
            if (
                nk
                and all(k is None for k in keys)
                and (
                    self.null_key_always
                    or (rec is not None and rec.key is None and self.passthrough_null_key)
                )
            ):
                kb = None
            else:
                kb = self.kser(keys)
            if wstart is not None:
                kb = windowed_key(kb, wstart, wend if wend is not None else wstart, self.session)
            vb = None if tombstone else self.vser(values)
            if self.timestamp_of is not None and not tombstone:
                t2 = self.timestamp_of(keys, values)
                if t2 is not None:
                    if t2 < 0:  # the producer refuses a negative record timestamp
                        raise KsqlProcessingError(f"Negative timestamp in sink column: {t2}")
                    ts = t2
        except _SERIALIZE_ERRORS as exc:
            self.log(
                "SERIALIZATION_ERROR",
                f"Error serializing message to topic: {self.topic}. {exc}",
                rec,
            )
            return []
        out_ts = int(ts or 0)
        if self.table is not None:
            self.table.put(kb, vb, out_ts)
        # the input record's headers travel on, as Kafka Streams forwards them
        return [OutRecord(self.topic, kb, vb, out_ts, rec.headers if rec else ())]


class TransientSink:
    """A push query's row: every projected value JSON-ready, tombstones marked."""

    def __init__(self, fns: list[RowFn], log: Log) -> None:
        self.fns = fns
        self.log = log

    def emit(
        self,
        row: Sequence[Any],
        rec: InRecord | None,
        ts: int | None = None,
        tombstone: bool = False,
        **_: Any,
    ) -> list[TransientRow]:
        out = []
        for f in self.fns:
            try:
                out.append(json_ready(f(row)))
            except Exception as exc:
                self.log("RECORD_PROCESSING_ERROR", f"Error computing expression: {exc}", rec)
                out.append(None)
        return [TransientRow(out, tombstone)]
