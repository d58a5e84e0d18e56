"""Table functions in a SELECT: one input row becomes one output row per produced value.

Sits between the select (source, WHERE) and the sink: `emit` is the select operator's emit.
Each call's arguments are evaluated on the row (a failure: the argument is NULL, logged), the
function gives a list (a failure: an empty list, logged); the lists are zipped to the longest,
NULL for the shorter ones, and appended to the row as the synthetic columns the rewritten
projection reads. A stream tombstone produces nothing (ksqlDB's flat-mapper returns no rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.ksql.engine.operators.rows import Emit, Log, RowFn
from fraudstream.ksql.engine.topology import InRecord

__all__ = ["FlatMapOperator", "TableFunctionCall"]

TableFunctionCall = tuple[str, list[RowFn], Callable[..., list[Any]]]
"""(name, argument evaluators, the function)."""


class FlatMapOperator:
    """`emit` has the select operator's emit signature; `width` is the input row's width."""

    def __init__(self, calls: list[TableFunctionCall], width: int, emit: Emit, log: Log) -> None:
        self.calls = calls
        self.width = width
        self.downstream = emit
        self.log = log

    def _apply(self, row: Sequence[Any], rec: InRecord | None) -> list[list[Any]]:
        results = []
        for name, args, fn in self.calls:
            vals = []
            for i, f in enumerate(args):
                try:
                    vals.append(f(row))
                except Exception as exc:
                    self.log(
                        "RECORD_PROCESSING_ERROR",
                        f"Failed to evaluate table function parameter {i}: {exc}",
                        rec,
                    )
                    vals.append(None)
            try:
                results.append(fn(*vals))
            except Exception as exc:
                self.log(
                    "RECORD_PROCESSING_ERROR",
                    f"Table function {name} threw an exception: {exc}",
                    rec,
                )
                results.append([])
        return results

    def emit(
        self,
        row: Sequence[Any],
        rec: InRecord | None,
        ts: int | None = None,
        tombstone: bool = False,
        **kw: Any,
    ) -> list[Any]:
        if tombstone:
            return []
        lists = self._apply(row, rec)
        longest = max((len(v) for v in lists), default=0)
        base = list(row[: self.width])
        out: list[Any] = []
        for i in range(longest):
            ext = base + [v[i] if i < len(v) else None for v in lists]
            out.extend(self.downstream(ext, rec, ts, **kw))
        return out
