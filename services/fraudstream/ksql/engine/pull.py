"""Pull queries: `SELECT ... FROM t [WHERE ...] [LIMIT n]` (no EMIT) answered from a table's
current state, or from a scan of a stream's topic, as ksqlDB answers them.

Planning (`plan_pull`) checks the statement with ksqlDB's pull-query rules and messages
(`PullQueryValidator`), picks how rows are found (the plan's access step):

- `KeyLookupNode`: every disjunct of the WHERE clause fixes every key column to literals
  (`=`, `IN`): one dict lookup per key in the table's `MaterializedTable`;
- `TableScanNode`: anything else (range bounds on a key, predicates on value columns, no
  WHERE at all): a snapshot of the whole store (ksqlDB's `ksql.query.pull.table.scan.enabled`;
  with it off, the statements ksqlDB refuses are refused with its messages);
- `TopicScanNode`: a stream, or a source table (`CREATE SOURCE TABLE`): the caller reads the
  topic from its start to its end offsets and passes the records (a source table keeps the
  latest record of each key).

and compiles filter + projection once, by planning the same SELECT as a push query over the
source (so types, functions, pseudo columns and errors are the push query's). The WHERE clause
is always applied to the rows the access step returns, so a key lookup and a scan give the
same rows; the access step only decides how many rows are read. `PullQuery.execute()` runs
the plan: one method per step kind.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, cast_function
from fraudstream.ksql.engine.formats import SchemaRegistryLike, make_serde
from fraudstream.ksql.engine.plan import (
    FilterNode,
    KeyLookupNode,
    LimitNode,
    PlanNode,
    ProjectNode,
    TableScanNode,
    TopicScanNode,
)
from fraudstream.ksql.engine.state import MaterializedTable
from fraudstream.ksql.engine.topology import (
    WINDOW_BOUNDS,
    Column,
    DataSource,
    InRecord,
    PersistentQuery,
    TransientQuery,
)
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = ["PullQuery", "PullResult", "plan_pull"]

DOC_LINK = "https://cnfl.io/queries"
SYNTAX_HELP = f" See {DOC_LINK} for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
DISALLOWED_COLUMNS = ("ROWPARTITION", "ROWOFFSET")
TABLE_SCAN = "ksql.query.pull.table.scan.enabled"
LIMIT_ENABLED = "ksql.query.pull.limit.clause.enabled"


@dataclass
class PullResult:
    """What a pull query answered: the rows (JSON-ready values, projection order)."""

    rows: list[list[Any]]


def _flag(props: Mapping[str, Any], name: str, default: bool) -> bool:
    v = props.get(name)
    return default if v is None else str(v).lower() == "true"


def validate(q: A.Query, props: Mapping[str, Any]) -> None:
    """ksqlDB's PullQueryValidator rules, in its order, with its messages."""
    rules = [
        (bool(q.joins), "Pull queries don't support JOIN clauses."),
        (q.window is not None, "Pull queries don't support WINDOW clauses."),
        (q.group_by is not None, "Pull queries don't support GROUP BY clauses."),
        (q.partition_by is not None, "Pull queries don't support PARTITION BY clauses."),
        (q.having is not None, "Pull queries don't support HAVING clauses."),
    ]
    for broken, message in rules:
        if broken:
            raise KsqlStatementError(message + SYNTAX_HELP)
    if q.limit is not None:
        if not _flag(props, LIMIT_ENABLED, True):
            raise KsqlStatementError(
                "LIMIT clause in pull queries is currently disabled. You can enable them by "
                f"setting {LIMIT_ENABLED}=true." + SYNTAX_HELP
            )
        if q.limit < 0:
            raise KsqlStatementError(
                "Pull queries don't support negative integers in the LIMIT clause." + SYNTAX_HELP
            )
    exprs = [it.expr for it in q.select if isinstance(it, A.SelectItem)]
    for clause, roots in (("SELECT", exprs), ("WHERE", [q.where] if q.where else [])):
        bad = [
            n.name
            for e in roots
            for n in A.walk(e)
            if isinstance(n, A.ColumnRef) and n.name in DISALLOWED_COLUMNS
        ]
        if bad:
            raise KsqlStatementError(
                f"Pull queries don't support the following columns in {clause} clauses: "
                + ", ".join(f"`{b}`" for b in bad)
                + "\n"
                + SYNTAX_HELP
            )


# ----------------------------------------------------------------------------- WHERE analysis


def _disjuncts(e: A.Expr) -> list[A.Expr]:
    if isinstance(e, A.Logical) and e.op == "OR":
        return _disjuncts(e.left) + _disjuncts(e.right)
    return [e]


def _conjuncts(e: A.Expr) -> list[A.Expr]:
    if isinstance(e, A.Logical) and e.op == "AND":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _has_column(e: A.Expr) -> bool:
    return any(isinstance(n, A.ColumnRef) for n in A.walk(e))


class KeyResolver:
    """Literals compared with key columns -> values of the key column's type (ksqlDB's
    strict coercion: widening only), with ksqlDB's errors."""

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.compiler = ExpressionCompiler(Scope([]), "WHERE")

    def resolve(self, e: A.Expr, col: Column, hint: A.Expr) -> Any:
        c = self.compiler.compile(e)
        v = c.fn(())
        if v is None:
            raise KsqlStatementError(
                f"Primary key columns can not be NULL: {A.format_expr(hint)}"
            )
        if c.type == col.type:
            return v
        shown = f"'{v}'" if isinstance(v, str) else str(v)
        failure = KsqlStatementError(
            f"{shown} can not be converted to the type of the key column: "
            f"{col.name} {col.type} KEY"
        )
        if not T.can_implicitly_cast(c.type, col.type):
            raise failure
        try:
            return cast_function(c.type, col.type, A.format_expr(e))(v)
        except (KsqlProcessingError, KsqlStatementError):
            raise failure from None


def key_lookups(
    where: A.Expr | None, source: DataSource, props: Mapping[str, Any]
) -> list[tuple[Any, ...]] | None:
    """The keys to look up when every disjunct of WHERE fixes every key column to literals
    (`k = x`, `k IN (...)`); None when the query needs a table scan. With table scans
    disabled, a WHERE clause ksqlDB refuses is refused with its message."""
    keys = source.key_columns
    if where is None or not keys:
        if where is None and not _flag(props, TABLE_SCAN, True):
            raise KsqlStatementError(_where_help("WHERE clause missing key column", source))
        return None
    by_name = {c.name: c for c in keys}
    resolver = KeyResolver(source)
    scan_enabled = _flag(props, TABLE_SCAN, True)
    out: list[tuple[Any, ...]] = []
    needs_scan = False
    for disjunct in _disjuncts(where):
        fixed: dict[str, list[Any]] = {}
        for conj in _conjuncts(disjunct):
            values = _key_values(conj, by_name, resolver)
            if values is None:
                continue
            name, vals = values
            if name in fixed:
                if not scan_enabled:
                    raise KsqlStatementError(
                        _where_help(
                            "A comparison condition on the key column cannot be combined with "
                            "other comparisons such as an IN predicate",
                            source,
                        )
                    )
                needs_scan = True
                continue
            fixed[name] = vals
        if len(fixed) != len(keys):
            if not scan_enabled:
                _refuse_without_scan(disjunct, fixed, source)
            needs_scan = True
            continue
        combos: list[tuple[Any, ...]] = [()]
        for c in keys:
            combos = [(*k, v) for k in combos for v in fixed[c.name]]
        out.extend(combos)
    if needs_scan:
        return None
    return out


def _key_values(
    e: A.Expr, keys: Mapping[str, Column], resolver: KeyResolver
) -> tuple[str, list[Any]] | None:
    """(key column, literal values) when `e` is `key = literal` or `key IN (literals)`."""
    if isinstance(e, A.Comparison) and e.op == "=":
        col_side, other = (
            (e.left, e.right) if isinstance(e.left, A.ColumnRef) else (e.right, e.left)
        )
        if isinstance(col_side, A.ColumnRef) and col_side.name in keys and not _has_column(other):
            return col_side.name, [resolver.resolve(other, keys[col_side.name], e)]
        return None
    if (
        isinstance(e, A.InList)
        and not e.negated
        and isinstance(e.expr, A.ColumnRef)
        and e.expr.name in keys
        and not any(_has_column(i) for i in e.items)
    ):
        col = keys[e.expr.name]
        return col.name, [
            resolver.resolve(i, col, A.Comparison("=", e.expr, i)) for i in e.items
        ]
    return None


def _refuse_without_scan(disjunct: A.Expr, fixed: Mapping[str, Any], source: DataSource) -> None:
    """ksqlDB's refusals when table scans are disabled and a disjunct does not fix the key."""
    keys = {c.name for c in source.key_columns}
    refs = [n.name for n in A.walk(disjunct) if isinstance(n, A.ColumnRef)]
    if not any(r in keys for r in refs):
        raise KsqlStatementError(
            _where_help(f"WHERE clause missing key column for disjunct: {A.format_expr(disjunct)}", source)
        )
    if fixed:
        raise KsqlStatementError(
            _where_help("Multi-column sources must specify every key in the WHERE clause", source)
        )
    raise KsqlStatementError(
        _where_help(
            f"Bound on key columns '[{', '.join(f'`{c.name}` {c.type} KEY' for c in source.key_columns)}]' "
            "must currently be '='",
            source,
        )
    )


def _where_help(message: str, source: DataSource) -> str:
    """ksqlDB's invalidWhereClauseException text (its first line is what users read)."""
    extra = ""
    if source.window is not None:
        extra = (
            "\n - (optionally) limits the time bounds of the windowed table."
            "\n\t Bounds on [WINDOWSTART, WINDOWEND] are supported"
            "\n\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, "
            "LESS_THAN, LESS_THAN_OR_EQUAL]"
        )
    return (
        f"{message}.{SYNTAX_HELP}\nPull queries require a WHERE clause that:"
        "\n - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`."
        "\n - in the case of a multi-column key, is a conjunction of equality expressions that "
        "cover all key columns."
        "\n - to support range expressions, e.g.,  SELECT * FROM X WHERE <key-column> < Y;`, "
        "range scans need to be enabled by setting ksql.query.pull.range.scan.enabled=true"
        f"{extra}"
        "\nIf more flexible queries are needed, , table scans can be enabled by setting "
        f"{TABLE_SCAN}=true."
    )


# ----------------------------------------------------------------------------- the query


class PullQuery:
    """A planned pull query. `plan` is printable (EXPLAIN); `execute()` answers it once.

    `scan_topic` names the topic the caller must read (start to end) and pass to
    `execute(records=...)`; it is None when the rows come from a materialized table.
    """

    def __init__(
        self,
        query_id: str,
        statement_text: str,
        source: DataSource,
        plan: PlanNode,
        rows: TransientQuery,
        schema: list[Column],
        limit: int | None,
        store: MaterializedTable | None,
        keys: list[bytes] | None,
    ) -> None:
        self.id = query_id
        self.statement_text = statement_text
        self.source = source
        self.plan = plan
        self.schema = schema
        self.limit = limit
        self._rows = rows
        self._store = store
        self._keys = keys

    @property
    def scan_topic(self) -> str | None:
        return self.source.topic if self._store is None else None

    def header_schema(self) -> str:
        """The header row's schema as ksqlDB prints it (key columns marked KEY)."""
        return ", ".join(
            f"`{c.name}` {c.type}{' KEY' if c.namespace == 'KEY' else ''}" for c in self.schema
        )

    def execute(self, records: Iterable[InRecord] | None = None) -> PullResult:
        """Run the plan: the access step's records, then filter + projection, then LIMIT."""
        node = self.plan
        limit: int | None = None
        while not isinstance(node, KeyLookupNode | TableScanNode | TopicScanNode):
            if isinstance(node, LimitNode):
                limit = node.limit
            node = node.inputs[0]
        if isinstance(node, KeyLookupNode):
            found = self.key_lookup(node)
        elif isinstance(node, TableScanNode):
            found = self.table_scan(node)
        else:
            found = self.topic_scan(node, records)
        return PullResult(self.filter_project(found, limit))

    # one method per access step kind
    def key_lookup(self, node: KeyLookupNode) -> list[InRecord]:
        store = self._store
        assert store is not None and self._keys is not None
        seen: set[bytes] = set()
        out: list[InRecord] = []
        for kb in self._keys:
            for k, v, ts in store.lookup(kb):
                if k not in seen:
                    seen.add(k)
                    out.append(InRecord(self.source.topic, k or None, v, ts))
        return out

    def table_scan(self, node: TableScanNode) -> list[InRecord]:
        store = self._store
        assert store is not None
        return [
            InRecord(self.source.topic, k or None, v, ts) for k, v, ts in sorted(store.snapshot())
        ]

    def topic_scan(self, node: TopicScanNode, records: Iterable[InRecord] | None) -> list[InRecord]:
        if records is None:
            raise KsqlStatementError(f"pull query over {self.source.name}: no records of its topic")
        if not node.latest_per_key:
            return [r for r in records if r.value is not None]
        latest: dict[bytes | None, InRecord] = {}
        for r in records:
            if r.value is None:
                latest.pop(r.key, None)
            else:
                latest.pop(r.key, None)
                latest[r.key] = r
        return list(latest.values())

    def filter_project(self, found: Iterable[InRecord], limit: int | None) -> list[list[Any]]:
        out: list[list[Any]] = []
        if limit == 0:
            return out
        tq = self._rows
        for rec in found:
            for row in tq.process_rows(rec):
                if not row.tombstone:
                    out.append(row.values)
                    if limit is not None and len(out) >= limit:
                        return out
        return out


def materializing_query(
    source: DataSource, queries: Mapping[str, Any]
) -> PersistentQuery | None:
    for q in queries.values():
        if (
            isinstance(q, PersistentQuery)
            and q.sink_name == source.name
            and q.materialized is not None
        ):
            return q
    return None


def plan_pull(
    stmt: A.QueryStatement,
    *,
    sources: Mapping[str, DataSource],
    queries: Mapping[str, Any],
    registry: SchemaRegistryLike | None,
    properties: Mapping[str, Any],
) -> PullQuery:
    """Plan one pull query (ksqlDB's checks and errors first; see the module doc)."""
    from fraudstream.ksql.engine.planner import Planner, source_node

    q = stmt.query
    validate(q, properties)
    src = sources.get(q.source.name)
    if src is None:
        raise KsqlStatementError(f"{q.source.name} does not exist.")
    owner = materializing_query(src, queries) if src.kind == "TABLE" else None
    if src.kind == "TABLE" and owner is None and not src.is_source:
        raise KsqlStatementError(
            f"The `{src.name}` table isn't queryable. To derive a queryable table, you can do "
            f"'CREATE TABLE QUERYABLE_{src.name} AS SELECT * FROM {src.name}'. See {DOC_LINK} "
            "for more info."
        )
    qid = "query_" + "".join(random.choices(string.digits, k=13))
    planner = Planner(
        sources=sources,
        registry=registry,
        properties=properties,
        query_id=qid,
        statement_text=stmt.text,
        sink_name=None,
        sink_topic=None,
        sink_kind=None,
        sink_props={},
    )
    # filter + projection: the same SELECT planned as a push query (types, errors, functions)
    planned = planner.plan(replace(q, emit="CHANGES", limit=None), transient=True)
    rows = planned.query
    assert isinstance(rows, TransientQuery)
    key_names = {c.name for c in src.key_columns}
    if src.window is not None:
        key_names |= set(WINDOW_BOUNDS)
    schema = [
        Column(c.name, c.type, "KEY" if _is_key_ref(it.expr, key_names) else "VALUE")
        for c, it in zip(rows.schema, planner.items, strict=True)
    ]
    access: PlanNode
    store = owner.materialized if owner is not None else None
    keys: list[bytes] | None = None
    scan = source_node(planner.bound[0])
    if store is None:
        access = TopicScanNode(src.name, src.kind, src.topic, latest_per_key=src.kind == "TABLE")
    else:
        lookups = key_lookups(q.where, src, properties)
        if lookups is None:
            access = TableScanNode(src.name, owner.id if owner else "", inputs=[scan])
        else:
            kser = make_serde(
                src.key_format,
                [(c.name, c.type) for c in src.key_columns],
                src.topic,
                True,
                registry,
            )
            try:
                keys = [kser.serialize(list(k)) or b"" for k in lookups]
            except SerdeError as exc:
                raise KsqlStatementError(f"Failed to serialize the lookup key: {exc}") from exc
            access = KeyLookupNode(
                src.name,
                [", ".join(A.format_expr(A.Literal(v, "")) for v in k) for k in lookups],
                inputs=[scan],
            )
    node: PlanNode = access
    if q.where is not None:
        node = FilterNode(A.format_expr(q.where), inputs=[node])
    node = ProjectNode(
        [f"{A.format_expr(it.expr)} AS {it.name}" for it in planner.items],
        inputs=[node],
        schema=schema,
    )
    if q.limit is not None:
        node = LimitNode(q.limit, inputs=[node])
    return PullQuery(qid, stmt.text, src, node, rows, schema, q.limit, store, keys)


def _is_key_ref(e: A.Expr, key_names: set[str]) -> bool:
    return isinstance(e, A.ColumnRef) and e.name in key_names
