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
from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, cast_function
from fraudstream.ksql.engine.formats import SchemaRegistryLike, make_serde
from fraudstream.ksql.engine.formats.kafka import default_partition
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
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

__all__ = ["PullQuery", "PullResult", "plan_pull"]

DOC_LINK = "https://cnfl.io/queries"
SYNTAX_HELP = (
    f" See {DOC_LINK} for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
)
DISALLOWED_COLUMNS = ("ROWPARTITION", "ROWOFFSET")
TABLE_SCAN = "ksql.query.pull.table.scan.enabled"
LIMIT_ENABLED = "ksql.query.pull.limit.clause.enabled"
RANGE_SCAN = "ksql.query.pull.range.scan.enabled"


@dataclass
class PullResult:
    """What a pull query answered: the rows (JSON-ready values, projection order) and, for a
    pull query over a stream, ksqlDB's closing message (`Query Completed`, `Limit Reached`)."""

    rows: list[list[Any]]
    final_message: str | None = None


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


def _rewrite(e: A.Expr) -> A.Expr:
    """ksqlDB's PullQueryRewriter: IN becomes ORed equalities, BETWEEN two bounds."""
    if isinstance(e, A.Logical):
        return A.Logical(e.op, _rewrite(e.left), _rewrite(e.right))
    if isinstance(e, A.InList) and not e.negated and e.items:
        eqs = [A.Comparison("=", e.expr, i) for i in e.items]
        out: A.Expr = eqs[0]
        for eq in eqs[1:]:
            out = A.Logical("OR", out, eq)
        return out
    if isinstance(e, A.Between) and not e.negated:
        return A.Logical(
            "AND", A.Comparison(">=", e.expr, e.low), A.Comparison("<=", e.expr, e.high)
        )
    return e


def _dnf(e: A.Expr) -> list[list[A.Expr]]:
    """The predicate as ORed conjunctions (each a list of atoms)."""
    if isinstance(e, A.Logical) and e.op == "OR":
        return _dnf(e.left) + _dnf(e.right)
    if isinstance(e, A.Logical) and e.op == "AND":
        return [a + b for a in _dnf(e.left) for b in _dnf(e.right)]
    return [[e]]


def _conj_text(atoms: list[A.Expr]) -> str:
    out = atoms[0]
    for a in atoms[1:]:
        out = A.Logical("AND", out, a)
    return A.format_expr(out)


def _has_column(e: A.Expr) -> bool:
    return any(isinstance(n, A.ColumnRef) for n in A.walk(e))


_RANGE_OPS = ("<", "<=", ">", ">=")
_OP_NAMES = {
    "=": "EQUAL",
    "<>": "NOT_EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
    "IS_DISTINCT": "IS_DISTINCT_FROM",
    "IS_NOT_DISTINCT": "IS_NOT_DISTINCT_FROM",
}


class KeyResolver:
    """Literals compared with key columns -> values of the key column's type (ksqlDB's
    strict coercion: widening only), with ksqlDB's errors."""

    def __init__(self) -> None:
        self.compiler = ExpressionCompiler(Scope([]), "WHERE")

    def resolve(self, e: A.Expr, col: Column, hint: A.Expr) -> Any:
        c = self.compiler.compile(e)
        v = c.fn(())
        if v is None:
            raise KsqlStatementError(f"Primary key columns can not be NULL: {A.format_expr(hint)}")
        if c.type == col.type:
            return v
        shown = f"'{v}'" if isinstance(v, str) else str(v)
        failure = KsqlStatementError(
            f"{shown} can not be converted to the type of the key column: {col.name} {col.type} KEY"
        )
        if not T.can_implicitly_cast(c.type, col.type):
            raise failure
        try:
            return cast_function(c.type, col.type, A.format_expr(e))(v)
        except (KsqlProcessingError, KsqlStatementError):
            raise failure from None


class WhereAnalysis:
    """ksqlDB's QueryFilterNode checks and lookup constraints over the rewritten WHERE clause:
    does the query need a table scan (or, with scans disabled, which error), and the keys
    to look up when every disjunct fixes every key column with `=`."""

    def __init__(self, source: DataSource, props: Mapping[str, Any]) -> None:
        self.source = source
        self.keys = {c.name: c for c in source.key_columns}
        self.scan_enabled = _flag(props, TABLE_SCAN, True)
        self.range_enabled = _flag(props, RANGE_SCAN, True)
        self.windowed = source.window is not None

    def fail(self, message: str) -> KsqlStatementError:
        return KsqlStatementError(_where_help(message, self.source))

    def access(self, where: A.Expr | None) -> tuple[str, list[tuple[Any, ...]]]:
        """How to find the rows: ("lookup", keys), ("range", []) or ("scan", [])."""
        if where is None or not self.keys:
            return self._scan()
        disjuncts = _dnf(_rewrite(where))
        for atoms in disjuncts:
            if self._requires_scan(atoms):
                return self._scan()
        resolver = KeyResolver()
        constraints = [self._constraint(atoms, resolver) for atoms in disjuncts]
        if any(c is None for c in constraints):
            return self._scan()
        if all(op == "=" for c in constraints if c is not None for op, _ in c.values()):
            out: list[tuple[Any, ...]] = []
            for c in constraints:
                assert c is not None
                out.append(tuple(c[name][1] for name in self.keys))
            return "lookup", out
        if len(constraints) == 1 and self.range_enabled and not self.windowed:
            return "range", []  # reads the store; the WHERE clause bounds the key
        return self._scan()

    def _scan(self) -> tuple[str, list[tuple[Any, ...]]]:
        if not self.scan_enabled:
            raise KsqlStatementError(
                "Query requires table scan to be enabled. Table scans can be enabled by setting "
                f"{TABLE_SCAN}=true"
            )
        return "scan", []

    def _requires_scan(self, atoms: list[A.Expr]) -> bool:
        seen: list[str] = []
        keyed = False
        scan = False

        def scan_or(message: str) -> None:
            nonlocal scan
            if not self.scan_enabled:
                raise self.fail(message)
            scan = True

        for atom in atoms:
            if isinstance(atom, A.Comparison):
                if isinstance(atom.right, A.ColumnRef):
                    col, other = atom.right, atom.left
                elif isinstance(atom.left, A.ColumnRef):
                    col, other = atom.left, atom.right
                else:
                    scan_or("A comparison must directly reference a key column")
                    continue
                if _has_column(other):
                    scan_or("A comparison must be between a key column and a resolvable expression")
                    continue
                name = col.name
                if name in WINDOW_BOUNDS:
                    if atom.op not in ("=", *_RANGE_OPS):
                        raise self.fail(f"Unsupported {name} bounds: {_OP_NAMES[atom.op]}")
                    if not self.windowed:
                        raise self.fail("Cannot use WINDOWSTART/WINDOWEND on non-windowed source")
                    continue
                if name in self.keys:
                    if atom.op not in ("=", *_RANGE_OPS):
                        key_text = ", ".join(
                            f"`{c.name}` {c.type} KEY" for c in self.source.key_columns
                        )
                        scan_or(f"Bound on key columns '[{key_text}]' must currently be '='")
                    if name in seen and not self.scan_enabled:
                        raise self.fail(
                            "A comparison condition on the key column cannot be combined with "
                            "other comparisons such as an IN predicate"
                        )
                    seen.append(name)
                    keyed = True
            elif isinstance(atom, A.Like):
                if isinstance(atom.expr, A.ColumnRef):
                    col_def = self.source.column(atom.expr.name)
                    if col_def is not None and col_def.type.base != T.STRING:
                        raise self.fail(
                            "The column type for Like condition must be VARCHAR. The column "
                            f"type is {col_def.type.base}"
                        )
                else:
                    scan_or("Like condition must be between strings")
            else:
                raise KsqlUnsupportedError(
                    messages.not_supported(
                        f"pull query WHERE predicate {A.format_expr(atom)} (ksqlDB accepts "
                        "comparisons, LIKE, IN and BETWEEN joined by AND/OR)"
                    )
                )
        if scan:
            return True
        if not keyed:
            if self.scan_enabled:
                return True
            raise self.fail(f"WHERE clause missing key column for disjunct: {_conj_text(atoms)}")
        if seen and len(set(seen)) != len(self.keys):
            if self.scan_enabled:
                return True
            names = ", ".join(f"`{n}`" for n in dict.fromkeys(seen))
            expected = ", ".join(f"`{c.name}` {c.type} KEY" for c in self.source.key_columns)
            raise self.fail(
                "Multi-column sources must specify every key in the WHERE clause. "
                f"Specified: [{names}] Expected: [{expected}]"
            )
        return False

    def _constraint(
        self, atoms: list[A.Expr], resolver: KeyResolver
    ) -> dict[str, tuple[str, Any]] | None:
        """KeyValueExtractor: key column -> (operator, value), the most selective per key;
        None (a non-key constraint) when the disjunct cannot be a lookup or a range."""
        ops: dict[str, tuple[str, Any]] = {}
        for atom in atoms:
            if not isinstance(atom, A.Comparison):
                continue
            col = atom.right if isinstance(atom.right, A.ColumnRef) else atom.left
            other = atom.left if col is atom.right else atom.right
            if not isinstance(col, A.ColumnRef) or col.name not in self.keys:
                continue
            value = resolver.resolve(other, self.keys[col.name], atom)
            prior = ops.get(col.name)
            if prior is not None and (prior[0] == "=" or atom.op != "="):
                continue
            ops[col.name] = (atom.op, value)
        if not ops:
            return None
        if len(ops) > 1:
            return ops if all(op == "=" for op, _ in ops.values()) else None
        ((name, (op, _)),) = ops.items()
        if op == "=":
            return ops
        if self.keys[name].type.base in (T.STRING, T.BYTES) and op in _RANGE_OPS:
            return ops
        return None


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
        keyed = self.source.kind == "TABLE"  # a stream's rows are not keyed
        return ", ".join(
            f"`{c.name}` {c.type}{' KEY' if keyed and c.namespace == 'KEY' else ''}"
            for c in self.schema
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
        rows = self.filter_project(found, limit)
        final = None
        if self.source.kind == "STREAM":
            final = (
                "Limit Reached" if limit is not None and len(rows) >= limit else "Query Completed"
            )
        return PullResult(rows, final)

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
        # partition by partition, each in key order: the order ksqlDB's scan reads its stores
        parts, cut = self.source.partitions, store.suffix
        rows = sorted(
            (default_partition(k[: len(k) - cut], parts), k, v, ts) for k, v, ts in store.snapshot()
        )
        return [InRecord(self.source.topic, k or None, v, ts, p) for p, k, v, ts in rows]

    def topic_scan(self, node: TopicScanNode, records: Iterable[InRecord] | None) -> list[InRecord]:
        if records is None:
            raise KsqlStatementError(f"pull query over {self.source.name}: no records of its topic")
        if not node.latest_per_key:  # a stream: partition by partition, in offset order
            return sorted(
                (r for r in records if r.value is not None), key=lambda r: (r.partition, r.offset)
            )
        latest: dict[bytes | None, InRecord] = {}
        for r in records:
            if r.value is None:
                latest.pop(r.key, None)
            else:
                latest[r.key] = r
        # a source table: partition by partition, each in key order (a state store's order)
        return sorted(latest.values(), key=lambda r: (r.partition, r.key or b""))

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


def materializing_query(source: DataSource, queries: Mapping[str, Any]) -> PersistentQuery | None:
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
    if any(c.namespace == "HEADERS" for c in src.columns):
        # the scans and the store keep no record headers: such a column would read empty
        raise KsqlUnsupportedError(
            messages.not_supported(f"pull queries over {src.name}, which has HEADER columns")
        )
    _check_where_forms(q.where, src)
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
    try:
        planned = planner.plan(replace(q, emit="CHANGES", limit=None), transient=True)
    except KsqlStatementError as exc:
        raise _pull_error(exc, q) from None
    seen: set[str] = set()
    for it in planner.items:
        if it.name in seen and it.compiled is not None:
            raise KsqlStatementError(
                f"Duplicate value columns found in schema: `{it.name}` {it.compiled.type}"
            )
        seen.add(it.name)
    owner = materializing_query(src, queries) if src.kind == "TABLE" else None
    if src.kind == "TABLE" and owner is None and not src.is_source:
        raise KsqlStatementError(
            f"The `{src.name}` table isn't queryable. To derive a queryable table, you can do "
            f"'CREATE TABLE QUERYABLE_{src.name} AS SELECT * FROM {src.name}'.{SYNTAX_HELP}"
        )
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
    if store is not None and store.incomplete is not None:
        raise KsqlStatementError(f"Pull queries on {src.name} are refused: {store.incomplete}.")
    keys: list[bytes] | None = None
    scan = source_node(planner.bound[0])
    if owner is None or store is None:
        access = TopicScanNode(src.name, src.kind, src.topic, latest_per_key=src.kind == "TABLE")
    else:
        kind, lookups = WhereAnalysis(src, properties).access(q.where)
        if kind != "lookup":
            access = TableScanNode(src.name, owner.id, kind == "range", inputs=[scan])
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
                [", ".join(_key_text(v) for v in k) for k in lookups],
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


def _check_where_forms(where: A.Expr | None, src: DataSource) -> None:
    """A check ksqlDB's pull planner makes before typing the WHERE clause: LIKE on a column
    must be on a STRING column."""
    for n in A.walk(where) if where is not None else []:
        if isinstance(n, A.Like) and isinstance(n.expr, A.ColumnRef):
            col = src.column(n.expr.name)
            if col is not None and col.type.base != T.STRING:
                raise KsqlStatementError(
                    _where_help(
                        "The column type for Like condition must be VARCHAR. The column type "
                        f"is {col.type.base}",
                        src,
                    )
                )


def _pull_error(exc: KsqlStatementError, q: A.Query) -> KsqlStatementError:
    """A WHERE error as ksqlDB words it for a pull query: its analyzer resolves the columns
    (`WHERE column 'X' cannot be resolved`), BETWEEN is type-checked after the pull rewrite
    (`Invalid expression: ...`), other expression errors end with the predicate."""
    msg = str(exc).split("\nStatement:")[0]
    prefix = "Error in WHERE expression: "
    if not msg.startswith(prefix) or q.where is None or type(exc) is not KsqlStatementError:
        return exc
    body = msg[len(prefix) :]
    if body.startswith("Unknown column "):
        return KsqlStatementError(f"WHERE column '{body[15:].rstrip('.')}' cannot be resolved.")
    if any(isinstance(n, A.Between) for n in A.walk(q.where)) and body.startswith("Cannot compare"):
        return KsqlStatementError(f"Invalid expression: {body.rstrip('.')}")
    if body.startswith("Comparison with NULL not supported"):
        body += "\nUse 'IS NULL' or 'IS NOT NULL' instead."
    return KsqlStatementError(f"{prefix}{body}\nStatement: {A.format_expr(q.where)}")


def _key_text(v: Any) -> str:
    """A looked-up key value as the plan prints it (strings quoted, as in SQL)."""
    return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else str(v)


def _is_key_ref(e: A.Expr, key_names: set[str]) -> bool:
    return isinstance(e, A.ColumnRef) and e.name in key_names
