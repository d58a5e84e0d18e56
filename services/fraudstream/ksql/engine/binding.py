"""What the analyzer and the planner share: sources bound to row offsets, select items,
and the normal forms of expressions (positions stripped, refs qualified) they compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fraudstream.ksql.engine.expressions import Compiled, Scope, ScopeColumn
from fraudstream.ksql.engine.topology import PSEUDO_COLUMNS, DataSource, SourceReader
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = [
    "BoundSource",
    "OutputColumn",
    "converted",
    "join_names",
    "map_children",
    "qualify",
    "refs",
    "strip_pos",
]


@dataclass
class BoundSource:
    """A FROM/JOIN source and where its columns start in the combined row."""

    source: DataSource
    alias: str
    offset: int  # position of this source's first column in the combined row
    reader: SourceReader | None = None

    @property
    def width(self) -> int:
        return len(self.source.columns) + 3 + (2 if self.source.window else 0)

    def scope_columns(self) -> list[ScopeColumn]:
        out = []
        i = self.offset
        for c in self.source.key_columns:
            out.append(ScopeColumn(c.name, c.type, self.alias, i, "KEY"))
            i += 1
        for c in self.source.value_columns + self.source.header_columns:
            out.append(ScopeColumn(c.name, c.type, self.alias, i, "VALUE"))
            i += 1
        for name, t in zip(PSEUDO_COLUMNS, (T.T_BIGINT, T.T_INTEGER, T.T_BIGINT), strict=True):
            out.append(ScopeColumn(name, t, self.alias, i, "PSEUDO"))
            i += 1
        if self.source.window:
            for name in ("WINDOWSTART", "WINDOWEND"):
                out.append(ScopeColumn(name, T.T_BIGINT, self.alias, i, "WINDOW"))
                i += 1
        return out

    @property
    def rowtime_index(self) -> int:
        return self.offset + len(self.source.columns)


@dataclass
class OutputColumn:
    """One column of the projection (named by ksqlDB's rules), compiled once planned."""

    name: str
    expr: A.Expr
    compiled: Compiled | None = None
    is_key: bool = False


def strip_pos(e: A.Expr, scope: Scope | None) -> A.Expr:
    """Expression with positions removed and column refs qualified (for equality checks)."""
    if isinstance(e, A.ColumnRef):
        src = e.source
        if scope is not None:
            try:
                col = scope.resolve(e, "SELECT")
                src = col.source
            except KsqlStatementError:
                pass
        return A.ColumnRef(e.name, src)
    if isinstance(e, A.Literal | A.IntervalUnit):
        return e
    return map_children(e, lambda child: strip_pos(child, scope))


def map_children(e: A.Expr, f: Callable[[A.Expr], A.Expr]) -> A.Expr:
    """`e` rebuilt with `f` applied to each child expression (also inside nested tuples)."""

    def walk(x: Any) -> Any:
        if isinstance(x, A.Expr):
            return f(x)
        if isinstance(x, tuple):
            return tuple(walk(y) for y in x)
        return x

    fields = e.__dataclass_fields__  # type: ignore[attr-defined]
    return type(e)(**{name: walk(getattr(e, name)) for name in fields})


def converted(
    f: Callable[[Sequence[Any]], Any], conv: Callable[[Any], Any]
) -> Callable[[Sequence[Any]], Any]:
    def run(r: Sequence[Any]) -> Any:
        v = f(r)
        return None if v is None else conv(v)

    return run


def qualify(e: A.Expr, src: str) -> A.Expr:
    """Column refs qualified with the source name (pseudo columns stay bare)."""
    if isinstance(e, A.ColumnRef):
        if e.name in PSEUDO_COLUMNS or e.name in ("WINDOWSTART", "WINDOWEND"):
            return A.ColumnRef(e.name)
        return A.ColumnRef(e.name, src)
    if isinstance(e, A.Literal | A.IntervalUnit):
        return e
    return map_children(e, lambda child: qualify(child, src))


def refs(e: A.Expr) -> list[A.ColumnRef]:
    return [n for n in A.walk(e) if isinstance(n, A.ColumnRef)]


def join_names(names: list[str]) -> str:
    """`a`, `a and b`, `a, b and c` (ksqlDB's list wording in messages)."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
