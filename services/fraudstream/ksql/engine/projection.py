"""The projection: `SELECT` items expanded and named by ksqlDB's rules, and which items
carry the result's key columns (with ksqlDB's messages when the key is missing)."""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.ksql.engine.binding import (
    BoundSource,
    OutputColumn,
    join_names,
    qualify,
    strip_pos,
)
from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope
from fraudstream.ksql.engine.topology import PSEUDO_COLUMNS
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = ["Projection"]

Raw = list[tuple[str | None, A.Expr]]


class Projection:
    """Select-list rules for one query over `bound` sources (two for a join)."""

    def __init__(
        self,
        scope: Scope,
        bound: Sequence[BoundSource],
        *,
        transient: bool,
        sink_name: str | None,
        synthetic_key: str | None = None,
    ) -> None:
        self.scope = scope
        self.bound = list(bound)
        self.transient = transient
        self.sink_name = sink_name
        self.synthetic = synthetic_key

    # ------------------------------------------------------------------ expansion
    def expand(self, q: A.Query) -> list[OutputColumn]:
        """`*` and `src.*` expanded; unaliased expressions named (AstSanitizer rules)."""
        bound = self.bound
        raw: Raw = []
        pby = q.partition_by if (len(bound) == 1 and q.partition_by) else None
        for it in q.select:
            if isinstance(it, A.AllColumns) and it.source is None and self.synthetic:
                raw.append((self.synthetic, A.ColumnRef(self.synthetic)))
            if (
                isinstance(it, A.AllColumns)
                and pby is not None
                and not (len(pby) == 1 and isinstance(pby[0], A.Literal) and pby[0].kind == "NULL")
            ):
                raw.extend(self.partition_star(bound[0], pby))
            elif isinstance(it, A.AllColumns):
                raw.extend(self._star(it))
            elif isinstance(it.expr, A.StructStar):
                raw.extend(self._struct_star(it.expr))
            else:
                raw.append((it.alias, it.expr))
        return self._name(raw)

    def _struct_star(self, e: A.StructStar) -> Raw:
        """`col->*`: one column per struct field, named by the field (ksqlDB 0.24+)."""
        t = ExpressionCompiler(self.scope, "SELECT").compile(e.base).type
        if t.base != T.STRUCT:
            raise KsqlStatementError(
                f"Expected STRUCT type for {A.format_expr(e.base)} but got {t}"
            )
        return [(name, A.Dereference(e.base, name)) for name, _ in t.fields]

    def _star(self, it: A.AllColumns) -> Raw:
        bound = self.bound
        is_join = len(bound) > 1
        targets = bound
        if it.source is not None:
            targets = [
                b
                for b in bound
                if b.alias == it.source or (len(bound) == 1 and b.source.name == it.source)
            ]
            if not targets:
                raise KsqlStatementError(
                    f"Failed to prepare statement: '{it.source}' is not a valid "
                    "stream/table name or alias."
                )
        raw: Raw = []
        for n_b, b in enumerate(targets):
            for c in b.source.key_columns:
                name = f"{b.alias}_{c.name}" if is_join else c.name
                raw.append((name, A.ColumnRef(c.name, b.alias)))
            windowed_src = b.source.window is not None
            if windowed_src and self.transient and (not is_join or n_b == 0):
                # push queries over windowed sources show the (result) window bounds
                raw.append(("WINDOWSTART", A.ColumnRef("WINDOWSTART", b.alias)))
                raw.append(("WINDOWEND", A.ColumnRef("WINDOWEND", b.alias)))
            if windowed_src and is_join:
                for wb in ("WINDOWSTART", "WINDOWEND"):
                    raw.append((f"{b.alias}_{wb}", A.ColumnRef(wb, b.alias)))
            for c in b.source.value_columns + b.source.header_columns:
                name = f"{b.alias}_{c.name}" if is_join else c.name
                raw.append((name, A.ColumnRef(c.name, b.alias)))
        return raw

    def _name(self, raw: Raw) -> list[OutputColumn]:
        bound = self.bound
        is_join = len(bound) > 1
        taken = {n for n, _ in raw if n}
        for b in bound:
            taken.update(c.name for c in b.source.columns)
        counter = 0
        clashing: set[str] = set()
        if is_join:
            seen: dict[str, int] = {}
            for b in bound:
                for c in b.source.columns:
                    seen[c.name] = seen.get(c.name, 0) + 1
            clashing = {n for n, k in seen.items() if k > 1} | set(PSEUDO_COLUMNS)
        items: list[OutputColumn] = []
        used_names: set[str] = set()
        for raw_name, expr in raw:
            col_name = raw_name
            if col_name is None:
                if isinstance(expr, A.ColumnRef):
                    if expr.source is not None and is_join:
                        col_name = (
                            f"{expr.source}_{expr.name}" if expr.name in clashing else expr.name
                        )
                    else:
                        col_name = expr.name
                elif isinstance(expr, A.Dereference):
                    # a struct field named like another column gets ksqlDB's _1, _2 suffix
                    col_name = expr.field
                    n = 0
                    while col_name in taken or col_name in used_names:
                        n += 1
                        col_name = f"{expr.field}_{n}"
                else:
                    while f"KSQL_COL_{counter}" in taken:
                        counter += 1
                    col_name = f"KSQL_COL_{counter}"
                    counter += 1
            used_names.add(col_name)
            items.append(OutputColumn(col_name, expr))
        return items

    def partition_star(self, b: BoundSource, pby: list[A.Expr]) -> Raw:
        """`SELECT *` after PARTITION BY: new key columns, remaining values, old keys."""
        out: Raw = []
        used: set[str] = set()
        counter = 0
        for e in pby:
            if isinstance(e, A.ColumnRef):
                col = self.scope.resolve(e, "PARTITION BY")
                if col.namespace in ("KEY", "VALUE"):
                    used.add(col.name)
                out.append((e.name, e))
            elif isinstance(e, A.Dereference):
                out.append((e.field, e))
            else:
                out.append((f"KSQL_COL_{counter}", e))
                counter += 1
        for c in b.source.value_columns + b.source.header_columns:
            if c.name not in used:
                out.append((c.name, A.ColumnRef(c.name, b.alias)))
        for c in b.source.key_columns:
            if c.name not in used:
                out.append((c.name, A.ColumnRef(c.name, b.alias)))
        return out

    # ------------------------------------------------------------------ key selection
    def pick_keys(
        self,
        items: list[OutputColumn],
        key_exprs: list[A.Expr],
        what: str,
        alternatives: list[list[A.Expr]] | None = None,
    ) -> list[int]:
        """Indexes (into items) of the projection items that carry each key expression."""
        scope = self.scope
        norm_items = [strip_pos(it.expr, scope) for it in items]
        picked: list[int] = []
        missing: list[str] = []
        alt_missing: list[list[A.Expr]] = []
        for n, ke in enumerate(key_exprs):
            options = [ke] + ([a[n] for a in alternatives] if alternatives else [])
            found: list[int] = []
            for opt in options:
                target = strip_pos(opt, scope)
                found = [i for i, ne in enumerate(norm_items) if ne == target]
                if found:
                    break
            if not found:
                if len(options) > 1:
                    alt_missing.append(options)
                missing.append(" or ".join(self.fmt_key_expr(o, what) for o in options))
                continue
            if len(found) > 1:
                self._key_twice(items, found, ke, what)
            picked.append(found[0])
        if missing and what in ("key column", "partitioning expression"):
            missing = [self.fmt_key_expr(k, what) for k in key_exprs]
        if not self.transient:
            self._check_missing(missing, alt_missing, what)
        return picked

    def _key_twice(
        self, items: list[OutputColumn], found: list[int], ke: A.Expr, what: str
    ) -> None:
        names = sorted(items[i].name for i in found)
        kname = self.fmt_key_expr(ke, what) if not isinstance(ke, A.ColumnRef) else ke.name
        if isinstance(ke, A.ColumnRef) and len(self.bound) > 1:
            col = self.scope.resolve(ke, "SELECT")
            kname = f"{col.source}_{col.name}"
        raise KsqlStatementError(
            f"The projection contains a key column (`{kname}`) more than once, "
            f"aliased as: {join_names(names)}."
        )

    def _check_missing(
        self, missing: list[str], alt_missing: list[list[A.Expr]], what: str
    ) -> None:
        if alt_missing:
            opts = alt_missing[0]
            raise KsqlStatementError(
                f"The query used to build `{self.sink_name}` must include the {what}s "
                f"{' or '.join(self.fmt_key_expr(o, what) for o in opts)} in its projection "
                f"(eg, SELECT {self.fmt_key_expr(opts[0], what)}...)."
            )
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise KsqlStatementError(
                f"The query used to build `{self.sink_name}` must include the {what}{plural} "
                f"{join_names(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
            )

    def fmt_key_expr(self, e: A.Expr, what: str = "") -> str:
        if what == "key column" and isinstance(e, A.ColumnRef):
            return e.name
        if len(self.bound) == 1 and what != "join expression":
            # ksqlDB qualifies single-source refs with the source name in these messages
            return A.format_expr(qualify(e, self.bound[0].source.name))
        return A.format_expr(e)
