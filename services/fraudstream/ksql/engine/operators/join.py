"""What the three join operators share: the shape of the combined row, join keys, the
WHERE over the joined row, and the output row (which always carries the join key)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fraudstream.ksql.engine.operators.rows import Emit, Log, Read, RowFn, hashable
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["JoinOperator", "JoinShape"]


@dataclass(frozen=True)
class JoinShape:
    """A two-source join as the planner resolved it.

    The combined row is `left columns + right columns + [join key]`; `*_rowtime` index it.
    `windowed`: both sources are windowed, so rows join on key AND window bounds.
    `key_from_join`: the output key is the join key (not a PARTITION BY or push query).
    """

    read_left: Read
    read_right: Read
    left_key: RowFn
    right_key: RowFn
    left_width: int
    right_width: int
    left_rowtime: int
    right_rowtime: int
    join_type: str  # INNER LEFT RIGHT FULL
    windowed: bool
    windowed_output: bool
    key_from_join: bool
    left_keyed: bool = True
    right_keyed: bool = True

    @property
    def left_outer(self) -> bool:
        return self.join_type in ("LEFT", "FULL")

    @property
    def right_outer(self) -> bool:
        return self.join_type in ("RIGHT", "FULL")


class JoinOperator:
    """Base of the stream-table, stream-stream and table-table joins."""

    def __init__(
        self,
        shape: JoinShape,
        *,
        emit: Emit,
        log: Log,
        where: Callable[[Sequence[Any]], Any] | None,
    ) -> None:
        self.shape = shape
        self.emit = emit
        self.log = log
        self.where = where
        self.l_ws = shape.left_rowtime + 3  # WINDOWSTART of a left row (and combined row)
        self.r_ws = shape.right_rowtime + 3  # WINDOWSTART of the right part of combined row
        self.lw = shape.left_width
        self.null_right: list[Any] = [None] * shape.right_width
        self.null_left: list[Any] = [None] * shape.left_width

    def passes(self, row: Sequence[Any], rec: InRecord, raw_key: Any) -> bool:
        if self.where is None:
            return True
        try:
            return self.where([*row, raw_key]) is True
        except Exception as exc:
            self.log("RECORD_PROCESSING_ERROR", f"Error computing join key: {exc}", rec)
            return False

    def key_of(self, fn: RowFn, row: list[Any], rec: InRecord, ws: int = 0) -> tuple[Any, Any]:
        """(raw join key, hashable join key); (None, None) when it cannot be computed.
        Windowed sources join on key and window: the bounds are part of the hashable key."""
        try:
            raw = fn(row)
        except Exception as exc:
            self.log("RECORD_PROCESSING_ERROR", f"Error computing join key: {exc}", rec)
            return None, None
        if raw is None:
            return None, None
        if self.shape.windowed:
            return raw, (hashable(raw), row[ws], row[ws + 1])
        return raw, hashable(raw)

    def table_key(self, row: list[Any], keyed: bool, ws: int) -> Any:
        """A table row's primary key (with its window bounds when windowed); None: no key."""
        k = hashable(row[0]) if keyed else None
        if k is None:
            return None
        if self.shape.windowed:
            return (k, row[ws], row[ws + 1])
        return k

    def out(
        self, full: Sequence[Any], rec: InRecord, ts: int, raw_key: Any, **kw: Any
    ) -> list[Any]:
        """The join key column always carries the join key (also for outer-join rows)."""
        row = [*full, raw_key]  # the synthetic key slot (ROWKEY) ends the combined row
        if self.shape.windowed_output:
            l_ws, r_ws = self.l_ws, self.r_ws
            ws = full[l_ws] if full[l_ws] is not None else full[r_ws]
            we = full[l_ws + 1] if full[l_ws] is not None else full[r_ws + 1]
            kw = {**kw, "wstart": ws, "wend": we}
        if not self.shape.key_from_join:
            return self.emit(row, rec, ts, **kw)
        return self.emit(row, rec, ts, key_override=[raw_key], **kw)
