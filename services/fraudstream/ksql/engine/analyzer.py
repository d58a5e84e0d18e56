"""Semantic checks: what ksqlDB rejects about a query, with ksqlDB's own messages.

The planner calls these at the points where ksqlDB's planner makes the same checks, so a
query with several problems reports the one ksqlDB reports first. Nothing here builds
plan nodes or runtime operators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.binding import BoundSource, OutputColumn, qualify, refs, strip_pos
from fraudstream.ksql.engine.ddl import RESERVED_COLUMNS
from fraudstream.ksql.engine.expressions import (
    AGGREGATE_NAMES,
    NOT_IMPLEMENTED_FUNCTIONS,
    Compiled,
    ExpressionCompiler,
    Scope,
    unimplemented_function,
)
from fraudstream.ksql.engine.topology import Column, DataSource
from fraudstream.ksql.errors import KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = [
    "JoinCriteria",
    "analyze_join",
    "check_aggregate_format",
    "check_clauses",
    "check_grouping",
    "check_hopping_advance",
    "check_insert_schema",
    "check_join_formats",
    "check_non_aggregates",
    "check_partition_by",
    "check_qualifiers",
    "check_reserved_output_names",
    "check_result_columns",
    "check_self_join",
    "check_sink_timestamp_column",
    "check_where_type",
    "check_windowed_join",
    "reject_multi_way_joins",
    "reject_session_windows",
    "reject_unimplemented",
]

_NOT_SUPPORTED = messages.NOT_SUPPORTED


# ---------------------------------------------------------------------------- the query
def reject_unimplemented(q: A.Query) -> None:
    """Functions the embedded engine knows by name but does not compute."""
    exprs: list[A.Expr] = [i.expr for i in q.select if isinstance(i, A.SelectItem)]
    exprs += [e for e in (q.where, q.having) if e is not None]
    exprs += list(q.group_by or []) + list(q.partition_by or [])
    exprs += [j.criteria for j in q.joins]
    for e in exprs:
        for n in A.walk(e):
            if isinstance(n, A.FunctionCall) and n.name in NOT_IMPLEMENTED_FUNCTIONS:
                raise KsqlUnsupportedError(unimplemented_function(n.name))


def check_reserved_output_names(q: A.Query, items: Sequence[OutputColumn]) -> None:
    """A persistent query's explicit SELECT items may not carry a system column's name:
    selecting one as-is is refused, as is an alias that takes such a name (ksqlDB's texts).
    (`SELECT * ... PARTITION BY ROWTIME` names its new key ROWTIME, which is allowed.)"""
    explicit = {
        it.alias or (it.expr.name if isinstance(it.expr, A.ColumnRef) else None)
        for it in q.select
        if isinstance(it, A.SelectItem)
    }
    for it in items:
        if it.name not in RESERVED_COLUMNS or it.name not in explicit:
            continue
        if isinstance(it.expr, A.ColumnRef) and it.expr.name == it.name:
            raise KsqlStatementError(
                f"Reserved column name in select: `{it.name}`. Please remove or alias the column."
            )
        raise KsqlStatementError(
            f"`{it.name}` is a reserved column name. You cannot use it as an alias for a column."
        )


def check_sink_timestamp_column(props: Mapping[str, Any], items: Sequence[OutputColumn]) -> None:
    """WITH (TIMESTAMP=...) must name a column of the result (checked before the key rules,
    as ksqlDB does)."""
    text = props.get("TIMESTAMP")
    if not text:
        return
    name = str(text)[1:-1] if str(text).startswith("`") else str(text).upper()
    if name not in {it.name for it in items}:
        raise KsqlStatementError(
            f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        )


def reject_session_windows(q: A.Query) -> None:
    if q.window and q.window.type == "SESSION":
        raise KsqlUnsupportedError(f"SESSION windows are {_NOT_SUPPORTED}")


def reject_multi_way_joins(q: A.Query) -> None:
    if len(q.joins) > 1:
        raise KsqlUnsupportedError(f"Multi-way joins are {_NOT_SUPPORTED}")


def check_self_join(bound: Sequence[BoundSource]) -> None:
    if len(bound) == 2 and bound[0].source.name == bound[1].source.name:
        raise KsqlStatementError(messages.join_self(bound[0].source.name, bound[1].source.name))


def check_qualifiers(q: A.Query, sources: Sequence[str]) -> None:
    """ksqlDB's AST builder rejects a qualifier naming no source of the FROM clause before
    any other check (so it wins over, e.g., an ambiguous column elsewhere in the query)."""
    exprs: list[A.Expr | None] = [it.expr for it in q.select if isinstance(it, A.SelectItem)]
    exprs += [j.criteria for j in q.joins] + [q.where, q.having]
    exprs += list(q.group_by or []) + list(q.partition_by or [])
    for e in exprs:
        if e is None:
            continue
        for n in A.walk(e):
            if isinstance(n, A.ColumnRef) and n.source is not None and n.source not in sources:
                raise KsqlStatementError(messages.unknown_source_qualifier(n.source))


def check_where_type(where: A.Expr, compiled: Compiled) -> None:
    if compiled.type.base not in (T.BOOLEAN, T.NULL):
        raise KsqlStatementError(messages.where_not_boolean(A.format_expr(where), compiled.type))


def check_clauses(q: A.Query, is_join: bool, aggregating: bool) -> None:
    """Clauses that need (or exclude) others: GROUP BY over a join, WINDOW or HAVING
    without GROUP BY, PARTITION BY on a join projecting `*`."""
    if aggregating:
        if is_join:
            raise KsqlUnsupportedError(f"GROUP BY over a join is {_NOT_SUPPORTED}")
        return
    if q.window is not None:
        raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
    if q.having is not None:
        raise KsqlStatementError("HAVING clause requires a GROUP BY clause.")
    if (
        is_join
        and q.partition_by is not None
        and (any(isinstance(i, A.AllColumns) for i in q.select) or not q.partition_by)
    ):
        raise KsqlUnsupportedError(f"PARTITION BY on a join with SELECT * is {_NOT_SUPPORTED}")


def check_result_columns(key_cols: list[Column], value_cols: list[Column]) -> None:
    """A persistent query's result needs a value column and unique column names."""
    if not value_cols:
        raise KsqlStatementError(messages.no_value_columns())
    seen: set[str] = set()
    for c in key_cols + value_cols:
        if c.name in seen:
            raise KsqlStatementError(messages.duplicate_value_column(c.name, c.type))
        seen.add(c.name)


def check_insert_schema(sink: DataSource, key_cols: list[Column], value_cols: list[Column]) -> None:
    """INSERT INTO: the result schema must be the sink's (names, types, key-ness); a sink
    with header columns cannot be written (ksqlDB's message)."""
    if sink.header_columns:
        raise KsqlStatementError(f"Cannot insert into {sink.name} because it has header columns")
    result = key_cols + value_cols
    target = sink.key_columns + sink.value_columns
    same = len(result) == len(target) and all(
        a.name == b.name and a.type == b.type and a.namespace == b.namespace
        for a, b in zip(result, target, strict=True)
    )
    if not same:

        def fmt(cols: list[Column]) -> str:
            return ", ".join(
                f"`{c.name}` {c.type}{' KEY' if c.namespace == 'KEY' else ''}" for c in cols
            )

        raise KsqlStatementError(
            f"Incompatible schema between results and sink.\nResult schema is {fmt(result)}"
            f"\nSink schema is {fmt(target)}"
        )


# ---------------------------------------------------------------------------- PARTITION BY
def check_partition_by(q: A.Query, scope: Scope, is_table: bool) -> bool:
    """PARTITION BY over one source; True when it is `PARTITION BY NULL` (no key)."""
    if is_table:
        raise KsqlUnsupportedError("PARTITION BY on a TABLE is not supported")
    pexprs = q.partition_by or []
    if not pexprs:
        raise KsqlStatementError("PARTITION BY requires at least one expression")
    nulls = [e for e in pexprs if isinstance(e, A.Literal) and e.kind == "NULL"]
    if nulls and len(pexprs) > 1:
        raise KsqlStatementError("Cannot PARTITION BY multiple columns including NULL")
    for e in pexprs:
        for r in refs(e):
            try:
                scope.resolve(r, "PARTITION BY")
            except KsqlStatementError:
                raise KsqlStatementError(
                    f"PARTITION BY column '{r.name}' cannot be resolved. "
                    f"'{r.name}' must be a column "
                    "in the source schema since PARTITION BY is applied on the input."
                ) from None
    return bool(nulls)


# ---------------------------------------------------------------------------- joins
def check_join_formats(bound: Sequence[BoundSource]) -> None:
    kafka = [b.source.name for b in bound if b.source.value_format.name == "KAFKA"]
    if kafka:
        raise KsqlStatementError(
            f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. "
            "This format does not yet support JOIN."
        )


@dataclass(frozen=True)
class JoinCriteria:
    """`left = right` of a join's ON, sides ordered as the FROM clause, and whether both
    sources are windowed (then rows join on key and window)."""

    left: A.Expr
    right: A.Expr
    left_compiled: Compiled
    right_compiled: Compiled
    windowed: bool


_JOIN_TEXT = {
    "INNER": "[INNER] JOIN",
    "LEFT": "LEFT [OUTER] JOIN",
    "RIGHT": "RIGHT [OUTER] JOIN",
    "FULL": "[FULL] OUTER JOIN",
}


def analyze_join(scope: Scope, bound: Sequence[BoundSource], join: A.Join) -> JoinCriteria:
    """Every check ksqlDB makes on a two-source join, in ksqlDB's order."""
    lb = bound[0]
    ls, rs = bound[0].source, bound[1].source
    jc = ExpressionCompiler(scope, "JOIN ON")
    lexpr, rexpr = _join_sides(scope, jc, join.criteria, lb.alias)
    lc = jc.compile(lexpr)
    rc = jc.compile(rexpr)
    if lc.type != rc.type:
        raise KsqlStatementError(
            messages.join_types_differ(
                A.format_expr(qualify(lexpr, lb.alias)),
                lc.type,
                A.format_expr(qualify(rexpr, bound[1].alias)),
                rc.type,
            )
        )
    _check_join_kinds(scope, bound, join, lexpr, rexpr)
    windowed = check_windowed_join(ls, rs, lexpr, rexpr)
    if lc.type.contains_map() and isinstance(lexpr, A.ColumnRef):
        col = scope.resolve(lexpr, "JOIN ON")
        raise KsqlStatementError(messages.map_key_column(f"{col.source}_{col.name}", lc.type))
    return JoinCriteria(lexpr, rexpr, lc, rc, windowed)


def _join_sides(
    scope: Scope, jc: ExpressionCompiler, crit: A.Expr, left_alias: str
) -> tuple[A.Expr, A.Expr]:
    """An equality whose sides each reference exactly one (different) source."""
    if isinstance(crit, A.Logical):
        raise KsqlStatementError(
            "Invalid join condition: joins on multiple conditions are not yet supported. "
            f"Got {A.format_expr(crit)}."
        )
    if not isinstance(crit, A.Comparison) or crit.op != "=":
        raise KsqlStatementError(
            f"Unsupported join expression: {A.format_expr(crit)}. Only equality joins are "
            "supported."
        )

    def bad_side(side: A.Expr) -> KsqlStatementError:
        return KsqlStatementError(
            f"Invalid comparison expression '{A.format_expr(side)}' in join "
            f"'{A.format_expr(crit)}'. Each side of the join comparision must contain "
            "references from exactly one source."
        )

    sides: list[A.Expr] = []
    for side in (crit.left, crit.right):
        side_refs = refs(side)
        if not side_refs:
            raise bad_side(side)
        for r in side_refs:
            jc.compile(r)
        sides.append(side)

    def side_of(e: A.Expr) -> set[str]:
        return {scope.resolve(r, "JOIN ON").source or "" for r in refs(e)}

    s0, s1 = side_of(sides[0]), side_of(sides[1])
    if len(s0) != 1 or len(s1) != 1 or s0 == s1:
        raise bad_side(sides[0] if len(s0) != 1 or s0 == s1 else sides[1])
    if s0 == {left_alias}:
        return sides[0], sides[1]
    return sides[1], sides[0]


def _on_key(e: A.Expr, src: DataSource) -> bool:
    keys = src.key_columns
    return isinstance(e, A.ColumnRef) and len(keys) == 1 and e.name == keys[0].name


def _check_join_kinds(
    scope: Scope, bound: Sequence[BoundSource], join: A.Join, lexpr: A.Expr, rexpr: A.Expr
) -> None:
    ls, rs = bound[0].source, bound[1].source
    jt = join.type
    kinds = (ls.kind, rs.kind)
    if kinds == ("TABLE", "STREAM"):
        raise KsqlStatementError(messages.join_table_stream_order(ls.name, _JOIN_TEXT[jt], rs.name))
    if kinds == ("STREAM", "TABLE"):
        _check_stream_table(scope, bound, join, lexpr, rexpr)
    if kinds == ("STREAM", "STREAM") and join.within is None:
        raise KsqlStatementError(messages.join_stream_stream_needs_within())
    if kinds == ("TABLE", "TABLE"):
        if join.within is not None:
            raise KsqlStatementError(messages.join_table_table_within())
        if not (_on_key(lexpr, ls) and _on_key(rexpr, rs)):
            if ls.window is not None or rs.window is not None:
                raise KsqlStatementError(
                    "Foreign-key table-table joins are not supported on windowed tables."
                )
            raise KsqlUnsupportedError(
                "Table-table joins on non-key columns (foreign-key joins) are not supported "
                "by the embedded engine"
            )


def _check_stream_table(
    scope: Scope, bound: Sequence[BoundSource], join: A.Join, lexpr: A.Expr, rexpr: A.Expr
) -> None:
    lb, rb = bound[0], bound[1]
    ls, rs = lb.source, rb.source
    jt = join.type
    if jt in ("FULL", "RIGHT"):
        word = "full-outer" if jt == "FULL" else "right-outer"
        raise KsqlStatementError(
            f"Invalid join type: {word} join not supported for stream-table join. "
            f"Got {ls.name} {_JOIN_TEXT[jt]} {rs.name}."
        )
    if join.within is not None:
        raise KsqlStatementError(messages.join_stream_table_within())
    if not _on_key(rexpr, rs):
        # columns named by their source's alias (its name when it has none), as ksqlDB does
        def named(e: A.Expr) -> str:
            if isinstance(e, A.ColumnRef):
                col = scope.resolve(e, "JOIN ON")
                return f"{col.source}.{col.name}"
            return A.format_expr(e)

        raise KsqlStatementError(
            "Invalid join condition: stream-table joins require to join on the table's "
            f"primary key. Got {named(lexpr)} = {named(rexpr)}."
        )


def check_windowed_join(ls: DataSource, rs: DataSource, lexpr: A.Expr, rexpr: A.Expr) -> bool:
    """ksqlDB's rules for joining windowed sources; True when both sides are windowed."""
    lw_, rw_ = ls.window, rs.window
    if lw_ is None and rw_ is None:
        return False
    if lw_ is None or rw_ is None:
        w, n = (ls, rs) if lw_ is not None else (rs, ls)
        raise KsqlStatementError(
            messages.join_on_windowed_and_non_windowed(
                w.name, w.window.type if w.window else "", n.name
            )
        )
    if (lw_.type == "SESSION") != (rw_.type == "SESSION"):
        raise KsqlStatementError(
            "Incompatible windowed sources.\n"
            f"Left source: {lw_.type}\nRight source: {rw_.type}\n"
            "Session windowed sources can only be joined to other session windowed sources, "
            "and may still not result in expected behaviour as session bounds must be an "
            "exact match for the join to work\n"
            "Hopping and tumbling windowed sources can only be joined to other hopping and "
            "tumbling windowed sources"
        )
    on_keys = all(
        isinstance(e, A.ColumnRef)
        and len(src.key_columns) == 1
        and e.name == src.key_columns[0].name
        for e, src in ((lexpr, ls), (rexpr, rs))
    )
    if not on_keys or lw_.size != rw_.size:
        raise KsqlStatementError(messages.windowed_repartition())
    return True


# ---------------------------------------------------------------------------- aggregation
def check_grouping(q: A.Query, transient: bool) -> None:
    """A persistent aggregate needs GROUP BY; GROUP BY needs an expression."""
    if q.group_by is None and not transient:
        raise KsqlUnsupportedError("Persistent aggregates without GROUP BY are not supported")
    if q.group_by is not None and not q.group_by:
        raise KsqlStatementError("GROUP BY requires at least one expression")


def check_aggregate_format(value_format: str, calls: Sequence[A.FunctionCall]) -> None:
    """AVG, STDDEV_* and CORRELATION keep struct states, TOPK / TOPKDISTINCT / ATTR an array
    and HISTOGRAM a map, which DELIMITED and KAFKA values cannot hold."""
    structured = (
        "AVG",
        "TOPK",
        "TOPKDISTINCT",
        "STDDEV_SAMPLE",
        "STDDEV_SAMP",
        "CORRELATION",
        "HISTOGRAM",
        "ATTR",
    )
    if value_format in ("DELIMITED", "KAFKA") and any(c.name in structured for c in calls):
        raise KsqlStatementError(
            "One of the functions used in the statement has an intermediate type that the "
            "value format can not handle. Please remove the function or change the format."
        )


def check_non_aggregates(
    items: Sequence[OutputColumn], group_by: list[A.Expr], scope: Scope
) -> None:
    """Non-aggregate columns must be part of GROUP BY."""
    group_norm = [strip_pos(e, scope) for e in group_by]
    for it in items:
        loose = _loose_refs(it.expr, group_norm, scope)
        if loose:
            bad = [A.format_expr(r) for r in loose]
            raise KsqlStatementError(
                "Non-aggregate SELECT expression(s) not part of GROUP BY: "
                f"{', '.join(bad) or A.format_expr(it.expr)}"
            )


def _loose_refs(e: A.Expr, group_norm: list[A.Expr], scope: Scope) -> list[A.ColumnRef]:
    """Column refs outside aggregate calls that are not covered by a GROUP BY expression."""
    if strip_pos(e, scope) in group_norm:
        return []
    if isinstance(e, A.FunctionCall) and e.name in AGGREGATE_NAMES:
        return []
    if isinstance(e, A.ColumnRef):
        if e.name in ("WINDOWSTART", "WINDOWEND"):
            return []
        return [e]
    out: list[A.ColumnRef] = []
    for c in A.children(e):
        out.extend(_loose_refs(c, group_norm, scope))
    return out


def check_hopping_advance(window: A.Window | None) -> None:
    if window is not None and window.type == "HOPPING":
        advance = window.advance or window.size
        if advance > window.size:
            raise KsqlStatementError(
                f"Window advance ({advance} ms) must not be larger than the window size "
                f"({window.size} ms)."
            )
