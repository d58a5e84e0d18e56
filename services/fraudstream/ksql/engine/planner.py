"""Query planner: a parsed SELECT + the metastore -> a runnable query (topology closures).

Handles the shapes of the supported subset: stateless projection/filter over a stream or
table, PARTITION BY, stream-table / stream-stream (WITHIN) / table-table joins, and
GROUP BY aggregates (optionally TUMBLING/HOPPING windowed). Names, key selection and
error messages follow ksqlDB's (old) query planner.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.codegen import projector
from fraudstream.ksql.engine.expressions import (
    AGGREGATE_NAMES,
    NOT_IMPLEMENTED_FUNCTIONS,
    Compiled,
    ExpressionCompiler,
    Scope,
    ScopeColumn,
    cast_function,
)
from fraudstream.ksql.engine.formats import (
    FormatSpec,
    SchemaRegistryLike,
    check_supported,
    make_serde,
)
from fraudstream.ksql.engine.functions import java_pattern_to_strftime
from fraudstream.ksql.engine.state import StateStore
from fraudstream.ksql.engine.topology import (
    PSEUDO_COLUMNS,
    BaseQuery,
    Column,
    DataSource,
    InRecord,
    OutRecord,
    SourceReader,
    TransientQuery,
    TransientRow,
    WindowInfo,
    windowed_key,
)
from fraudstream.ksql.errors import (
    KsqlProcessingError,
    KsqlStatementError,
    KsqlUnsupportedError,
)
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

DEFAULT_GRACE_MS = 24 * 3600 * 1000


@dataclass
class BoundSource:
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
        for c in self.source.value_columns:
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
    name: str
    expr: A.Expr
    compiled: Compiled | None = None
    is_key: bool = False


@dataclass
class PlannedQuery:
    query: BaseQuery
    key_columns: list[Column]
    value_columns: list[Column]
    key_format: FormatSpec
    value_format: FormatSpec
    window: WindowInfo | None
    kind: str  # STREAM TABLE (result kind)
    partitions: int
    source_names: list[str] = field(default_factory=list)


def _strip_pos(e: A.Expr, scope: Scope | None) -> A.Expr:
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
    kw: dict[str, Any] = {}
    for fname in e.__dataclass_fields__:  # type: ignore[attr-defined]
        v = getattr(e, fname)
        if isinstance(v, A.Expr):
            kw[fname] = _strip_pos(v, scope)
        elif isinstance(v, tuple):
            kw[fname] = tuple(_strip_tuple(x, scope) for x in v)
        else:
            kw[fname] = v
    return type(e)(**kw)


def _strip_tuple(x: Any, scope: Scope | None) -> Any:
    if isinstance(x, A.Expr):
        return _strip_pos(x, scope)
    if isinstance(x, tuple):
        return tuple(_strip_tuple(y, scope) for y in x)
    return x


def _converted(
    f: Callable[[Sequence[Any]], Any], conv: Callable[[Any], Any]
) -> Callable[[Sequence[Any]], Any]:
    def run(r: Sequence[Any]) -> Any:
        v = f(r)
        return None if v is None else conv(v)

    return run


def _qualify(e: A.Expr, src: str, scope: Scope) -> A.Expr:
    """Column refs qualified with the source name (pseudo columns stay bare)."""
    if isinstance(e, A.ColumnRef):
        if e.name in PSEUDO_COLUMNS or e.name in ("WINDOWSTART", "WINDOWEND"):
            return A.ColumnRef(e.name)
        return A.ColumnRef(e.name, src)
    if isinstance(e, A.Literal | A.IntervalUnit):
        return e
    kw: dict[str, Any] = {}
    for fname in e.__dataclass_fields__:  # type: ignore[attr-defined]
        v = getattr(e, fname)
        if isinstance(v, A.Expr):
            kw[fname] = _qualify(v, src, scope)
        elif isinstance(v, tuple):
            kw[fname] = tuple(_qualify_t(x, src, scope) for x in v)
        else:
            kw[fname] = v
    return type(e)(**kw)


def _qualify_t(x: Any, src: str, scope: Scope) -> Any:
    if isinstance(x, A.Expr):
        return _qualify(x, src, scope)
    if isinstance(x, tuple):
        return tuple(_qualify_t(y, src, scope) for y in x)
    return x


def _refs(e: A.Expr) -> list[A.ColumnRef]:
    return [n for n in A.walk(e) if isinstance(n, A.ColumnRef)]


def _join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class Planner:
    """Plans one query. `sink` is None for transient queries."""

    def __init__(
        self,
        *,
        sources: Mapping[str, DataSource],
        registry: SchemaRegistryLike | None,
        properties: Mapping[str, Any],
        query_id: str,
        statement_text: str,
        sink_name: str | None,
        sink_topic: str | None,
        sink_kind: str | None,
        sink_props: Mapping[str, Any],
        existing_sink: DataSource | None = None,
    ) -> None:
        self.sources = sources
        self.registry = registry
        self.properties = properties
        self.query_id = query_id
        self.text = statement_text
        self.sink_name = sink_name
        self.sink_topic = sink_topic
        self.sink_kind = sink_kind
        self.sink_props = sink_props
        self.existing_sink = existing_sink
        self.query: BaseQuery | None = None
        self._partition_null = False
        self._key_passthrough = False

    # ------------------------------------------------------------------ helpers
    def _source(self, rel: A.Relation) -> DataSource:
        src = self.sources.get(rel.name)
        if src is None:
            raise KsqlStatementError(f"{rel.name} does not exist.")
        return src

    def _reader(self, b: BoundSource) -> SourceReader:
        s = b.source
        kser = make_serde(
            s.key_format, [(c.name, c.type) for c in s.key_columns], s.topic, True, self.registry
        )
        vser = make_serde(
            s.value_format,
            [(c.name, c.type) for c in s.value_columns],
            s.topic,
            False,
            self.registry,
        )
        ts_fn = None
        if s.timestamp_column:
            ts_fn = timestamp_extractor(s, s.timestamp_column, s.timestamp_format)
        return SourceReader(s, kser, vser, ts_fn)

    def _log(self, kind: str, msg: str, rec: InRecord | None) -> None:
        assert self.query is not None
        self.query.log_error(kind, msg, rec)

    # ------------------------------------------------------------------ entry point
    def plan(self, q: A.Query, transient: bool) -> PlannedQuery:
        self._reject_unimplemented(q)

        if q.window and q.window.type == "SESSION":
            raise KsqlUnsupportedError("SESSION windows are not supported by the embedded engine")
        left_src = self._source(q.source)
        bound = [BoundSource(left_src, q.source.alias or left_src.name, 0)]
        if len(q.joins) > 1:
            raise KsqlUnsupportedError("Multi-way joins are not supported by the embedded engine")
        for j in q.joins:
            rsrc = self._source(j.right)
            bound.append(
                BoundSource(rsrc, j.right.alias or rsrc.name, bound[-1].offset + bound[-1].width)
            )
        if len(bound) == 2 and bound[0].source.name == bound[1].source.name:
            raise KsqlStatementError(
                f"Can not join '{bound[0].source.name}' to '{bound[1].source.name}': self joins "
                "are not yet supported."
            )
        cols: list[ScopeColumn] = []
        for b in bound:
            cols.extend(b.scope_columns())
        scope = Scope(cols, [b.alias for b in bound])
        if len(bound) == 1:
            # a single source may also be qualified by its own name
            scope.sources = [bound[0].alias, bound[0].source.name]
            for c in list(scope.columns):
                scope.by_qual[(bound[0].source.name, c.name)] = c
        _check_qualifiers(q, scope.sources)
        for b in bound:
            b.reader = self._reader(b)
        self.bound = bound
        self.scope = scope
        self.transient = transient
        self._synthetic = self._synthetic_key(q, bound) if len(bound) == 2 else None

        items = self._expand_select(q, bound)
        is_join = len(bound) == 2
        if is_join:
            join = q.joins[0]
            self._check_join_formats(bound)
        where = None
        if q.where is not None:
            wc = ExpressionCompiler(scope, "WHERE").compile(q.where)
            if wc.type.base not in (T.BOOLEAN, T.NULL):
                raise KsqlStatementError(
                    f"Type error in WHERE expression: Should evaluate to boolean but is "
                    f"{A.format_expr(q.where)} ({wc.type}) instead."
                )
            where = wc.fn

        if q.group_by is not None or self._has_aggregates(items, q):
            if is_join:
                raise KsqlUnsupportedError(
                    "GROUP BY over a join is not supported by the embedded engine"
                )
            return self._plan_aggregate(q, items, where)
        if q.window is not None:
            raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
        if q.having is not None:
            raise KsqlStatementError("HAVING clause requires a GROUP BY clause.")
        if is_join:
            if q.partition_by is not None and (
                any(isinstance(i, A.AllColumns) for i in q.select) or not q.partition_by
            ):
                raise KsqlUnsupportedError(
                    "PARTITION BY on a join with SELECT * is not supported by the embedded engine"
                )
            return self._plan_join(q, join, items, where)
        return self._plan_single(q, items, where)

    def _synthetic_key(self, q: A.Query, bound: list[BoundSource]) -> str | None:
        """ksqlDB keys FULL OUTER joins, and joins on expressions, by a synthetic ROWKEY
        column (the join key); it is appended to the combined row and the scope."""
        join = q.joins[0]
        crit = join.criteria
        if not isinstance(crit, A.Comparison):
            return None
        if join.type != "FULL" and (
            isinstance(crit.left, A.ColumnRef) or isinstance(crit.right, A.ColumnRef)
        ):
            return None
        try:
            t = ExpressionCompiler(self.scope, "JOIN ON").compile(crit.left).type
        except KsqlStatementError:
            return None  # reported by the join planning with ksqlDB's message
        taken = {c.name for b in bound for c in b.source.columns}
        name, n = "ROWKEY", 0
        while name in taken:
            n += 1
            name = f"ROWKEY_{n}"
        col = ScopeColumn(name, t, None, bound[-1].offset + bound[-1].width, "KEY")
        self.scope.columns.append(col)
        self.scope.by_name.setdefault(name, []).append(col)
        return name

    def _reject_unimplemented(self, q: A.Query) -> None:
        exprs: list[A.Expr] = [i.expr for i in q.select if isinstance(i, A.SelectItem)]
        exprs += [e for e in (q.where, q.having) if e is not None]
        exprs += list(q.group_by or []) + list(q.partition_by or [])
        exprs += [j.criteria for j in q.joins]
        for e in exprs:
            for n in A.walk(e):
                if isinstance(n, A.FunctionCall) and n.name in NOT_IMPLEMENTED_FUNCTIONS:
                    raise KsqlUnsupportedError(
                        f"Function {n.name} is not implemented by the embedded engine"
                    )

    # ------------------------------------------------------------------ select list
    def _expand_select(self, q: A.Query, bound: list[BoundSource]) -> list[OutputColumn]:
        is_join = len(bound) > 1
        items: list[OutputColumn] = []
        raw: list[tuple[str | None, A.Expr]] = []
        pby = q.partition_by if (len(bound) == 1 and q.partition_by) else None
        synthetic = getattr(self, "_synthetic", None)
        for it in q.select:
            if isinstance(it, A.AllColumns) and it.source is None and synthetic:
                raw.append((synthetic, A.ColumnRef(synthetic)))
            if (
                isinstance(it, A.AllColumns)
                and pby is not None
                and not (len(pby) == 1 and isinstance(pby[0], A.Literal) and pby[0].kind == "NULL")
            ):
                raw.extend(self._partition_star(bound[0], pby))
                continue
            if isinstance(it, A.AllColumns):
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
                    for c in b.source.value_columns:
                        name = f"{b.alias}_{c.name}" if is_join else c.name
                        raw.append((name, A.ColumnRef(c.name, b.alias)))
            else:
                raw.append((it.alias, it.expr))
        # names for unaliased expressions (AstSanitizer rules)
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
                    col_name = expr.field
                else:
                    while f"KSQL_COL_{counter}" in taken:
                        counter += 1
                    col_name = f"KSQL_COL_{counter}"
                    counter += 1
            items.append(OutputColumn(col_name, expr))
        return items

    def _partition_star(self, b: BoundSource, pby: list[A.Expr]) -> list[tuple[str | None, A.Expr]]:
        """`SELECT *` after PARTITION BY: new key columns, remaining values, old keys."""
        out: list[tuple[str | None, A.Expr]] = []
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
        for c in b.source.value_columns:
            if c.name not in used:
                out.append((c.name, A.ColumnRef(c.name, b.alias)))
        for c in b.source.key_columns:
            if c.name not in used:
                out.append((c.name, A.ColumnRef(c.name, b.alias)))
        return out

    def _has_aggregates(self, items: list[OutputColumn], q: A.Query) -> bool:
        exprs = [i.expr for i in items] + ([q.having] if q.having else [])
        return any(
            isinstance(n, A.FunctionCall) and n.name in AGGREGATE_NAMES
            for e in exprs
            for n in A.walk(e)
        )

    def _compile_items(self, items: list[OutputColumn], compiler: ExpressionCompiler) -> None:
        for it in items:
            try:
                it.compiled = compiler.compile(it.expr)
            except KsqlStatementError as exc:
                if str(exc).startswith("Cast of") and not isinstance(exc, KsqlUnsupportedError):
                    raise KsqlStatementError(f"Invalid Select: {exc}") from None
                raise
            if it.compiled.type.base == T.NULL:
                raise KsqlStatementError(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )

    def _check_duplicate_names(self, items: list[OutputColumn]) -> None:
        seen: set[str] = set()
        for it in items:
            if it.name in seen:
                raise KsqlStatementError(
                    f"Duplicate value columns found in schema: `{it.name}` "
                    f"{it.compiled.type if it.compiled else ''}".strip()
                )
            seen.add(it.name)

    # ------------------------------------------------------------------ key selection
    def _pick_keys(
        self,
        items: list[OutputColumn],
        key_exprs: list[A.Expr],
        what: str,
        alternatives: list[list[A.Expr]] | None = None,
    ) -> list[int]:
        """Indexes (into items) of the projection items that carry each key expression."""
        scope = self.scope
        norm_items = [_strip_pos(it.expr, scope) for it in items]
        picked: list[int] = []
        missing: list[str] = []
        alt_missing: list[list[A.Expr]] = []
        for n, ke in enumerate(key_exprs):
            options = [ke] + ([a[n] for a in alternatives] if alternatives else [])
            found = []
            for opt in options:
                target = _strip_pos(opt, scope)
                found = [i for i, ne in enumerate(norm_items) if ne == target]
                if found:
                    break
            if not found:
                if len(options) > 1:
                    alt_missing.append(options)
                missing.append(" or ".join(self._fmt_key_expr(o, what) for o in options))
                continue
            if len(found) > 1:
                names = sorted(items[i].name for i in found)
                kname = self._fmt_key_expr(ke, what) if not isinstance(ke, A.ColumnRef) else ke.name
                if isinstance(ke, A.ColumnRef) and len(self.bound) > 1:
                    col = self.scope.resolve(ke, "SELECT")
                    kname = f"{col.source}_{col.name}"
                raise KsqlStatementError(
                    f"The projection contains a key column (`{kname}`) more than once, "
                    f"aliased as: {_join_names(names)}."
                )
            picked.append(found[0])
        if missing and what in ("key column", "partitioning expression"):
            missing = [self._fmt_key_expr(k, what) for k in key_exprs]
        if alt_missing and not self.transient:
            opts = alt_missing[0]
            raise KsqlStatementError(
                f"The query used to build `{self.sink_name}` must include the {what}s "
                f"{' or '.join(self._fmt_key_expr(o, what) for o in opts)} in its projection "
                f"(eg, SELECT {self._fmt_key_expr(opts[0], what)}...)."
            )
        if missing and not self.transient:
            plural = "s" if len(missing) > 1 else ""
            raise KsqlStatementError(
                f"The query used to build `{self.sink_name}` must include the {what}{plural} "
                f"{_join_names(missing)} in its projection (eg, SELECT {', '.join(missing)}...)."
            )
        return picked

    def _fmt_key_expr(self, e: A.Expr, what: str = "") -> str:
        if what == "key column" and isinstance(e, A.ColumnRef):
            return e.name
        if len(self.bound) == 1 and what != "join expression":
            # ksqlDB qualifies single-source refs with the source name in these messages
            src = self.bound[0].source.name
            return A.format_expr(_qualify(e, src, self.scope))
        return A.format_expr(e)

    # ------------------------------------------------------------------ sink formats
    def _sink_formats(
        self, key_cols: list[Column], value_cols: list[Column], base: DataSource
    ) -> tuple[FormatSpec, FormatSpec]:
        if self.existing_sink is not None:
            return self.existing_sink.key_format, self.existing_sink.value_format
        props = self.sink_props
        kf = props.get("KEY_FORMAT") or props.get("FORMAT")
        vf = props.get("VALUE_FORMAT") or props.get("FORMAT")
        key_format = replace(base.key_format, schema_id=None, schema_full_name=None)
        if kf:
            key_format = FormatSpec(str(kf).upper())
        elif not key_cols:
            if self._partition_null:
                key_format = FormatSpec("NONE")
            elif key_format.name == "NONE":
                key_format = FormatSpec("KAFKA")
        if kf and not key_cols and self._partition_null and str(kf).upper() != "NONE":
            raise KsqlStatementError("Key format specified for stream without key columns.")
        if key_cols and key_format.name == "NONE":
            key_format = FormatSpec(
                self.properties.get("ksql.persistence.default.format.key", "KAFKA")
            )
        value_format = replace(
            base.value_format, schema_id=None, schema_full_name=None, wrap_single_value=None
        )
        default_wrap = self.properties.get("ksql.persistence.wrap.single.values")
        if default_wrap is not None and str(default_wrap) != "":
            value_format.wrap_single_value = str(default_wrap).lower() == "true"
        if vf:
            value_format = FormatSpec(str(vf).upper())
        wrap = props.get("WRAP_SINGLE_VALUE")
        if wrap is not None:
            value_format.wrap_single_value = bool(wrap)
        elif vf:
            value_format.wrap_single_value = None
        delim = props.get("VALUE_DELIMITER")
        if delim is not None:
            value_format.delimiter = str(delim)
        if props.get("VALUE_SCHEMA_ID") is not None:
            value_format.schema_id = int(props["VALUE_SCHEMA_ID"])
        full = props.get("VALUE_AVRO_SCHEMA_FULL_NAME")
        if full:
            value_format.schema_full_name = str(full)
        if "KEY_DELIMITER" in props:
            key_format.delimiter = str(props["KEY_DELIMITER"])
        return key_format, value_format

    # ------------------------------------------------------------------ emit
    def _make_emitter(
        self,
        key_fns: list[Callable[[Sequence[Any]], Any]],
        value_fns: list[Callable[[Sequence[Any]], Any]],
        key_cols: list[Column],
        value_cols: list[Column],
        key_format: FormatSpec,
        value_format: FormatSpec,
        ts_index: int | None,
        window: WindowInfo | None = None,
        indexes: list[int | None] | None = None,
    ) -> Callable[..., list[OutRecord]]:
        topic = self.sink_topic or ""
        check_supported(key_format, [(c.name, c.type) for c in key_cols], True)
        check_supported(value_format, [(c.name, c.type) for c in value_cols], False)
        kser = make_serde(
            key_format, [(c.name, c.type) for c in key_cols], topic, True, self.registry
        ).serialize
        vser = make_serde(
            value_format, [(c.name, c.type) for c in value_cols], topic, False, self.registry
        ).serialize
        sink_ts_fn = None
        sink_ts_col = self.sink_props.get("TIMESTAMP")
        if sink_ts_col and self.existing_sink is None:
            name = (
                str(sink_ts_col).upper()
                if not str(sink_ts_col).startswith("`")
                else str(sink_ts_col)[1:-1]
            )
            idx = next((i for i, c in enumerate(value_cols) if c.name == name), None)
            kidx = next((i for i, c in enumerate(key_cols) if c.name == name), None)
            if idx is None and kidx is None:
                raise KsqlStatementError(
                    "The TIMESTAMP column set in the WITH clause does not exist in the "
                    f"schema: '{name}'"
                )
            fmt = self.sink_props.get("TIMESTAMP_FORMAT")
            parse = _ts_parser(str(fmt) if fmt else None)
            if idx is not None:
                sink_ts_fn = lambda keys, vals: parse(vals[idx])  # noqa: E731
            else:
                sink_ts_fn = lambda keys, vals: parse(keys[kidx])  # noqa: E731
        log = self._log
        passthrough_null_key = not self._partition_null and self._key_passthrough
        all_fns = key_fns + value_fns
        nk = len(key_fns)
        project = projector(all_fns, indexes if indexes is not None else [None] * len(all_fns))
        session = window is not None and window.type == "SESSION"

        def evaluate(row: Sequence[Any], rec: InRecord | None) -> list[Any]:
            try:
                return project(row)
            except Exception:
                out = []
                for f in all_fns:
                    try:
                        out.append(f(row))
                    except Exception as exc:
                        log("RECORD_PROCESSING_ERROR", f"Error computing expression: {exc}", rec)
                        out.append(None)
                return out

        def emit(
            row: Sequence[Any],
            rec: InRecord | None,
            ts: int | None = None,
            tombstone: bool = False,
            wstart: int | None = None,
            wend: int | None = None,
            key_override: list[Any] | None = None,
        ) -> list[OutRecord]:
            vals = evaluate(row, rec)
            keys = vals[:nk] if key_override is None else key_override
            values = vals[nk:]
            if ts is None:
                ts = row[ts_index] if ts_index is not None else (rec.timestamp if rec else 0)
            try:
                if (
                    nk
                    and all(k is None for k in keys)
                    and (
                        nk == 1
                        or key_format.name in ("DELIMITED", "KAFKA")
                        or (rec is not None and rec.key is None and passthrough_null_key)
                    )
                ):
                    kb = None
                else:
                    kb = kser(keys)
                if wstart is not None:
                    kb = windowed_key(kb, wstart, wend if wend is not None else wstart, session)
                vb = None if tombstone else vser(values)
                if sink_ts_fn is not None and not tombstone:
                    t2 = sink_ts_fn(keys, values)
                    if t2 is not None:
                        ts = t2
            except (SerdeError, KsqlProcessingError, ValueError, TypeError, OverflowError) as exc:
                log(
                    "SERIALIZATION_ERROR",
                    f"Error serializing message to topic: {topic}. {exc}",
                    rec,
                )
                return []
            return [OutRecord(topic, kb, vb, int(ts or 0))]

        return emit

    def _transient_emitter(
        self, fns: list[Callable[[Sequence[Any]], Any]]
    ) -> Callable[..., list[TransientRow]]:
        log = self._log

        def emit(
            row: Sequence[Any],
            rec: InRecord | None,
            ts: int | None = None,
            tombstone: bool = False,
            **_: Any,
        ) -> list[TransientRow]:
            out = []
            for f in fns:
                try:
                    out.append(_json_ready(f(row)))
                except Exception as exc:
                    log("RECORD_PROCESSING_ERROR", f"Error computing expression: {exc}", rec)
                    out.append(None)
            return [TransientRow(out, tombstone)]

        return emit

    def _new_query(
        self, source_topics: list[str], schema: list[Column], limit: int | None
    ) -> BaseQuery:
        from fraudstream.ksql.engine.topology import PersistentQuery

        if self.transient:
            q: BaseQuery = TransientQuery(
                self.query_id, self.text, source_topics, None, schema, limit=limit
            )
        else:
            q = PersistentQuery(
                self.query_id,
                self.text,
                source_topics,
                self.sink_topic,
                schema,
                sink_name=self.sink_name,
            )
        self.query = q
        return q

    def _register(self, topic: str, handler: Callable[[InRecord], Any]) -> None:
        assert self.query is not None
        if self.transient:
            assert isinstance(self.query, TransientQuery)
            self.query.row_handlers.setdefault(topic, []).append(handler)
        else:
            self.query.handlers.setdefault(topic, []).append(handler)

    def _finish(
        self,
        items: list[OutputColumn],
        key_idx: list[int],
        base: DataSource,
        kind: str,
        limit: int | None,
        window: WindowInfo | None = None,
    ) -> tuple[PlannedQuery, Callable[..., Any]]:
        if self.existing_sink is not None and not self.transient:
            self._widen_to_sink(items, key_idx)
        key_cols = [Column(items[i].name, items[i].compiled.type, "KEY") for i in key_idx]  # type: ignore[union-attr]
        value_items = [it for i, it in enumerate(items) if i not in key_idx]
        value_cols = [Column(it.name, it.compiled.type, "VALUE") for it in value_items]  # type: ignore[union-attr]
        if not self.transient:
            if not value_cols:
                raise KsqlStatementError("The projection contains no value columns.")
            seen: set[str] = set()
            for c in key_cols + value_cols:
                if c.name in seen:
                    raise KsqlStatementError(
                        f"Duplicate value columns found in schema: `{c.name}` {c.type}"
                    )
                seen.add(c.name)
        schema = key_cols + value_cols
        topics = [b.source.topic for b in self.bound]
        if self.transient:
            schema_cols = [
                Column(it.name, it.compiled.type, "KEY" if i in key_idx else "VALUE")  # type: ignore[union-attr]
                for i, it in enumerate(items)
            ]
            q = self._new_query(topics, schema_cols, limit)
            emitter: Callable[..., Any] = self._transient_emitter([it.compiled.fn for it in items])  # type: ignore[union-attr]
            kf, vf = base.key_format, base.value_format
        else:
            q = self._new_query(topics, schema, limit)
            kf, vf = self._sink_formats(key_cols, value_cols, base)
            if self.existing_sink is not None:
                self._check_insert_schema(key_cols, value_cols)
            emitter = self._make_emitter(
                [items[i].compiled.fn for i in key_idx],  # type: ignore[union-attr]
                [it.compiled.fn for it in value_items],  # type: ignore[union-attr]
                key_cols,
                value_cols,
                kf,
                vf,
                None,
                window,
                [items[i].compiled.index for i in key_idx]  # type: ignore[union-attr]
                + [it.compiled.index for it in value_items],  # type: ignore[union-attr]
            )
        partitions = int(
            self.sink_props.get("PARTITIONS") or max(b.source.partitions for b in self.bound)
        )
        planned = PlannedQuery(
            q,
            key_cols,
            value_cols,
            kf,
            vf,
            window,
            kind,
            partitions,
            [b.source.name for b in self.bound],
        )
        return planned, emitter

    def _widen_to_sink(self, items: list[OutputColumn], key_idx: list[int]) -> None:
        """INSERT INTO: implicitly widen result columns to the sink's column types."""
        sink = self.existing_sink
        assert sink is not None
        for i, it in enumerate(items):
            col = sink.column(it.name)
            c = it.compiled
            if col is None or c is None or c.type == col.type:
                continue
            if (col.namespace == "KEY") != (i in key_idx):
                continue
            if T.can_implicitly_cast(c.type, col.type):
                conv = cast_function(c.type, col.type, A.format_expr(it.expr))
                it.compiled = Compiled(col.type, _converted(c.fn, conv))

    def _check_windowed_join(
        self, ls: DataSource, rs: DataSource, lexpr: A.Expr, rexpr: A.Expr
    ) -> bool:
        """ksqlDB's rules for joining windowed sources; True when both sides are windowed."""
        lw_, rw_ = ls.window, rs.window
        if lw_ is None and rw_ is None:
            return False
        if lw_ is None or rw_ is None:
            w, n = (ls, rs) if lw_ is not None else (rs, ls)
            raise KsqlStatementError(
                "Can not join windowed source to non-windowed source.\n"
                f"`{w.name}` is {w.window.type if w.window else ''} windowed\n"
                f"`{n.name}` is not windowed"
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
            raise KsqlStatementError(
                "Implicit repartitioning of windowed sources is not supported. "
                "See https://github.com/confluentinc/ksql/issues/4385."
            )
        return True

    def _check_insert_schema(self, key_cols: list[Column], value_cols: list[Column]) -> None:
        sink = self.existing_sink
        assert sink is not None
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

    # ------------------------------------------------------------------ single source
    def _plan_single(
        self, q: A.Query, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        b = self.bound[0]
        src = b.source
        compiler = ExpressionCompiler(self.scope, "SELECT")
        self._compile_items(items, compiler)
        is_table = src.kind == "TABLE"
        if q.partition_by is not None:
            if is_table:
                raise KsqlUnsupportedError("PARTITION BY on a TABLE is not supported")
            if not q.partition_by:
                raise KsqlStatementError("PARTITION BY requires at least one expression")
            pcomp = ExpressionCompiler(self.scope, "PARTITION BY")
            pexprs = q.partition_by
            nulls = [e for e in pexprs if isinstance(e, A.Literal) and e.kind == "NULL"]
            if nulls and len(pexprs) > 1:
                raise KsqlStatementError("Cannot PARTITION BY multiple columns including NULL")
            for e in pexprs:
                for r in _refs(e):
                    try:
                        self.scope.resolve(r, "PARTITION BY")
                    except KsqlStatementError:
                        raise KsqlStatementError(
                            f"PARTITION BY column '{r.name}' cannot be resolved. "
                            f"'{r.name}' must be a column "
                            "in the source schema since PARTITION BY is applied on the input."
                        ) from None
            if nulls:
                key_idx: list[int] = []
                self._partition_null = True
            else:
                for e in pexprs:
                    pcomp.compile(e)
                key_idx = self._pick_keys(items, list(pexprs), "partitioning expression")
        else:
            self._key_passthrough = True
            key_exprs: list[A.Expr] = [A.ColumnRef(c.name, b.alias) for c in src.key_columns]
            if self.transient:
                key_idx = []
            else:
                key_idx = self._pick_keys(items, key_exprs, "key column") if key_exprs else []
        kind = "TABLE" if is_table else "STREAM"
        planned, emit = self._finish(
            items, key_idx, src, kind, q.limit, src.window if not self.transient else None
        )
        tomb_key_fns = None
        if q.partition_by is not None and key_idx:
            # tombstones keep key columns; any other partition expression gives NULL
            tomb_key_fns = []
            for i in key_idx:
                e = items[i].expr
                if all(self.scope.resolve(r, "PARTITION BY").namespace == "KEY" for r in _refs(e)):
                    tomb_key_fns.append(items[i].compiled.fn)  # type: ignore[union-attr]
                else:
                    tomb_key_fns.append(lambda r: None)
        reader = b.reader
        assert reader is not None
        read = reader.read
        log = self._log
        rt_index = b.rowtime_index
        windowed = src.window is not None and not self.transient
        ws_index = rt_index + 3
        nkeys = len(src.key_columns)
        # a push query over a table retracts (tombstone) only rows it has shown
        track_shown = is_table and self.transient
        shown: set[Any] = set()

        def row_key(row: Sequence[Any]) -> Any:
            k = _hashable(list(row[:nkeys]))
            return (k, row[ws_index], row[ws_index + 1]) if src.window is not None else k

        def handle(rec: InRecord) -> list[Any]:
            decoded = _decode_or_log(read, log, rec)
            if decoded is None:
                return []
            row, tomb = decoded
            if is_table and nkeys and all(row[i] is None for i in range(nkeys)):
                log("RECORD_PROCESSING_ERROR", "Skipping record with a null key for a table", rec)
                return []
            if tomb:
                if is_table:
                    if track_shown:
                        shown.discard(row_key(row))
                    return emit(
                        row,
                        rec,
                        row[rt_index],
                        tombstone=True,
                        **(
                            {"wstart": row[ws_index], "wend": row[ws_index + 1]} if windowed else {}
                        ),
                    )
                if where is not None or self.transient:
                    return []
                if tomb_key_fns is not None:
                    return emit(
                        row,
                        rec,
                        row[rt_index],
                        tombstone=True,
                        key_override=[f(row) for f in tomb_key_fns],
                    )
                return emit(
                    row,
                    rec,
                    row[rt_index],
                    tombstone=True,
                    **({"wstart": row[ws_index], "wend": row[ws_index + 1]} if windowed else {}),
                )
            if where is not None:
                try:
                    ok = where(row)
                except Exception as exc:
                    log("RECORD_PROCESSING_ERROR", f"Error evaluating WHERE: {exc}", rec)
                    ok = False
                if ok is not True:
                    if is_table:
                        if track_shown:
                            key = row_key(row)
                            if key not in shown:
                                return []
                            shown.discard(key)
                        return emit(
                            row,
                            rec,
                            row[rt_index],
                            tombstone=True,
                            **(
                                {"wstart": row[ws_index], "wend": row[ws_index + 1]}
                                if windowed
                                else {}
                            ),
                        )
                    return []
            if windowed:
                return emit(row, rec, row[rt_index], wstart=row[ws_index], wend=row[ws_index + 1])
            if track_shown:
                shown.add(row_key(row))
            return emit(row, rec, row[rt_index])

        self._register(src.topic, handle)
        if self.transient:
            assert isinstance(planned.query, TransientQuery)
            planned.query.is_table = is_table
        return planned

    # ------------------------------------------------------------------ joins
    def _check_join_formats(self, bound: list[BoundSource]) -> None:
        kafka = [b.source.name for b in bound if b.source.value_format.name == "KAFKA"]
        if kafka:
            raise KsqlStatementError(
                f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. "
                "This format does not yet support JOIN."
            )

    def _plan_join(
        self, q: A.Query, join: A.Join, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        lb, rb = self.bound
        ls, rs = lb.source, rb.source
        crit = join.criteria
        if isinstance(crit, A.Logical):
            raise KsqlStatementError(
                "Invalid join condition: joins on multiple conditions are not yet supported. "
                f"Got {A.format_expr(crit)}."
            )
        if not isinstance(crit, A.Comparison) or crit.op != "=":
            raise KsqlStatementError(
                "Unsupported join expression: "
                f"{A.format_expr(crit)}. Only equality joins are supported."
            )
        jc = ExpressionCompiler(self.scope, "JOIN ON")
        sides: list[A.Expr] = []
        for side in (crit.left, crit.right):
            refs = _refs(side)
            if not refs:
                raise KsqlStatementError(
                    f"Invalid comparison expression '{A.format_expr(side)}' in join "
                    f"'{A.format_expr(crit)}'. Each side of the join comparision must contain "
                    "references from exactly one source."
                )
            for r in refs:
                jc.compile(r)
            sides.append(side)

        def side_of(e: A.Expr) -> set[str]:
            return {self.scope.resolve(r, "JOIN ON").source or "" for r in _refs(e)}

        s0, s1 = side_of(sides[0]), side_of(sides[1])
        if len(s0) != 1 or len(s1) != 1 or s0 == s1:
            bad = sides[0] if len(s0) != 1 or s0 == s1 else sides[1]
            raise KsqlStatementError(
                f"Invalid comparison expression '{A.format_expr(bad)}' in join "
                f"'{A.format_expr(crit)}'. Each side of the join comparision must contain "
                "references from exactly one source."
            )
        if s0 == {lb.alias}:
            lexpr, rexpr = sides
        else:
            rexpr, lexpr = sides
        lc = jc.compile(lexpr)
        rc = jc.compile(rexpr)
        if lc.type != rc.type:
            raise KsqlStatementError(
                "Invalid join condition: types don't match. Got "
                f"{A.format_expr(lexpr)}{{{lc.type}}} = "
                f"{A.format_expr(rexpr)}{{{rc.type}}}."
            )
        jt = join.type
        jt_text = {
            "INNER": "[INNER] JOIN",
            "LEFT": "LEFT [OUTER] JOIN",
            "RIGHT": "RIGHT [OUTER] JOIN",
            "FULL": "[FULL] OUTER JOIN",
        }[jt]
        if ls.kind == "TABLE" and rs.kind == "STREAM":
            raise KsqlStatementError(
                "Invalid join order: table-stream joins are not supported; only "
                "stream-table joins. "
                f"Got {ls.name} {jt_text} {rs.name}."
            )
        if ls.kind == "STREAM" and rs.kind == "TABLE":
            if jt in ("FULL", "RIGHT"):
                word = "full-outer" if jt == "FULL" else "right-outer"
                raise KsqlStatementError(
                    f"Invalid join type: {word} join not supported for stream-table join. "
                    f"Got {ls.name} {jt_text} {rs.name}."
                )
            if join.within is not None:
                raise KsqlStatementError(
                    "A window definition was provided for a Stream-Table join. These joins are not "
                    "windowed. Please drop the window definition (ie. the WITHIN "
                    "clause) and try to "
                    "re-run your join."
                )
            tkey = rs.key_columns
            if not (
                isinstance(rexpr, A.ColumnRef) and len(tkey) == 1 and rexpr.name == tkey[0].name
            ):
                by_alias = {lb.alias: ls.name, rb.alias: rs.name}

                def named(e: A.Expr) -> str:
                    if isinstance(e, A.ColumnRef):
                        col = self.scope.resolve(e, "JOIN ON")
                        return f"{by_alias.get(col.source or '', col.source)}.{col.name}"
                    return A.format_expr(e)

                raise KsqlStatementError(
                    "Invalid join condition: stream-table joins require to join on the table's "
                    f"primary key. Got {named(lexpr)} = {named(rexpr)}."
                )
        if ls.kind == "STREAM" and rs.kind == "STREAM" and join.within is None:
            raise KsqlStatementError(
                "Stream-Stream joins must have a WITHIN clause specified. None was "
                "provided. To learn "
                "about how to specify a WITHIN clause with a stream-stream join, please visit: "
                "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"
            )
        if ls.kind == "TABLE" and rs.kind == "TABLE":
            if join.within is not None:
                raise KsqlStatementError(
                    "A window definition was provided for a Table-Table join. These joins are not "
                    "windowed. Please drop the window definition (i.e. the WITHIN "
                    "clause) and try to "
                    "re-run your join."
                )
            lkey = ls.key_columns
            tkey = rs.key_columns
            if not (
                isinstance(lexpr, A.ColumnRef)
                and len(lkey) == 1
                and lexpr.name == lkey[0].name
                and isinstance(rexpr, A.ColumnRef)
                and len(tkey) == 1
                and rexpr.name == tkey[0].name
            ):
                if ls.window is not None or rs.window is not None:
                    raise KsqlStatementError(
                        "Foreign-key table-table joins are not supported on windowed tables."
                    )
                raise KsqlUnsupportedError(
                    "Table-table joins on non-key columns (foreign-key joins) are not supported "
                    "by the embedded engine"
                )
        windowed = self._check_windowed_join(ls, rs, lexpr, rexpr)
        if lc.type.contains_map() and isinstance(lexpr, A.ColumnRef):
            col = self.scope.resolve(lexpr, "JOIN ON")
            raise KsqlStatementError(
                "Map keys, including types that contain maps, are not supported as they may "
                "lead to unexpected behavior due to inconsistent serialization. "
                f"Key column name: `{col.source}_{col.name}`. Column type: {lc.type}. "
                "See https://github.com/confluentinc/ksql/issues/6621 for more."
            )

        compiler = ExpressionCompiler(self.scope, "SELECT")
        self._compile_items(items, compiler)
        syn = self._synthetic
        repartition = q.partition_by is not None
        if self.transient:
            key_idx: list[int] = []
        elif repartition:
            pcomp = ExpressionCompiler(self.scope, "PARTITION BY")
            for e in q.partition_by or []:
                pcomp.compile(e)
            key_idx = self._pick_keys(items, list(q.partition_by or []), "partitioning expression")
        elif syn is not None:
            key_idx = [
                i
                for i, it in enumerate(items)
                if isinstance(it.expr, A.ColumnRef)
                and it.expr.name == syn
                and it.expr.source is None
            ][:1]
            if not key_idx:
                raise KsqlStatementError(
                    "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
                    f"The query used to build `{self.sink_name}` must include the join "
                    f"expression {syn} in its projection (eg, SELECT {syn}...).\n"
                    f"{syn} was added as a synthetic key column because the join criteria "
                    "did not match any source column. This expression must be included in the "
                    "projection and may be aliased."
                )
        else:
            cands: list[A.Expr] = [e for e in (lexpr, rexpr) if isinstance(e, A.ColumnRef)]
            key_idx = self._pick_keys(
                items, [cands[0]], "join expression", alternatives=[[c] for c in cands[1:]]
            )
        kind = "TABLE" if ls.kind == "TABLE" and rs.kind == "TABLE" else "STREAM"
        planned, emit = self._finish(
            items,
            key_idx,
            ls,
            kind,
            q.limit,
            ls.window if windowed and not self.transient else None,
        )
        if windowed and not self.transient:
            planned.window = ls.window
        l_ws = lb.rowtime_index + 3  # WINDOWSTART of a left row (and of the combined row)
        r_ws = rb.rowtime_index + 3  # WINDOWSTART of the right part of the combined row
        lread, rread = lb.reader.read, rb.reader.read  # type: ignore[union-attr]
        lkey_fn, rkey_fn = lc.fn, rc.fn
        lw, rw = lb.width, rb.width
        l_rt, r_rt = lb.rowtime_index, rb.rowtime_index
        log = self._log
        left_outer = jt in ("LEFT", "FULL")
        right_outer = jt in ("RIGHT", "FULL")
        null_right = [None] * rw
        null_left = [None] * lw

        def passes(row: list[Any], rec: InRecord, raw_key: Any) -> bool:
            if where is None:
                return True
            try:
                return where([*row, raw_key]) is True
            except Exception as exc:
                log("RECORD_PROCESSING_ERROR", f"Error computing join key: {exc}", rec)
                return False

        def key_of(
            fn: Callable[..., Any], row: list[Any], rec: InRecord, ws: int = 0
        ) -> tuple[Any, Any]:
            """(raw join key, hashable join key); (None, None) when it cannot be computed.
            Windowed sources join on key and window: the bounds are part of the hashable key."""
            try:
                raw = fn(row)
            except Exception as exc:
                log("RECORD_PROCESSING_ERROR", f"Error computing join key: {exc}", rec)
                return None, None
            if raw is None:
                return None, None
            if windowed:
                return raw, (_hashable(raw), row[ws], row[ws + 1])
            return raw, _hashable(raw)

        def out(full: list[Any], rec: InRecord, ts: int, raw_key: Any, **kw: Any) -> list[Any]:
            # the join key column always carries the join key (also for outer-join rows)
            row = [*full, raw_key]  # the synthetic key slot (ROWKEY) ends the combined row
            if windowed and not self.transient:
                ws = full[l_ws] if full[l_ws] is not None else full[r_ws]
                we = full[l_ws + 1] if full[l_ws] is not None else full[r_ws + 1]
                kw = {**kw, "wstart": ws, "wend": we}
            if self.transient or repartition:
                return emit(row, rec, ts, **kw)
            return emit(row, rec, ts, key_override=[raw_key], **kw)

        if ls.kind == "STREAM" and rs.kind == "TABLE":
            table: dict[Any, list[Any]] = {}

            def on_stream(rec: InRecord) -> list[Any]:
                d = _decode_or_log(lread, log, rec)
                if d is None or d[1]:
                    return []
                row = d[0]
                raw, k = key_of(lkey_fn, row, rec, l_ws)
                if k is None:
                    return []
                right = table.get(k)
                if right is None:
                    if not left_outer:
                        return []
                    right = null_right
                full = row + right
                if not passes(full, rec, raw):
                    return []
                return out(full, rec, row[l_rt], raw)

            def on_table(rec: InRecord) -> list[Any]:
                d = _decode_or_log(rread, log, rec)
                if d is None:
                    return []
                row, tomb = d
                k = _hashable(row[0]) if rs.key_columns else None
                if k is None:
                    return []
                if windowed:
                    k = (k, row[r_ws - lw], row[r_ws - lw + 1])
                if tomb:
                    table.pop(k, None)
                else:
                    table[k] = row
                return []

            self._register(ls.topic, on_stream)
            self._register(rs.topic, on_table)
            return planned

        if ls.kind == "STREAM" and rs.kind == "STREAM":
            assert join.within is not None
            before, after = join.within
            grace = join.grace
            lbuf: dict[Any, list[tuple[int, list[Any]]]] = {}
            rbuf: dict[Any, list[tuple[int, list[Any]]]] = {}
            # Kafka Streams semantics: one stream time shared by both sides decides when
            # outer-only results are final; each side's window store keeps its own observed
            # time and drops records older than its retention.
            state = {"stream_time": -(2**63), "l_time": -(2**63), "r_time": -(2**63)}
            retention = before + after + (grace if grace is not None else DEFAULT_GRACE_MS)
            pending: list[tuple[int, Any, list[Any], bool, Any]] = []  # ts, k, row, is_left, raw

            def outer_row(row: list[Any], is_left: bool) -> list[Any]:
                return row + null_right if is_left else null_left + row

            def flush_pending(rec: InRecord) -> list[Any]:
                res: list[Any] = []
                keep = []
                for p in pending:
                    p_ts, _p_k, p_row, p_left, p_raw = p
                    window_end = p_ts + (after if p_left else before)
                    if window_end + (grace or 0) < state["stream_time"]:
                        full = outer_row(p_row, p_left)
                        if passes(full, rec, p_raw):
                            res.extend(out(full, rec, p_ts, p_raw))
                    else:
                        keep.append(p)
                pending[:] = keep
                return res

            def store(
                buf: dict[Any, list[tuple[int, list[Any]]]],
                tkey: str,
                k: Any,
                ts: int,
                row: list[Any],
            ) -> None:
                state[tkey] = max(state[tkey], ts)
                limit = state[tkey] - retention
                if ts <= limit:
                    return  # too old for this side's window store
                lst = buf.setdefault(k, [])
                bisect.insort(lst, (ts, row), key=lambda x: x[0])
                while lst and lst[0][0] <= limit:
                    lst.pop(0)

            def on_side(rec: InRecord, is_left: bool) -> list[Any]:
                d = _decode_or_log(lread if is_left else rread, log, rec)
                if d is None or d[1]:
                    return []
                row = d[0]
                if is_left:
                    raw, k = key_of(lkey_fn, row, rec, l_ws)
                    ts = row[l_rt]
                else:
                    raw, k = key_of(rkey_fn, null_left + row, rec, r_ws)
                    ts = row[r_rt - lw]
                if k is None:
                    return []
                outer = left_outer if is_left else right_outer
                state["stream_time"] = max(state["stream_time"], ts)
                res: list[Any] = []
                if grace is not None and pending and ts == state["stream_time"]:
                    res.extend(flush_pending(rec))
                matched = False
                others = rbuf.get(k, []) if is_left else lbuf.get(k, [])
                lo, hi = (ts - before, ts + after) if is_left else (ts - after, ts + before)
                for ots, orow in others:
                    if lo <= ots <= hi:
                        matched = True
                        if pending:
                            pending[:] = [p for p in pending if p[2] is not orow]
                        full = row + orow if is_left else orow + row
                        if passes(full, rec, raw):
                            res.extend(out(full, rec, max(ts, ots), raw))
                if not matched and outer:
                    if grace is None or hi < state["stream_time"]:
                        full = outer_row(row, is_left)
                        if passes(full, rec, raw):
                            res.extend(out(full, rec, ts, raw))
                    else:
                        pending.append((ts, k, row, is_left, raw))
                if is_left:
                    store(lbuf, "l_time", k, ts, row)
                else:
                    store(rbuf, "r_time", k, ts, row)
                state["n"] = state.get("n", 0) + 1
                if state["n"] % 1024 == 0:
                    sweep()
                return res

            def sweep() -> None:
                """Drop expired rows of keys that are not seen again (bounded memory)."""
                for buf, tkey in ((lbuf, "l_time"), (rbuf, "r_time")):
                    limit = state[tkey] - retention
                    for key in list(buf):
                        lst = buf[key]
                        while lst and lst[0][0] <= limit:
                            lst.pop(0)
                        if not lst:
                            del buf[key]

            self._register(ls.topic, lambda rec: on_side(rec, True))
            self._register(rs.topic, lambda rec: on_side(rec, False))
            return planned

        # table-table (primary-key join): re-evaluate the key's join row on every update
        lstate: dict[Any, list[Any]] = {}
        rstate: dict[Any, list[Any]] = {}
        raw_keys: dict[Any, Any] = {}
        emitted: dict[Any, bool] = {}  # keys whose join row was last emitted (not a tombstone)
        # both tables' rows are the join's state: the runtime restores them from a changelog
        stores = {
            "left": StateStore("left", lstate),
            "right": StateStore("right", rstate),
            "raw_keys": StateStore("raw_keys", raw_keys),
            "emitted": StateStore("emitted", emitted),
        }
        if not self.transient and self.query is not None:
            self.query.state_stores.extend(stores.values())

        def mark(name: str, k: Any) -> None:
            dirty = stores[name].dirty
            if dirty is not None:
                dirty.add(k)

        def tt_emit(k: Any, rec: InRecord) -> list[Any]:
            lrow, rrow = lstate.get(k), rstate.get(k)
            raw = raw_keys.get(k)
            present = (lrow is not None and (rrow is not None or left_outer)) or (
                rrow is not None and right_outer
            )
            full = (lrow if lrow is not None else null_left) + (
                rrow if rrow is not None else null_right
            )
            if present and passes(full, rec, raw):
                ts = max(
                    lrow[l_rt] if lrow is not None else -(2**63),
                    rrow[r_rt - lw] if rrow is not None else -(2**63),
                )
                if k not in emitted:
                    emitted[k] = True
                    mark("emitted", k)
                return out(full, rec, ts, raw)
            if k in emitted:
                del emitted[k]
                mark("emitted", k)
                return out(full, rec, rec.timestamp, raw, tombstone=True)
            return []

        def on_table_side(rec: InRecord, is_left: bool) -> list[Any]:
            d = _decode_or_log(lread if is_left else rread, log, rec)
            if d is None:
                return []
            row, tomb = d
            src = ls if is_left else rs
            k = _hashable(row[0]) if src.key_columns else None
            if k is None:
                return []
            if windowed:
                ws = l_ws if is_left else r_ws - lw
                k = (k, row[ws], row[ws + 1])
            store = lstate if is_left else rstate
            if tomb:
                if store.pop(k, None) is None:
                    return []
            else:
                store[k] = row
                if raw_keys.get(k, raw_keys) != row[0]:
                    raw_keys[k] = row[0]
                    mark("raw_keys", k)
            mark("left" if is_left else "right", k)
            return tt_emit(k, rec)

        self._register(ls.topic, lambda rec: on_table_side(rec, True))
        self._register(rs.topic, lambda rec: on_table_side(rec, False))
        return planned

    # ------------------------------------------------------------------ aggregation
    def _plan_aggregate(
        self, q: A.Query, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        b = self.bound[0]
        src = b.source
        if q.group_by is None:
            if not self.transient:
                raise KsqlUnsupportedError(
                    "Persistent aggregates without GROUP BY are not supported"
                )
            # a push query aggregating the whole stream: one global group
            q.group_by = [A.Literal(1, "INTEGER")]
        if not q.group_by:
            raise KsqlStatementError("GROUP BY requires at least one expression")
        gcomp = ExpressionCompiler(self.scope, "GROUP BY")
        group_compiled = [gcomp.compile(e) for e in q.group_by]
        group_fns = [c.fn for c in group_compiled]
        # collect aggregate calls
        calls: list[A.FunctionCall] = []
        for e in [it.expr for it in items] + ([q.having] if q.having else []):
            for n in A.walk(e):
                if isinstance(n, A.FunctionCall) and n.name in AGGREGATE_NAMES:
                    key = _strip_pos(n, self.scope)
                    if key not in [_strip_pos(c, self.scope) for c in calls]:
                        calls.append(n)
        in_width = b.width
        sink_vf = str(self.sink_props.get("VALUE_FORMAT") or self.sink_props.get("FORMAT") or "")
        vf_name = sink_vf.upper() or src.value_format.name
        if vf_name in ("DELIMITED", "KAFKA") and any(c.name == "AVG" for c in calls):
            raise KsqlStatementError(
                "One of the functions used in the statement has an intermediate type that the "
                "value format can not handle. Please remove the function or change the format."
            )
        aggs: list[Aggregator] = []
        for c in calls:
            args = [gcomp.compile(a) for a in c.args] if not c.star else []
            aggs.append(make_aggregator(c.name, args, c.star, src.kind == "TABLE"))
        window = q.window
        wcols = []
        base_cols = list(self.scope.columns)
        agg_base = in_width
        for i, ag in enumerate(aggs):
            wcols.append(ScopeColumn(f"KSQL_AGG_{i}", ag.type, None, agg_base + i, "AGG"))
        wpos = agg_base + len(aggs)
        post_cols = [c for c in base_cols if c.name not in ("WINDOWSTART", "WINDOWEND")]
        if window is not None:
            post_cols += [
                ScopeColumn("WINDOWSTART", T.T_BIGINT, b.alias, wpos, "WINDOW"),
                ScopeColumn("WINDOWEND", T.T_BIGINT, b.alias, wpos + 1, "WINDOW"),
            ]
        post_scope = Scope(post_cols + wcols, list(self.scope.sources))
        for pc in post_scope.columns:
            if pc.source:
                for sname in self.scope.sources:
                    post_scope.by_qual[(sname, pc.name)] = pc
        call_slots = {_strip_pos(c, self.scope): agg_base + i for i, c in enumerate(calls)}
        planner_scope = self.scope

        class AggCompiler(ExpressionCompiler):
            def _c_FunctionCall(self, e: A.FunctionCall) -> Compiled:
                if e.name in AGGREGATE_NAMES:
                    slot = call_slots[_strip_pos(e, planner_scope)]
                    t = aggs[slot - agg_base].type
                    return Compiled(t, lambda r: r[slot])
                return super()._c_FunctionCall(e)

        acomp = AggCompiler(post_scope, "SELECT")
        group_norm = [_strip_pos(e, self.scope) for e in q.group_by]
        # non-aggregate columns must be part of GROUP BY
        for it in items:
            if self._outside_aggregates(it.expr, group_norm):
                bad = [A.format_expr(r) for r in self._loose_refs(it.expr, group_norm)]
                raise KsqlStatementError(
                    "Non-aggregate SELECT expression(s) not part of GROUP BY: "
                    f"{', '.join(bad) or A.format_expr(it.expr)}"
                )
        self._compile_items(items, acomp)
        having = None
        if q.having is not None:
            having = AggCompiler(post_scope, "HAVING").compile(q.having).fn
        key_idx = (
            self._pick_keys(items, list(q.group_by), "grouping expression")
            if not self.transient
            else []
        )
        winfo = None
        if window is not None:
            winfo = WindowInfo(window.type, window.size)
        planned, emit = self._finish(
            items, key_idx, src, "TABLE", q.limit, winfo if not self.transient else None
        )
        read = b.reader.read  # type: ignore[union-attr]
        log = self._log
        rt = b.rowtime_index
        size = window.size if window else 0
        advance = (window.advance or window.size) if window else 0
        grace = window.grace if window and window.grace is not None else DEFAULT_GRACE_MS
        if window is not None and window.type == "HOPPING" and advance > size:
            raise KsqlStatementError(
                f"Window advance ({advance} ms) must not be larger than the window size "
                f"({size} ms)."
            )
        state: dict[Any, list[Any]] = {}
        stream_time = {"t": -(2**63)}
        table_prev: dict[Any, tuple[Any, list[Any]]] = {}
        is_table = src.kind == "TABLE"
        n_aggs = len(aggs)
        # the runtime writes changed keys of these stores to the query's changelog topic
        agg_store = StateStore("aggregate", state)
        time_store = StateStore("stream_time", stream_time)
        prev_store = StateStore("table_prev", table_prev)
        if not self.transient and self.query is not None:
            self.query.state_stores.extend([agg_store, time_store, prev_store])

        def windows_for(ts: int) -> list[tuple[int, int]]:
            if window is None:
                return [(0, 0)]
            if window.type == "TUMBLING":
                s = ts - (ts % size)
                return [(s, s + size)]
            out = []
            first = ts - (ts % advance)
            s = first
            while s > ts - size:
                if s >= 0:
                    out.append((s, s + size))
                s -= advance
            out.reverse()
            return out

        def output(
            gk: Any, row: list[Any], st: list[Any], ws: int, we: int, rec: InRecord, ts: int
        ) -> list[Any]:
            post = (
                row[:in_width] + [ag.result(s) for ag, s in zip(aggs, st, strict=True)] + [ws, we]
            )
            wkw = {"wstart": ws, "wend": we} if window is not None and not self.transient else {}
            if having is not None:
                try:
                    ok = having(post)
                except Exception as exc:
                    log("RECORD_PROCESSING_ERROR", f"Error evaluating HAVING: {exc}", rec)
                    ok = False
                if ok is not True:
                    if self.transient:
                        return []
                    return emit(post, rec, ts, tombstone=True, **wkw)
            return emit(post, rec, ts, **wkw)

        def evict_closed_windows() -> None:
            """Windows past end + grace can never change again: drop their state."""
            horizon = stream_time["t"] - grace - (size or 0)
            dirty = agg_store.dirty
            for sk in [sk for sk in state if sk[1] < horizon]:
                del state[sk]
                if dirty is not None:
                    dirty.add(sk)

        def group_key(row: list[Any]) -> Any:
            try:
                gvals = [f(row) for f in group_fns]
            except Exception:
                return None
            if any(v is None for v in gvals):
                return None
            return _hashable(gvals if len(gvals) > 1 else gvals[0])

        def apply(row: list[Any], rec: InRecord, sign: int, quiet: bool = False) -> list[Any]:
            try:
                gvals = [f(row) for f in group_fns]
            except Exception as exc:
                log("RECORD_PROCESSING_ERROR", f"Error computing GROUP BY: {exc}", rec)
                return []
            if any(v is None for v in gvals):
                log("RECORD_PROCESSING_ERROR", "Group-by column with null value", rec)
                return []
            gk = _hashable(gvals if len(gvals) > 1 else gvals[0])
            ts = row[rt]
            out: list[Any] = []
            for ws, we in windows_for(ts):
                if window is not None and we + grace <= stream_time["t"]:
                    continue  # window closed: late record dropped
                sk = (gk, ws)
                st = state.get(sk)
                if st is None:
                    st = state[sk] = [ag.init() for ag in aggs]
                for i in range(n_aggs):
                    try:
                        st[i] = aggs[i].add(st[i], row) if sign > 0 else aggs[i].undo(st[i], row)
                    except Exception as exc:
                        log("RECORD_PROCESSING_ERROR", f"Error computing aggregate: {exc}", rec)
                if agg_store.dirty is not None:
                    agg_store.dirty.add(sk)
                if not quiet:
                    out.extend(output(gk, row, st, ws, we, rec, ts))
            return out

        def handle(rec: InRecord) -> list[Any]:
            decoded = _decode_or_log(read, log, rec)
            if decoded is None:
                return []
            row, tomb = decoded
            out: list[Any] = []
            if is_table:
                pk = _hashable(row[: len(src.key_columns)][0]) if src.key_columns else None
                prev = table_prev.pop(pk, None)
                if prev_store.dirty is not None:
                    prev_store.dirty.add(pk)
                keep = not tomb and (where is None or where(row) is True)
                if prev is not None:
                    prow = prev[1]
                    prow[rt] = row[rt]
                    # an update that stays in its group gives one output, as Kafka Streams
                    # forwards a single change when the group key is unchanged
                    same_group = keep and group_key(prow) == group_key(row)
                    out.extend(apply(prow, rec, -1, quiet=same_group))
                if not keep:
                    return out
                table_prev[pk] = (None, row)
                out.extend(apply(row, rec, +1))
                return out
            if tomb:
                return []
            ts = row[rt]
            if window is not None:
                if ts > stream_time["t"]:
                    stream_time["t"] = ts
                    if time_store.dirty is not None:
                        time_store.dirty.add("t")
                stream_time["n"] = stream_time.get("n", 0) + 1
                if stream_time["n"] % 1024 == 0:
                    evict_closed_windows()
            if where is not None:
                try:
                    ok = where(row)
                except Exception as exc:
                    log("RECORD_PROCESSING_ERROR", f"Error evaluating WHERE: {exc}", rec)
                    ok = False
                if ok is not True:
                    return []
            return apply(row, rec, +1)

        self._register(src.topic, handle)
        planned.window = winfo
        return planned

    def _outside_aggregates(self, e: A.Expr, group_norm: list[A.Expr]) -> bool:
        return bool(self._loose_refs(e, group_norm))

    def _loose_refs(self, e: A.Expr, group_norm: list[A.Expr]) -> list[A.ColumnRef]:
        """Column refs outside aggregate calls that are not covered by a GROUP BY expression."""
        if _strip_pos(e, self.scope) in group_norm:
            return []
        if isinstance(e, A.FunctionCall) and e.name in AGGREGATE_NAMES:
            return []
        if isinstance(e, A.ColumnRef):
            if e.name in ("WINDOWSTART", "WINDOWEND"):
                return []
            return [e]
        out: list[A.ColumnRef] = []
        for c in A.children(e):
            out.extend(self._loose_refs(c, group_norm))
        return out


# ----------------------------------------------------------------------------- aggregates


@dataclass
class Aggregator:
    type: T.SqlType
    init: Callable[[], Any]
    add: Callable[[Any, Sequence[Any]], Any]
    result: Callable[[Any], Any]
    undo: Callable[[Any, Sequence[Any]], Any]


def _check_qualifiers(q: A.Query, sources: Sequence[str]) -> None:
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
                raise KsqlStatementError(
                    f"Failed to prepare statement: '{n.source}' is not a valid stream/table"
                    " name or alias."
                )


def _no_undo(name: str) -> Callable[[Any, Sequence[Any]], Any]:
    def undo(st: Any, row: Sequence[Any]) -> Any:
        raise KsqlProcessingError(f"{name} cannot be undone for table aggregations")

    return undo


def make_aggregator(name: str, args: list[Compiled], star: bool, table: bool) -> Aggregator:
    if name == "COUNT":
        if star or not args:
            return Aggregator(
                T.T_BIGINT, lambda: 0, lambda s, r: s + 1, lambda s: s, lambda s, r: s - 1
            )
        f = args[0].fn
        return Aggregator(
            T.T_BIGINT,
            lambda: 0,
            lambda s, r: s + (f(r) is not None),
            lambda s: s,
            lambda s, r: s - (f(r) is not None),
        )
    if not args:
        raise KsqlStatementError(f"Function '{name}' does not accept parameters ().")
    f = args[0].fn
    t = args[0].type
    if name == "SUM":
        if not t.is_numeric:
            raise KsqlStatementError(f"Function 'SUM' does not accept parameters ({t}).")
        zero: Any = (
            0.0
            if t.base == T.DOUBLE
            else (Decimal(0).scaleb(-t.scale) if t.base == T.DECIMAL else 0)
        )
        from fraudstream.ksql.engine.expressions import wrap_int, wrap_long

        wrap = (
            wrap_int if t.base == T.INTEGER else wrap_long if t.base == T.BIGINT else (lambda v: v)
        )

        add, sub = _adder(t)

        def sadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            return s if v is None else wrap(add(s, v))

        def sundo(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            return s if v is None else wrap(sub(s, v))

        return Aggregator(t, lambda: zero, sadd, lambda s: s, sundo)
    if name == "AVG":
        if not t.is_numeric:
            raise KsqlStatementError(f"Function 'AVG' does not accept parameters ({t}).")

        avg_add, avg_sub = _adder(t)

        def aadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            return s if v is None else (avg_add(s[0], v), s[1] + 1)

        def aundo(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            return s if v is None else (avg_sub(s[0], v), s[1] - 1)

        def ares(s: Any) -> Any:
            return None if s[1] == 0 else float(s[0]) / s[1]

        return Aggregator(T.T_DOUBLE, lambda: (0, 0), aadd, ares, aundo)
    if name in ("MIN", "MAX"):
        pick = min if name == "MIN" else max

        def madd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if v is None:
                return s
            return v if s is None else pick(s, v)

        return Aggregator(t, lambda: None, madd, lambda s: s, _no_undo(name))
    if name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
        latest = name == "LATEST_BY_OFFSET"
        ignore_nulls = True
        if len(args) > 1 and args[1].const:
            ignore_nulls = bool(args[1].value)

        def ladd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if v is None and ignore_nulls:
                return s
            if latest:
                return (v,)
            return s if s is not None else (v,)

        return Aggregator(
            t, lambda: None, ladd, lambda s: None if s is None else s[0], _no_undo(name)
        )
    if name in ("COLLECT_LIST", "COLLECT_SET"):
        uniq = name == "COLLECT_SET"

        def cadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if uniq and v in s:
                return s
            return [*s, v]

        def cundo(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            out = list(s)
            if v in out:
                out.remove(v)
            return out

        return Aggregator(T.array_of(t), list, cadd, lambda s: list(s), cundo)
    if name == "SUM_LIST":
        if t.base != T.ARRAY or t.item is None or not t.item.is_numeric:
            raise KsqlStatementError(f"Function 'SUM_LIST' does not accept parameters ({t}).")
        lzero: Any = 0.0 if t.item.base == T.DOUBLE else 0

        def ladd_list(s: Any, r: Sequence[Any]) -> Any:
            xs = f(r)
            return s if xs is None else s + sum(x for x in xs if x is not None)

        def lundo_list(s: Any, r: Sequence[Any]) -> Any:
            xs = f(r)
            return s if xs is None else s - sum(x for x in xs if x is not None)

        return Aggregator(t.item, lambda: lzero, ladd_list, lambda s: s, lundo_list)
    if name in ("TOPK", "TOPKDISTINCT"):
        if len(args) != 2 or not args[1].const or not isinstance(args[1].value, int):
            raise KsqlStatementError(f"Function '{name}' does not accept parameters.")
        k = int(args[1].value)
        distinct = name == "TOPKDISTINCT"

        def tadd(s: Any, r: Sequence[Any]) -> Any:
            v = f(r)
            if v is None or (distinct and v in s):
                return s
            return sorted([*s, v], reverse=True)[:k]

        return Aggregator(T.array_of(t), list, tadd, lambda s: list(s), _no_undo(name))
    raise KsqlUnsupportedError(f"Aggregate function {name} is not supported by the embedded engine")


# ----------------------------------------------------------------------------- utils


def _adder(t: T.SqlType) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """Add/subtract for a SUM/AVG accumulator: DECIMALs in the engine's own decimal context."""
    if t.base == T.DECIMAL:
        return T.DECIMAL_CONTEXT.add, T.DECIMAL_CONTEXT.subtract
    return operator.add, operator.sub


_DECODE_ERRORS = (SerdeError, KsqlProcessingError, ValueError, TypeError, UnicodeDecodeError)


def _decode_or_log(
    read: Callable[[InRecord], tuple[list[Any], bool]],
    log: Callable[[str, str, InRecord | None], None],
    rec: InRecord,
) -> tuple[list[Any], bool] | None:
    """Decode a record; one that does not decode goes to the processing log (None)."""
    try:
        return read(rec)
    except _DECODE_ERRORS as exc:
        log(
            "DESERIALIZATION_ERROR",
            f"Failed to deserialize value from topic: {rec.topic}. {exc}",
            rec,
        )
        return None


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _json_ready(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [_json_ready(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_ready(x) for k, x in v.items()}
    return v


def _ts_parser(fmt: str | None) -> Callable[[Any], int | None]:
    if fmt is None:

        def as_ms(v: Any) -> int | None:
            if v is None:
                return None
            if isinstance(v, int):
                return v
            raise KsqlProcessingError(f"Timestamp column value is not a BIGINT: {v!r}")

        return as_ms
    import datetime as dt

    py = java_pattern_to_strftime(fmt)

    def parse(v: Any) -> int | None:
        if v is None:
            return None
        try:
            d = dt.datetime.strptime(str(v), py)
        except ValueError as exc:
            raise KsqlProcessingError(
                f"Failed to parse timestamp '{v}' with format '{fmt}': {exc}"
            ) from None
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.UTC)
        return int(d.timestamp() * 1000)

    return parse


def timestamp_extractor(
    src: DataSource, column: str, fmt: str | None
) -> Callable[[list[Any]], int | None]:
    names = [c.name for c in src.key_columns] + [c.name for c in src.value_columns]
    if column not in names:
        raise KsqlStatementError(
            f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
        )
    idx = names.index(column)
    col = src.column(column)
    assert col is not None
    if col.type.base not in (T.BIGINT, T.TIMESTAMP) and not (col.type.base == T.STRING and fmt):
        raise KsqlStatementError(
            f"Timestamp column, `{column}`, should be LONG(INT64), TIMESTAMP, or a String with a "
            "timestamp_format specified."
        )
    parse = _ts_parser(fmt if col.type.base == T.STRING else None)
    return lambda row: parse(row[idx])
