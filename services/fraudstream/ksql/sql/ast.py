"""Typed syntax tree produced by the parser: expressions and statements.

Identifiers are already normalised: unquoted names upper-cased, quoted names kept as written.
`format_expr` prints an expression the way ksqlDB's ExpressionFormatter does, since error
messages quote expressions (`(T.ID = 0)`, `ABS(INPUT.ID)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fraudstream.ksql.sql.types import SqlType


class Expr:
    """Base of all expression nodes."""


@dataclass(frozen=True)
class Literal(Expr):
    value: Any
    kind: str  # NULL BOOLEAN INTEGER BIGINT DECIMAL DOUBLE STRING BYTES


@dataclass(frozen=True)
class ColumnRef(Expr):
    name: str
    source: str | None = None
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Dereference(Expr):
    base: Expr
    field: str


@dataclass(frozen=True)
class StructStar(Expr):
    """`col->*`: every field of a struct column, as columns of the projection."""

    base: Expr


@dataclass(frozen=True)
class Subscript(Expr):
    base: Expr
    index: Expr


@dataclass(frozen=True)
class FunctionCall(Expr):
    name: str
    args: tuple[Expr, ...]
    star: bool = False


@dataclass(frozen=True)
class Cast(Expr):
    expr: Expr
    type: SqlType


@dataclass(frozen=True)
class Case(Expr):
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None
    operand: Expr | None = None  # simple CASE x WHEN v THEN ...


@dataclass(frozen=True)
class Comparison(Expr):
    op: str  # = <> < <= > >= IS_DISTINCT IS_NOT_DISTINCT
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Logical(Expr):
    op: str  # AND OR
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    expr: Expr


@dataclass(frozen=True)
class IsNull(Expr):
    expr: Expr
    negated: bool


@dataclass(frozen=True)
class Between(Expr):
    expr: Expr
    low: Expr
    high: Expr
    negated: bool


@dataclass(frozen=True)
class InList(Expr):
    expr: Expr
    items: tuple[Expr, ...]
    negated: bool


@dataclass(frozen=True)
class Like(Expr):
    expr: Expr
    pattern: Expr
    escape: str | None
    negated: bool


@dataclass(frozen=True)
class Arithmetic(Expr):
    op: str  # + - * / %
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate(Expr):
    expr: Expr


@dataclass(frozen=True)
class ArrayCtor(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class MapCtor(Expr):
    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True)
class StructCtor(Expr):
    fields: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class IntervalUnit(Expr):
    """A bare time unit passed as a function argument (e.g. TIMESTAMPADD(SECONDS, ...))."""

    unit: str


@dataclass(frozen=True)
class Lambda(Expr):
    params: tuple[str, ...]
    body: Expr


# --------------------------------------------------------------------------- statements


@dataclass
class SelectItem:
    expr: Expr
    alias: str | None


@dataclass
class AllColumns:
    source: str | None  # SELECT * or SELECT a.*


@dataclass
class Relation:
    name: str
    alias: str | None


@dataclass
class Join:
    type: str  # INNER LEFT RIGHT FULL
    right: Relation
    criteria: Expr
    within: tuple[int, int] | None = None  # (before ms, after ms)
    grace: int | None = None


@dataclass
class Window:
    type: str  # TUMBLING HOPPING SESSION
    size: int  # ms (session gap for SESSION)
    advance: int | None = None
    retention: int | None = None
    grace: int | None = None


@dataclass
class Query:
    select: list[SelectItem | AllColumns]
    source: Relation
    joins: list[Join]
    window: Window | None
    where: Expr | None
    group_by: list[Expr] | None
    partition_by: list[Expr] | None
    having: Expr | None
    emit: str | None  # CHANGES FINAL
    limit: int | None


class Statement:
    """Base of all statements; `text` is the statement's own source text."""

    text: str = ""


@dataclass
class TableElement:
    name: str
    type: SqlType
    constraint: str | None  # KEY, PRIMARY KEY, HEADERS, HEADER
    header_key: str | None = None
    position: tuple[int, int] = field(default=(0, 0), compare=False)  # (line, column)


@dataclass
class CreateSource(Statement):
    kind: str  # STREAM TABLE
    name: str
    elements: list[TableElement] | None
    properties: dict[str, Literal]
    or_replace: bool = False
    if_not_exists: bool = False
    is_source: bool = False
    text: str = ""


@dataclass
class CreateAsSelect(Statement):
    kind: str
    name: str
    properties: dict[str, Literal]
    query: Query
    or_replace: bool = False
    if_not_exists: bool = False
    text: str = ""


class Name(str):
    """A source name as written in a statement, with its line and column (ksqlDB prefixes
    some errors about it with `Line: L, Col: C: `)."""

    line: int = 0
    column: int = 0

    @property
    def where(self) -> str:
        return f"Line: {self.line}, Col: {self.column}: " if self.line else ""


@dataclass
class InsertInto(Statement):
    target: str
    properties: dict[str, Literal]
    query: Query
    text: str = ""


@dataclass
class InsertValues(Statement):
    target: str
    columns: list[str] | None
    values: list[Expr]
    text: str = ""


@dataclass
class DropSource(Statement):
    kind: str
    name: str
    if_exists: bool
    delete_topic: bool
    text: str = ""


@dataclass
class Terminate(Statement):
    query_id: str | None  # None = ALL
    text: str = ""


@dataclass
class ListStatement(Statement):
    what: str  # STREAMS TABLES QUERIES TOPICS PROPERTIES VARIABLES FUNCTIONS TYPES
    extended: bool = False
    text: str = ""


@dataclass
class Describe(Statement):
    name: str | None  # None with what=STREAMS/TABLES
    extended: bool = False
    what: str = "SOURCE"  # SOURCE STREAMS TABLES FUNCTION
    text: str = ""


@dataclass
class DefineVariable(Statement):
    name: str
    value: str | None  # None = UNDEFINE
    text: str = ""


@dataclass
class SetProperty(Statement):
    name: str
    value: str | None  # None = UNSET
    text: str = ""


@dataclass
class QueryStatement(Statement):
    query: Query
    text: str = ""


@dataclass
class AlterSource(Statement):
    """ALTER STREAM|TABLE name ADD [COLUMN] col type, ..."""

    kind: str  # STREAM TABLE
    name: str
    columns: list[TableElement]


@dataclass
class Unsupported(Statement):
    """A statement ksqlDB accepts that this engine does not run (connectors, types, ...)."""

    construct: str
    text: str = ""


@dataclass
class Explain(Statement):
    """EXPLAIN <query id> (`target`) or EXPLAIN <SELECT ...> (`query`, `target` empty)."""

    target: str
    text: str = ""
    query: Query | None = None


# --------------------------------------------------------------------------- formatting


def format_literal(lit: Literal) -> str:
    if lit.kind == "NULL":
        return "null"
    if lit.kind == "BOOLEAN":
        return "true" if lit.value else "false"
    if lit.kind == "STRING":
        return "'" + str(lit.value).replace("'", "''") + "'"
    if lit.kind == "BYTES" and isinstance(lit.value, bytes):
        return "X'" + lit.value.hex().upper() + "'"
    if lit.kind == "DECIMAL" and isinstance(lit.value, Decimal):
        return str(lit.value)
    if lit.kind == "DOUBLE":
        v = float(lit.value)
        return repr(v).replace("e+", "E").replace("e", "E")
    return str(lit.value)


def format_expr(e: Expr) -> str:
    """ksqlDB-style text of an expression (used in messages and synthetic names)."""
    if isinstance(e, Literal):
        return format_literal(e)
    if isinstance(e, ColumnRef):
        return f"{e.source}.{e.name}" if e.source else e.name
    if isinstance(e, Dereference):
        return f"{format_expr(e.base)}->{e.field}"
    if isinstance(e, StructStar):
        return f"{format_expr(e.base)}->*"
    if isinstance(e, Subscript):
        return f"{format_expr(e.base)}[{format_expr(e.index)}]"
    if isinstance(e, FunctionCall):
        if e.star:
            return f"{e.name}(*)"
        return f"{e.name}({', '.join(format_expr(a) for a in e.args)})"
    if isinstance(e, Cast):
        return f"CAST({format_expr(e.expr)} AS {e.type})"
    if isinstance(e, Case):
        parts = ["(CASE"]
        if e.operand is not None:
            parts.append(format_expr(e.operand))
        for c, r in e.whens:
            parts.append(f"WHEN {format_expr(c)} THEN {format_expr(r)}")
        if e.default is not None:
            parts.append(f"ELSE {format_expr(e.default)}")
        parts.append("END)")
        return " ".join(parts)
    predicate = _format_predicate(e)
    if predicate is not None:
        return predicate
    if isinstance(e, Arithmetic):
        return f"({format_expr(e.left)} {e.op} {format_expr(e.right)})"
    if isinstance(e, Negate):
        return f"-{format_expr(e.expr)}"
    if isinstance(e, ArrayCtor):
        return f"ARRAY[{', '.join(format_expr(i) for i in e.items)}]"
    if isinstance(e, MapCtor):
        inner = ", ".join(f"{format_expr(k)}:={format_expr(v)}" for k, v in e.entries)
        return f"MAP({inner})"
    if isinstance(e, StructCtor):
        inner = ", ".join(f"{n}:={format_expr(v)}" for n, v in e.fields)
        return f"STRUCT({inner})"
    if isinstance(e, IntervalUnit):
        return e.unit
    if isinstance(e, Lambda):
        return f"({', '.join(e.params)}) => {format_expr(e.body)}"
    return repr(e)


def _format_predicate(e: Expr) -> str | None:
    """Text of a comparison, logical or membership predicate (None for other nodes)."""
    if isinstance(e, Comparison):
        op = {"IS_DISTINCT": "IS DISTINCT FROM", "IS_NOT_DISTINCT": "IS NOT DISTINCT FROM"}.get(
            e.op, e.op
        )
        return f"({format_expr(e.left)} {op} {format_expr(e.right)})"
    if isinstance(e, Logical):
        return f"({format_expr(e.left)} {e.op} {format_expr(e.right)})"
    if isinstance(e, Not):
        return f"(NOT {format_expr(e.expr)})"
    if isinstance(e, IsNull):
        return f"({format_expr(e.expr)} IS {'NOT ' if e.negated else ''}NULL)"
    if isinstance(e, Between):
        n = "NOT " if e.negated else ""
        return f"({format_expr(e.expr)} {n}BETWEEN {format_expr(e.low)} AND {format_expr(e.high)})"
    if isinstance(e, InList):
        n = "NOT " if e.negated else ""
        return f"({format_expr(e.expr)} {n}IN ({', '.join(format_expr(i) for i in e.items)}))"
    if isinstance(e, Like):
        n = "NOT " if e.negated else ""
        esc = f" ESCAPE '{e.escape}'" if e.escape else ""
        return f"({format_expr(e.expr)} {n}LIKE {format_expr(e.pattern)}{esc})"
    return None


def walk(e: Expr) -> list[Expr]:
    """All nodes of an expression tree, pre-order."""
    out: list[Expr] = [e]
    for child in children(e):
        out.extend(walk(child))
    return out


def children(e: Expr) -> list[Expr]:
    if isinstance(e, Dereference | StructStar):
        return [e.base]
    if isinstance(e, Subscript):
        return [e.base, e.index]
    if isinstance(e, FunctionCall):
        return list(e.args)
    if isinstance(e, Cast):
        return [e.expr]
    if isinstance(e, Case):
        out: list[Expr] = [] if e.operand is None else [e.operand]
        for c, r in e.whens:
            out += [c, r]
        if e.default is not None:
            out.append(e.default)
        return out
    if isinstance(e, Comparison | Logical | Arithmetic):
        return [e.left, e.right]
    if isinstance(e, Not | Negate):
        return [e.expr]
    if isinstance(e, IsNull):
        return [e.expr]
    if isinstance(e, Between):
        return [e.expr, e.low, e.high]
    if isinstance(e, InList):
        return [e.expr, *e.items]
    if isinstance(e, Like):
        return [e.expr, e.pattern]
    if isinstance(e, ArrayCtor):
        return list(e.items)
    if isinstance(e, MapCtor):
        return [x for kv in e.entries for x in kv]
    if isinstance(e, StructCtor):
        return [v for _, v in e.fields]
    if isinstance(e, Lambda):
        return [e.body]
    return []
