"""Table-table join on the primary key: every update re-evaluates the key's join row.

Both tables' rows are the join's state (`StateStore`s the runtime restores from the
query's changelog); `emitted` remembers which keys last produced a row, so a key that
stops joining is deleted downstream with one tombstone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.ksql.engine.operators.join import JoinOperator, JoinShape
from fraudstream.ksql.engine.operators.rows import Emit, Log, decode_or_log
from fraudstream.ksql.engine.state import StateStore
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["TableTableJoin"]

_MIN_TIME = -(2**63)


class TableTableJoin(JoinOperator):
    def __init__(
        self,
        shape: JoinShape,
        *,
        emit: Emit,
        log: Log,
        where: Callable[[Sequence[Any]], Any] | None,
    ) -> None:
        super().__init__(shape, emit=emit, log=log, where=where)
        self.lstate: dict[Any, list[Any]] = {}
        self.rstate: dict[Any, list[Any]] = {}
        self.raw_keys: dict[Any, Any] = {}
        self.emitted: dict[Any, bool] = {}  # keys whose join row was last emitted
        self.stores = {
            "left": StateStore("left", self.lstate),
            "right": StateStore("right", self.rstate),
            "raw_keys": StateStore("raw_keys", self.raw_keys),
            "emitted": StateStore("emitted", self.emitted),
        }

    @property
    def state_stores(self) -> list[StateStore]:
        return list(self.stores.values())

    def on_left(self, rec: InRecord) -> list[Any]:
        return self.on_side(rec, True)

    def on_right(self, rec: InRecord) -> list[Any]:
        return self.on_side(rec, False)

    def mark(self, name: str, k: Any) -> None:
        dirty = self.stores[name].dirty
        if dirty is not None:
            dirty.add(k)

    def joined(self, k: Any, rec: InRecord) -> list[Any]:
        """The key's current join row, or its tombstone when it stopped joining."""
        shape = self.shape
        lrow, rrow = self.lstate.get(k), self.rstate.get(k)
        raw = self.raw_keys.get(k)
        present = (lrow is not None and (rrow is not None or shape.left_outer)) or (
            rrow is not None and shape.right_outer
        )
        full = (lrow if lrow is not None else self.null_left) + (
            rrow if rrow is not None else self.null_right
        )
        if present and self.passes(full, rec, raw):
            ts = max(
                lrow[shape.left_rowtime] if lrow is not None else _MIN_TIME,
                rrow[shape.right_rowtime - self.lw] if rrow is not None else _MIN_TIME,
            )
            if k not in self.emitted:
                self.emitted[k] = True
                self.mark("emitted", k)
            return self.out(full, rec, ts, raw)
        if k in self.emitted:
            del self.emitted[k]
            self.mark("emitted", k)
            return self.out(full, rec, rec.timestamp, raw, tombstone=True)
        return []

    def on_side(self, rec: InRecord, is_left: bool) -> list[Any]:
        shape = self.shape
        d = decode_or_log(shape.read_left if is_left else shape.read_right, self.log, rec)
        if d is None:
            return []
        row, tomb = d
        if is_left:
            k = self.table_key(row, shape.left_keyed, self.l_ws)
        else:
            k = self.table_key(row, shape.right_keyed, self.r_ws - self.lw)
        if k is None:
            return []
        store = self.lstate if is_left else self.rstate
        if tomb:
            if store.pop(k, None) is None:
                return []
        else:
            store[k] = row
            if self.raw_keys.get(k, self.raw_keys) != row[0]:
                self.raw_keys[k] = row[0]
                self.mark("raw_keys", k)
        self.mark("left" if is_left else "right", k)
        return self.joined(k, rec)
