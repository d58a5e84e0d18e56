"""Query planner: a parsed SELECT + the metastore -> a printable operator plan and the
runnable query (operators wired to its source topics).

Handles the shapes of the supported subset: stateless projection/filter over a stream or
table, PARTITION BY, stream-table / stream-stream (WITHIN) / table-table joins, and
GROUP BY aggregates (optionally TUMBLING/HOPPING windowed). Names, key selection and
error messages follow ksqlDB's (old) query planner; the checks themselves live in
`analyzer`, the per-record work in `operators`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fraudstream.ksql.engine import analyzer, messages
from fraudstream.ksql.engine import table_functions as udtf
from fraudstream.ksql.engine.binding import (
    BoundSource,
    OutputColumn,
    converted,
    map_children,
    refs,
    strip_pos,
)
from fraudstream.ksql.engine.expressions import (
    AGGREGATE_NAMES,
    Compiled,
    ExpressionCompiler,
    Scope,
    ScopeColumn,
    cast_function,
)
from fraudstream.ksql.engine.formats import FormatSpec, SchemaRegistryLike, make_serde
from fraudstream.ksql.engine.formats.timestamps import timestamp_extractor
from fraudstream.ksql.engine.operators.aggregate import AggregateOperator, WindowSpec
from fraudstream.ksql.engine.operators.aggregates import Aggregator, make_aggregator
from fraudstream.ksql.engine.operators.flatmap import FlatMapOperator, TableFunctionCall
from fraudstream.ksql.engine.operators.join import JoinShape
from fraudstream.ksql.engine.operators.select import SelectOperator
from fraudstream.ksql.engine.operators.sink import TransientSink
from fraudstream.ksql.engine.operators.stream_stream_join import (
    DEFAULT_GRACE_MS,
    StreamStreamJoin,
)
from fraudstream.ksql.engine.operators.stream_table_join import StreamTableJoin
from fraudstream.ksql.engine.operators.table_table_join import TableTableJoin
from fraudstream.ksql.engine.plan import (
    AggregateNode,
    FilterNode,
    FlatMapNode,
    PartitionByNode,
    PlanNode,
    ProjectNode,
    SinkNode,
    SourceNode,
    StreamStreamJoinNode,
    StreamTableJoinNode,
    TableTableJoinNode,
)
from fraudstream.ksql.engine.projection import Projection
from fraudstream.ksql.engine.sinks import build_sink, sink_formats
from fraudstream.ksql.engine.state import MaterializedTable
from fraudstream.ksql.engine.topology import (
    BaseQuery,
    Column,
    DataSource,
    InRecord,
    PersistentQuery,
    SourceReader,
    TransientQuery,
    WindowInfo,
)
from fraudstream.ksql.errors import KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = ["PlannedQuery", "Planner"]


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
    plan: PlanNode | None = None


def _window_text(w: WindowInfo | A.Window | None) -> str | None:
    if w is None:
        return None
    return f"{w.type} {w.size} ms" if w.size is not None else w.type


def source_node(b: BoundSource) -> SourceNode:
    """The plan step reading one bound source."""
    s = b.source
    return SourceNode(
        s.name,
        s.kind,
        s.topic,
        b.alias,
        s.key_format.name,
        s.value_format.name,
        _window_text(s.window),
        schema=s.key_columns + s.value_columns,
    )


_UDTF_COLUMN = "\x00UDTF_"  # no SQL identifier can name it


def _table_function_calls(e: A.Expr) -> list[A.FunctionCall]:
    return [
        n for n in A.walk(e) if isinstance(n, A.FunctionCall) and n.name in udtf.TABLE_FUNCTIONS
    ]


def has_aggregates(items: list[OutputColumn], q: A.Query) -> bool:
    """Whether the projection or HAVING calls an aggregate function (then it aggregates)."""
    exprs = [i.expr for i in items] + ([q.having] if q.having else [])
    return any(
        isinstance(n, A.FunctionCall) and n.name in AGGREGATE_NAMES
        for e in exprs
        for n in A.walk(e)
    )


class Planner:
    """Plans one query. `sink_name` is None for transient queries."""

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
        self.items: list[OutputColumn] = []  # the expanded projection (pull queries read it)

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
        analyzer.reject_unimplemented(q)
        if q.emit == "FINAL" and q.window is None:
            raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")
        analyzer.reject_session_windows(q)
        left_src = self._source(q.source)
        bound = [BoundSource(left_src, q.source.alias or left_src.name, 0)]
        analyzer.reject_multi_way_joins(q)
        for j in q.joins:
            rsrc = self._source(j.right)
            bound.append(
                BoundSource(rsrc, j.right.alias or rsrc.name, bound[-1].offset + bound[-1].width)
            )
        analyzer.check_self_join(bound)
        if not transient and any(b.source.kind == "TABLE" and b.source.window for b in bound):
            raise KsqlStatementError("KSQL does not support persistent queries on windowed tables.")
        cols: list[ScopeColumn] = []
        for b in bound:
            cols.extend(b.scope_columns())
        scope = Scope(cols, [b.alias for b in bound])
        if len(bound) == 1:
            # a single source may also be qualified by its own name
            scope.sources = [bound[0].alias, bound[0].source.name]
            for c in list(scope.columns):
                scope.by_qual[(bound[0].source.name, c.name)] = c
        analyzer.check_qualifiers(q, scope.sources)
        for b in bound:
            b.reader = self._reader(b)
        self.bound = bound
        self.scope = scope
        self.transient = transient
        self._synthetic = self._synthetic_key(q, bound) if len(bound) == 2 else None
        self.projection = Projection(
            scope,
            bound,
            transient=transient,
            sink_name=self.sink_name,
            synthetic_key=self._synthetic,
        )
        items = self.projection.expand(q)
        self.items = items
        if not transient:
            analyzer.check_reserved_output_names(q, items)
            analyzer.check_sink_timestamp_column(self.sink_props, items)
        is_join = len(bound) == 2
        if is_join:
            analyzer.check_join_formats(bound)
        where = None
        if q.where is not None:
            wc = ExpressionCompiler(scope, "WHERE").compile_clause(q.where)
            analyzer.check_where_type(q.where, wc)
            where = wc.fn
        aggregating = q.group_by is not None or has_aggregates(items, q)
        if any(_table_function_calls(it.expr) for it in items):
            if aggregating:
                raise KsqlStatementError("Table functions cannot be used with aggregations.")
            if is_join:
                raise KsqlUnsupportedError(messages.not_supported("table functions over a join"))
        analyzer.check_clauses(q, is_join, aggregating)
        if aggregating:
            return self._plan_aggregate(q, items, where)
        if is_join:
            return self._plan_join(q, q.joins[0], items, where)
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
            return None  # reported by the join analysis with ksqlDB's message
        taken = {c.name for b in bound for c in b.source.columns}
        name, n = "ROWKEY", 0
        while name in taken:
            n += 1
            name = f"ROWKEY_{n}"
        col = ScopeColumn(name, t, None, bound[-1].offset + bound[-1].width, "KEY")
        self.scope.columns.append(col)
        self.scope.by_name.setdefault(name, []).append(col)
        return name

    def _compile_items(
        self,
        items: list[OutputColumn],
        compiler: ExpressionCompiler,
        exprs: list[A.Expr] | None = None,
    ) -> None:
        """Compile each item (or, when given, the rewritten expression standing for it)."""
        for i, it in enumerate(items):
            try:
                it.compiled = compiler.compile(it.expr if exprs is None else exprs[i])
            except KsqlStatementError as exc:
                if str(exc).startswith("Cast of") and not isinstance(exc, KsqlUnsupportedError):
                    raise KsqlStatementError(f"Invalid Select: {exc}") from None
                raise
            if it.compiled.type.base == T.NULL:
                raise KsqlStatementError(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )

    def _new_query(
        self, source_topics: list[str], schema: list[Column], limit: int | None
    ) -> BaseQuery:
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
        upstream: PlanNode,
        window: WindowInfo | None = None,
    ) -> tuple[PlannedQuery, Callable[..., Any]]:
        """The result schema, the query object, the sink and the PROJECT/SINK plan nodes."""
        if self.existing_sink is not None and not self.transient:
            self._widen_to_sink(items, key_idx)
        key_cols = [Column(items[i].name, items[i].compiled.type, "KEY") for i in key_idx]  # type: ignore[union-attr]
        value_items = [it for i, it in enumerate(items) if i not in key_idx]
        value_cols = [Column(it.name, it.compiled.type, "VALUE") for it in value_items]  # type: ignore[union-attr]
        if not self.transient:
            analyzer.check_result_columns(key_cols, value_cols)
        schema = key_cols + value_cols
        topics = [b.source.topic for b in self.bound]
        emitter: Callable[..., Any]
        if self.transient:
            schema = [
                Column(it.name, it.compiled.type, "KEY" if i in key_idx else "VALUE")  # type: ignore[union-attr]
                for i, it in enumerate(items)
            ]
            q = self._new_query(topics, schema, limit)
            fns = [it.compiled.fn for it in items]  # type: ignore[union-attr]
            emitter = TransientSink(fns, self._log).emit
            kf, vf = base.key_format, base.value_format
        else:
            q = self._new_query(topics, schema, limit)
            kf, vf = sink_formats(
                self.existing_sink,
                self.sink_props,
                self.properties,
                key_cols,
                base,
                partition_null=self._partition_null,
            )
            if self.existing_sink is not None:
                analyzer.check_insert_schema(self.existing_sink, key_cols, value_cols)
            table = None
            if self.sink_kind == "TABLE" and isinstance(q, PersistentQuery):
                # a CTAS: keep its rows for pull queries (a state store: changelog, restore)
                suffix = 0 if window is None else 16 if window.type == "SESSION" else 8
                table = q.materialized = MaterializedTable("materialized", suffix)
                q.state_stores.extend((table, table.meta))
            emitter = build_sink(
                topic=self.sink_topic or "",
                items=items,
                key_idx=key_idx,
                key_cols=key_cols,
                value_cols=value_cols,
                key_format=kf,
                value_format=vf,
                window=window,
                registry=self.registry,
                timestamp_props=None if self.existing_sink is not None else self.sink_props,
                passthrough_null_key=not self._partition_null and self._key_passthrough,
                log=self._log,
                table=table,
            ).emit
        partitions = int(
            self.sink_props.get("PARTITIONS") or max(b.source.partitions for b in self.bound)
        )
        project = ProjectNode(
            [f"{A.format_expr(it.expr)} AS {it.name}" for it in items],
            inputs=[upstream],
            schema=schema,
        )
        sink = SinkNode(
            self.sink_name,
            kind,
            None if self.transient else self.sink_topic,
            kf.name,
            vf.name,
            _window_text(window),
            inputs=[project],
            schema=schema,
        )
        q.plan = sink
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
            sink,
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
                it.compiled = Compiled(col.type, converted(c.fn, conv))

    # ------------------------------------------------------------------ single source
    def _plan_single(
        self, q: A.Query, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        b = self.bound[0]
        src = b.source
        is_table = src.kind == "TABLE"
        flat = self._table_functions(items)
        if flat is None:
            self._compile_items(items, ExpressionCompiler(self.scope, "SELECT"))
        node: PlanNode = source_node(b)
        if q.where is not None:
            node = FilterNode(A.format_expr(q.where), inputs=[node])
        if flat is not None:
            if is_table:
                raise KsqlStatementError("Table source is not supported with table functions")
            node = FlatMapNode([name for name, _, _ in flat], inputs=[node])
        if q.partition_by is not None:
            if analyzer.check_partition_by(q, self.scope, is_table):
                key_idx: list[int] = []
                self._partition_null = True
            else:
                pcomp = ExpressionCompiler(self.scope, "PARTITION BY")
                for e in q.partition_by:
                    pcomp.compile(e)
                key_idx = self.projection.pick_keys(
                    items, list(q.partition_by), "partitioning expression"
                )
            node = PartitionByNode(
                [A.format_expr(e) for e in q.partition_by if not self._partition_null],
                inputs=[node],
            )
        else:
            self._key_passthrough = True
            key_exprs: list[A.Expr] = [A.ColumnRef(c.name, b.alias) for c in src.key_columns]
            if self.transient or not key_exprs:
                key_idx = []
            else:
                key_idx = self.projection.pick_keys(items, key_exprs, "key column")
        kind = "TABLE" if is_table else "STREAM"
        planned, emit = self._finish(
            items, key_idx, src, kind, q.limit, node, src.window if not self.transient else None
        )
        assert b.reader is not None
        if flat is not None:
            emit = FlatMapOperator(flat, b.offset + b.width, emit, self._log).emit
        op = SelectOperator(
            read=b.reader.read,
            log=self._log,
            emit=emit,
            where=where,
            is_table=is_table,
            key_count=len(src.key_columns),
            rowtime_index=b.rowtime_index,
            source_windowed=src.window is not None,
            windowed_output=src.window is not None and not self.transient,
            track_shown=is_table and self.transient,
            drop_stream_tombstones=where is not None or self.transient,
            tombstone_keys=self._tombstone_keys(q, items, key_idx),
        )
        self._register(src.topic, op.on_record)
        if self.transient:
            assert isinstance(planned.query, TransientQuery)
            planned.query.is_table = is_table
        return planned

    def _table_functions(self, items: list[OutputColumn]) -> list[TableFunctionCall] | None:
        """The SELECT's table-function calls, resolved, each replaced in the items by a
        synthetic column appended to the row (the flat-map fills it); the items are compiled
        here. None (nothing compiled) when the SELECT has no table function."""
        calls: list[A.FunctionCall] = []

        def rewrite(e: A.Expr) -> A.Expr:
            if isinstance(e, A.FunctionCall) and e.name in udtf.TABLE_FUNCTIONS:
                calls.append(e)
                return A.ColumnRef(f"{_UDTF_COLUMN}{len(calls) - 1}")
            if isinstance(e, A.ColumnRef | A.Literal | A.IntervalUnit):
                return e
            return map_children(e, rewrite)

        exprs = [rewrite(it.expr) for it in items]
        if not calls:
            return None
        b = self.bound[0]
        base = b.offset + b.width
        compiler = ExpressionCompiler(self.scope, "SELECT")
        resolved: list[TableFunctionCall] = []
        for i, call in enumerate(calls):
            if any(_table_function_calls(a) for a in call.args):
                raise KsqlUnsupportedError(messages.not_supported("nested table functions"))
            args = [compiler.compile(a) for a in call.args]
            fn = udtf.resolve(call.name, [a.type for a in args])
            col = ScopeColumn(f"{_UDTF_COLUMN}{i}", fn.type, None, base + i, "VALUE")
            self.scope.columns.append(col)
            self.scope.by_name.setdefault(col.name, []).append(col)
            resolved.append((A.format_expr(call), [a.fn for a in args], fn.apply))
        self._compile_items(items, compiler, exprs)
        return resolved

    def _tombstone_keys(
        self, q: A.Query, items: list[OutputColumn], key_idx: list[int]
    ) -> list[Callable[[Sequence[Any]], Any]] | None:
        """After PARTITION BY, tombstones keep key columns; any other expression gives NULL."""
        if q.partition_by is None or not key_idx:
            return None
        fns: list[Callable[[Sequence[Any]], Any]] = []
        for i in key_idx:
            e = items[i].expr
            if all(self.scope.resolve(r, "PARTITION BY").namespace == "KEY" for r in refs(e)):
                fns.append(items[i].compiled.fn)  # type: ignore[union-attr]
            else:
                fns.append(lambda r: None)
        return fns

    # ------------------------------------------------------------------ joins
    def _plan_join(
        self, q: A.Query, join: A.Join, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        lb, rb = self.bound
        ls, rs = lb.source, rb.source
        crit = analyzer.analyze_join(self.scope, self.bound, join)
        self._compile_items(items, ExpressionCompiler(self.scope, "SELECT"))
        repartition = q.partition_by is not None
        key_idx = self._join_key_index(q, items, crit)
        kind = "TABLE" if ls.kind == "TABLE" and rs.kind == "TABLE" else "STREAM"
        windowed_output = crit.windowed and not self.transient
        node = self._join_node(q, join, crit)
        planned, emit = self._finish(
            items, key_idx, ls, kind, q.limit, node, ls.window if windowed_output else None
        )
        if windowed_output:
            planned.window = ls.window
        assert lb.reader is not None and rb.reader is not None
        shape = JoinShape(
            read_left=lb.reader.read,
            read_right=rb.reader.read,
            left_key=crit.left_compiled.fn,
            right_key=crit.right_compiled.fn,
            left_width=lb.width,
            right_width=rb.width,
            left_rowtime=lb.rowtime_index,
            right_rowtime=rb.rowtime_index,
            join_type=join.type,
            windowed=crit.windowed,
            windowed_output=windowed_output,
            key_from_join=not (self.transient or repartition),
            left_keyed=bool(ls.key_columns),
            right_keyed=bool(rs.key_columns),
        )
        if ls.kind == "STREAM" and rs.kind == "TABLE":
            st = StreamTableJoin(shape, emit=emit, log=self._log, where=where)
            self._register(ls.topic, st.on_stream)
            self._register(rs.topic, st.on_table)
        elif ls.kind == "STREAM" and rs.kind == "STREAM":
            assert join.within is not None
            ss = StreamStreamJoin(
                shape,
                before=join.within[0],
                after=join.within[1],
                grace=join.grace,
                emit=emit,
                log=self._log,
                where=where,
            )
            self._register(ls.topic, ss.on_left)
            self._register(rs.topic, ss.on_right)
        else:
            tt = TableTableJoin(shape, emit=emit, log=self._log, where=where)
            if not self.transient and self.query is not None:
                self.query.state_stores.extend(tt.state_stores)
            self._register(ls.topic, tt.on_left)
            self._register(rs.topic, tt.on_right)
        return planned

    def _join_node(self, q: A.Query, join: A.Join, crit: analyzer.JoinCriteria) -> PlanNode:
        lb, rb = self.bound
        args = (join.type, A.format_expr(crit.left), A.format_expr(crit.right))
        inputs: list[PlanNode] = [source_node(lb), source_node(rb)]
        node: PlanNode
        if lb.source.kind == "STREAM" and rb.source.kind == "TABLE":
            node = StreamTableJoinNode(*args, inputs=inputs)
        elif lb.source.kind == "STREAM":
            before, after = join.within or (0, 0)
            node = StreamStreamJoinNode(*args, before, after, join.grace, inputs=inputs)
        else:
            node = TableTableJoinNode(*args, inputs=inputs)
        if q.where is not None:
            node = FilterNode(A.format_expr(q.where), inputs=[node])
        if q.partition_by:
            node = PartitionByNode([A.format_expr(e) for e in q.partition_by], inputs=[node])
        return node

    def _join_key_index(
        self, q: A.Query, items: list[OutputColumn], crit: analyzer.JoinCriteria
    ) -> list[int]:
        """The projection item carrying the join's result key (ksqlDB's rules)."""
        syn = self._synthetic
        if self.transient:
            return []
        if q.partition_by is not None:
            pcomp = ExpressionCompiler(self.scope, "PARTITION BY")
            for e in q.partition_by:
                pcomp.compile(e)
            return self.projection.pick_keys(items, list(q.partition_by), "partitioning expression")
        if syn is not None:
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
            return key_idx
        cands: list[A.Expr] = [e for e in (crit.left, crit.right) if isinstance(e, A.ColumnRef)]
        return self.projection.pick_keys(
            items, [cands[0]], "join expression", alternatives=[[c] for c in cands[1:]]
        )

    # ------------------------------------------------------------------ aggregation
    def _plan_aggregate(
        self, q: A.Query, items: list[OutputColumn], where: Callable[..., Any] | None
    ) -> PlannedQuery:
        b = self.bound[0]
        src = b.source
        analyzer.check_grouping(q, self.transient)
        if q.group_by is None:
            # a push query aggregating the whole stream: one global group
            q.group_by = [A.Literal(1, "INTEGER")]
        gcomp = ExpressionCompiler(self.scope, "GROUP BY")
        group_fns = [gcomp.compile(e).fn for e in q.group_by]
        calls = self._aggregate_calls(items, q)
        if not calls:
            raise KsqlStatementError(
                "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."
            )
        sink_vf = str(self.sink_props.get("VALUE_FORMAT") or self.sink_props.get("FORMAT") or "")
        analyzer.check_aggregate_format(sink_vf.upper() or src.value_format.name, calls)
        aggs: list[Aggregator] = []
        for c in calls:
            args = [gcomp.compile(a) for a in c.args] if not c.star else []
            aggs.append(
                make_aggregator(
                    c.name,
                    args,
                    c.star,
                    src.kind == "TABLE",
                    texts=[A.format_expr(a) for a in c.args],
                    properties=self.properties,
                )
            )
        window = q.window
        post_scope = self._post_aggregate_scope(b, aggs, window is not None)
        call_slots = {strip_pos(c, self.scope): b.width + i for i, c in enumerate(calls)}
        acomp = AggregateCompiler(post_scope, "SELECT", self.scope, call_slots, aggs, b.width)
        analyzer.check_non_aggregates(items, q.group_by, self.scope)
        if q.emit == "FINAL":
            raise KsqlUnsupportedError(
                messages.not_supported(
                    "EMIT FINAL (ksqlDB emits closed windows on Kafka Streams' wall-clock "
                    "throttled emit-on-window-close schedule)"
                )
            )
        self._compile_items(items, acomp)
        having = None
        if q.having is not None:
            having = (
                AggregateCompiler(post_scope, "HAVING", self.scope, call_slots, aggs, b.width)
                .compile_clause(q.having)
                .fn
            )
        key_idx = (
            self.projection.pick_keys(items, list(q.group_by), "grouping expression")
            if not self.transient
            else []
        )
        winfo = WindowInfo(window.type, window.size) if window is not None else None
        node = self._aggregate_node(q, b, calls)
        planned, emit = self._finish(
            items, key_idx, src, "TABLE", q.limit, node, winfo if not self.transient else None
        )
        analyzer.check_hopping_advance(window)
        spec = None
        if window is not None:
            grace = window.grace if window.grace is not None else DEFAULT_GRACE_MS
            spec = WindowSpec(window.type, window.size, window.advance or window.size, grace)
        assert b.reader is not None
        op = AggregateOperator(
            read=b.reader.read,
            log=self._log,
            emit=emit,
            where=where,
            having=having,
            group_fns=group_fns,
            aggregators=aggs,
            input_width=b.width,
            rowtime_index=b.rowtime_index,
            window=spec,
            windowed_output=window is not None and not self.transient,
            table_source=src.kind == "TABLE",
            key_count=len(src.key_columns),
            transient=self.transient,
        )
        if not self.transient and self.query is not None:
            self.query.state_stores.extend(op.state_stores)
        self._register(src.topic, op.on_record)
        planned.window = winfo
        return planned

    def _aggregate_calls(self, items: list[OutputColumn], q: A.Query) -> list[A.FunctionCall]:
        """The distinct aggregate calls of the projection and HAVING, in order."""
        calls: list[A.FunctionCall] = []
        seen: list[A.Expr] = []
        for e in [it.expr for it in items] + ([q.having] if q.having else []):
            for n in A.walk(e):
                if isinstance(n, A.FunctionCall) and n.name in AGGREGATE_NAMES:
                    key = strip_pos(n, self.scope)
                    if key not in seen:
                        seen.append(key)
                        calls.append(n)
        return calls

    def _post_aggregate_scope(
        self, b: BoundSource, aggs: list[Aggregator], windowed: bool
    ) -> Scope:
        """The scope after aggregation: input columns, the window bounds, KSQL_AGG_i."""
        agg_base = b.width
        agg_cols = [
            ScopeColumn(f"KSQL_AGG_{i}", ag.type, None, agg_base + i, "AGG")
            for i, ag in enumerate(aggs)
        ]
        post_cols = [c for c in self.scope.columns if c.name not in ("WINDOWSTART", "WINDOWEND")]
        if windowed:
            wpos = agg_base + len(aggs)
            post_cols += [
                ScopeColumn("WINDOWSTART", T.T_BIGINT, b.alias, wpos, "WINDOW"),
                ScopeColumn("WINDOWEND", T.T_BIGINT, b.alias, wpos + 1, "WINDOW"),
            ]
        post_scope = Scope(post_cols + agg_cols, list(self.scope.sources))
        for pc in post_scope.columns:
            if pc.source:
                for sname in self.scope.sources:
                    post_scope.by_qual[(sname, pc.name)] = pc
        return post_scope

    def _aggregate_node(self, q: A.Query, b: BoundSource, calls: list[A.FunctionCall]) -> PlanNode:
        node: PlanNode = source_node(b)
        if q.where is not None:
            node = FilterNode(A.format_expr(q.where), inputs=[node])
        return AggregateNode(
            [A.format_expr(e) for e in q.group_by or []],
            [A.format_expr(c) for c in calls],
            _window_text(q.window),
            A.format_expr(q.having) if q.having is not None else None,
            inputs=[node],
        )


class AggregateCompiler(ExpressionCompiler):
    """Compiles over the post-aggregation row: an aggregate call reads its result slot."""

    def __init__(
        self,
        scope: Scope,
        clause: str,
        input_scope: Scope,
        call_slots: dict[A.Expr, int],
        aggs: list[Aggregator],
        agg_base: int,
    ) -> None:
        super().__init__(scope, clause)
        self.input_scope = input_scope
        self.call_slots = call_slots
        self.aggs = aggs
        self.agg_base = agg_base

    def _c_FunctionCall(self, e: A.FunctionCall) -> Compiled:
        if e.name in AGGREGATE_NAMES:
            slot = self.call_slots[strip_pos(e, self.input_scope)]
            t = self.aggs[slot - self.agg_base].type
            return Compiled(t, lambda r: r[slot])
        return super()._c_FunctionCall(e)
