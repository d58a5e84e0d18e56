"""Project / filter / partition-by over one stream or table: one record in, at most one out.

A table's row that stops matching WHERE is retracted with a tombstone. A push query over a
table remembers the keys it has shown, so it retracts only rows it showed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.ksql.engine.operators.rows import Emit, Log, Read, RowFn, decode_or_log, hashable
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["SelectOperator"]


class SelectOperator:
    """`on_record` handles one record of the source topic.

    `tombstone_keys`: after PARTITION BY, a stream tombstone keeps the key columns it can
    compute from the old key and NULL for any other partition expression.
    `drop_stream_tombstones`: a filtered or transient stream forwards no tombstones.
    """

    def __init__(
        self,
        *,
        read: Read,
        log: Log,
        emit: Emit,
        where: Callable[[Sequence[Any]], Any] | None,
        is_table: bool,
        key_count: int,
        rowtime_index: int,
        source_windowed: bool,
        windowed_output: bool,
        track_shown: bool,
        drop_stream_tombstones: bool,
        tombstone_keys: list[RowFn] | None = None,
    ) -> None:
        self.read = read
        self.log = log
        self.emit = emit
        self.where = where
        self.is_table = is_table
        self.nkeys = key_count
        self.rt = rowtime_index
        self.ws = rowtime_index + 3  # WINDOWSTART follows the three pseudo columns
        self.source_windowed = source_windowed
        self.windowed = windowed_output
        self.track_shown = track_shown
        self.drop_stream_tombstones = drop_stream_tombstones
        self.tombstone_keys = tombstone_keys
        self.shown: set[Any] = set()  # keys a push query over a table has shown

    def row_key(self, row: Sequence[Any]) -> Any:
        k = hashable(list(row[: self.nkeys]))
        return (k, row[self.ws], row[self.ws + 1]) if self.source_windowed else k

    def _window(self, row: Sequence[Any]) -> dict[str, Any]:
        return {"wstart": row[self.ws], "wend": row[self.ws + 1]} if self.windowed else {}

    def on_record(self, rec: InRecord) -> list[Any]:
        decoded = decode_or_log(self.read, self.log, rec)
        if decoded is None:
            return []
        row, tomb = decoded
        nkeys = self.nkeys
        if self.is_table and nkeys and all(row[i] is None for i in range(nkeys)):
            self.log("RECORD_PROCESSING_ERROR", "Skipping record with a null key for a table", rec)
            return []
        if tomb:
            return self._tombstone(row, rec)
        where = self.where
        if where is not None:
            try:
                ok = where(row)
            except Exception as exc:
                self.log("RECORD_PROCESSING_ERROR", f"Error evaluating WHERE: {exc}", rec)
                ok = False
            if ok is not True:
                return self._retract(row, rec) if self.is_table else []
        if self.windowed:
            ws = self.ws
            return self.emit(row, rec, row[self.rt], wstart=row[ws], wend=row[ws + 1])
        if self.track_shown:
            self.shown.add(self.row_key(row))
        return self.emit(row, rec, row[self.rt])

    def _tombstone(self, row: list[Any], rec: InRecord) -> list[Any]:
        if self.is_table:
            if self.track_shown:
                self.shown.discard(self.row_key(row))
            return self.emit(row, rec, row[self.rt], tombstone=True, **self._window(row))
        if self.drop_stream_tombstones:
            return []
        if self.tombstone_keys is not None:
            keys = [f(row) for f in self.tombstone_keys]
            return self.emit(row, rec, row[self.rt], tombstone=True, key_override=keys)
        return self.emit(row, rec, row[self.rt], tombstone=True, **self._window(row))

    def _retract(self, row: list[Any], rec: InRecord) -> list[Any]:
        """A table row that no longer passes WHERE: delete it downstream."""
        if self.track_shown:
            key = self.row_key(row)
            if key not in self.shown:
                return []
            self.shown.discard(key)
        return self.emit(row, rec, row[self.rt], tombstone=True, **self._window(row))
