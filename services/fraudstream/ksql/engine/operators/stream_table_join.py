"""Stream-table join: each stream record looks up the table's current row by key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.ksql.engine.operators.join import JoinOperator, JoinShape
from fraudstream.ksql.engine.operators.rows import Emit, Log, decode_or_log
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["StreamTableJoin"]


class StreamTableJoin(JoinOperator):
    """State: the table side, primary key -> latest row (a tombstone deletes it). Table
    updates produce no output; INNER drops unmatched stream rows, LEFT pads them."""

    def __init__(
        self,
        shape: JoinShape,
        *,
        emit: Emit,
        log: Log,
        where: Callable[[Sequence[Any]], Any] | None,
    ) -> None:
        super().__init__(shape, emit=emit, log=log, where=where)
        self.table: dict[Any, list[Any]] = {}

    def on_stream(self, rec: InRecord) -> list[Any]:
        d = decode_or_log(self.shape.read_left, self.log, rec)
        if d is None or d[1]:
            return []
        row = d[0]
        raw, k = self.key_of(self.shape.left_key, row, rec, self.l_ws)
        if k is None:
            return []
        right = self.table.get(k)
        if right is None:
            if not self.shape.left_outer:
                return []
            right = self.null_right
        full = row + right
        if not self.passes(full, rec, raw):
            return []
        return self.out(full, rec, row[self.shape.left_rowtime], raw)

    def on_table(self, rec: InRecord) -> list[Any]:
        d = decode_or_log(self.shape.read_right, self.log, rec)
        if d is None:
            return []
        row, tomb = d
        k = self.table_key(row, self.shape.right_keyed, self.r_ws - self.lw)
        if k is None:
            return []
        if tomb:
            self.table.pop(k, None)
        else:
            self.table[k] = row
        return []
