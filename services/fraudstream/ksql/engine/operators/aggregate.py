"""GROUP BY aggregation over a stream or table, optionally TUMBLING/HOPPING windowed.

State (restored from the query's changelog): the accumulators per (group, window start),
the stream time (windowed), and a table source's previous row per primary key, so an
update retracts the old row from its group before adding the new one. Windows closed
longer than their grace drop late records and, periodically, their state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fraudstream.ksql.engine.operators.aggregates import Aggregator
from fraudstream.ksql.engine.operators.rows import Emit, Log, Read, RowFn, decode_or_log, hashable
from fraudstream.ksql.engine.state import StateStore
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["AggregateOperator", "WindowSpec"]

_MIN_TIME = -(2**63)
_EVICT_EVERY = 1024


@dataclass(frozen=True)
class WindowSpec:
    """TUMBLING or HOPPING (size, advance, grace in ms)."""

    type: str
    size: int
    advance: int
    grace: int

    def windows_for(self, ts: int) -> list[tuple[int, int]]:
        size = self.size
        if self.type == "TUMBLING":
            s = ts - (ts % size)
            return [(s, s + size)]
        out = []
        advance = self.advance
        s = ts - (ts % advance)
        while s > ts - size:
            if s >= 0:
                out.append((s, s + size))
            s -= advance
        out.reverse()
        return out


_GLOBAL = [(0, 0)]


class AggregateOperator:
    """`on_record` folds one record into its group(s) and emits the updated row(s).

    The row handed to HAVING and the sink is `input row + aggregate results +
    [WINDOWSTART, WINDOWEND]`. `windowed_output`: the sink key carries the window.
    `transient`: a failing HAVING hides the row instead of emitting a tombstone.
    """

    def __init__(
        self,
        *,
        read: Read,
        log: Log,
        emit: Emit,
        where: Callable[[Sequence[Any]], Any] | None,
        having: Callable[[Sequence[Any]], Any] | None,
        group_fns: list[RowFn],
        aggregators: list[Aggregator],
        input_width: int,
        rowtime_index: int,
        window: WindowSpec | None,
        windowed_output: bool,
        table_source: bool,
        key_count: int,
        transient: bool,
    ) -> None:
        self.read = read
        self.log = log
        self.emit = emit
        self.where = where
        self.having = having
        self.group_fns = group_fns
        self.aggs = aggregators
        self.in_width = input_width
        self.rt = rowtime_index
        self.window = window
        self.windowed_output = windowed_output
        self.is_table = table_source
        self.key_count = key_count
        self.transient = transient
        self.state: dict[Any, list[Any]] = {}
        self.stream_time: dict[str, int] = {"t": _MIN_TIME}
        self.table_prev: dict[Any, tuple[Any, list[Any]]] = {}
        # the runtime writes changed keys of these stores to the query's changelog topic
        self.agg_store = StateStore("aggregate", self.state)
        self.time_store = StateStore("stream_time", self.stream_time)
        self.prev_store = StateStore("table_prev", self.table_prev)
        # each group's (window's) row timestamp: the max record time folded into it, as
        # Kafka Streams stamps an aggregate (out-of-order records never move it back)
        self.row_times: dict[Any, int] = {}
        self.row_time_store = StateStore("aggregate_time", self.row_times)
        self.seen = 0

    @property
    def state_stores(self) -> list[StateStore]:
        return [self.agg_store, self.time_store, self.prev_store, self.row_time_store]

    def output(
        self, row: list[Any], st: list[Any], ws: int, we: int, rec: InRecord, ts: int
    ) -> list[Any]:
        post = row[: self.in_width] + [ag.result(s) for ag, s in zip(self.aggs, st, strict=True)]
        post += [ws, we]
        wkw = {"wstart": ws, "wend": we} if self.windowed_output else {}
        if self.having is not None:
            try:
                ok = self.having(post)
            except Exception as exc:
                self.log("RECORD_PROCESSING_ERROR", f"Error evaluating HAVING: {exc}", rec)
                ok = False
            if ok is not True:
                if self.transient:
                    return []
                return self.emit(post, rec, ts, tombstone=True, **wkw)
        return self.emit(post, rec, ts, **wkw)

    def evict_closed_windows(self) -> None:
        """Windows past end + grace can never change again: drop their state."""
        assert self.window is not None
        horizon = self.stream_time["t"] - self.window.grace - self.window.size
        dirty = self.agg_store.dirty
        times, times_dirty = self.row_times, self.row_time_store.dirty
        for sk in [sk for sk in self.state if sk[1] < horizon]:
            del self.state[sk]
            if dirty is not None:
                dirty.add(sk)
            if times.pop(sk, None) is not None and times_dirty is not None:
                times_dirty.add(sk)

    def group_key(self, row: list[Any]) -> Any:
        try:
            gvals = [f(row) for f in self.group_fns]
        except Exception:
            return None
        if any(v is None for v in gvals):
            return None
        return hashable(gvals if len(gvals) > 1 else gvals[0])

    def apply(self, row: list[Any], rec: InRecord, sign: int, quiet: bool = False) -> list[Any]:
        """Add (sign > 0) or retract a row in its group's window(s); the updated rows."""
        try:
            gvals = [f(row) for f in self.group_fns]
        except Exception as exc:
            self.log("RECORD_PROCESSING_ERROR", f"Error computing GROUP BY: {exc}", rec)
            return []
        if any(v is None for v in gvals):
            self.log("RECORD_PROCESSING_ERROR", "Group-by column with null value", rec)
            return []
        gk = hashable(gvals if len(gvals) > 1 else gvals[0])
        ts = row[self.rt]
        window = self.window
        state = self.state
        aggs = self.aggs
        dirty = self.agg_store.dirty
        times, times_dirty = self.row_times, self.row_time_store.dirty
        out: list[Any] = []
        for ws, we in window.windows_for(ts) if window is not None else _GLOBAL:
            if window is not None and we + window.grace <= self.stream_time["t"]:
                continue  # window closed: late record dropped
            sk = (gk, ws)
            st = state.get(sk)
            prior = times.get(sk)
            if st is None:
                st = state[sk] = [ag.init() for ag in aggs]
                prior = None  # a new group starts at this record's time
            if prior is None or prior < ts:
                row_ts = times[sk] = ts
                if times_dirty is not None:
                    times_dirty.add(sk)
            else:
                row_ts = prior
            for i, ag in enumerate(aggs):
                try:
                    st[i] = ag.add(st[i], row) if sign > 0 else ag.undo(st[i], row)
                except Exception as exc:
                    self.log("RECORD_PROCESSING_ERROR", f"Error computing aggregate: {exc}", rec)
            if dirty is not None:
                dirty.add(sk)
            if not quiet:
                out.extend(self.output(row, st, ws, we, rec, row_ts))
        return out

    def on_record(self, rec: InRecord) -> list[Any]:
        decoded = decode_or_log(self.read, self.log, rec)
        if decoded is None:
            return []
        row, tomb = decoded
        if self.is_table:
            return self._on_table_row(row, tomb, rec)
        if tomb:
            return []
        if self.window is not None:
            ts = row[self.rt]
            stream_time = self.stream_time
            if ts > stream_time["t"]:
                stream_time["t"] = ts
                if self.time_store.dirty is not None:
                    self.time_store.dirty.add("t")
            self.seen += 1
            if self.seen % _EVICT_EVERY == 0:
                self.evict_closed_windows()
        where = self.where
        if where is not None:
            try:
                ok = where(row)
            except Exception as exc:
                self.log("RECORD_PROCESSING_ERROR", f"Error evaluating WHERE: {exc}", rec)
                ok = False
            if ok is not True:
                return []
        return self.apply(row, rec, +1)

    def _on_table_row(self, row: list[Any], tomb: bool, rec: InRecord) -> list[Any]:
        """A table update: retract the key's previous row, then add the new one."""
        pk = hashable(row[0]) if self.key_count else None
        prev = self.table_prev.pop(pk, None)
        if self.prev_store.dirty is not None:
            self.prev_store.dirty.add(pk)
        keep = not tomb and (self.where is None or self.where(row) is True)
        out: list[Any] = []
        if prev is not None:
            prow = prev[1]
            prow[self.rt] = row[self.rt]
            # an update that stays in its group gives one output, as Kafka Streams
            # forwards a single change when the group key is unchanged
            same_group = keep and self.group_key(prow) == self.group_key(row)
            out.extend(self.apply(prow, rec, -1, quiet=same_group))
        if not keep:
            return out
        self.table_prev[pk] = (None, row)
        out.extend(self.apply(row, rec, +1))
        return out
