"""SQL text -> typed statements (`fraudstream.ksql.sql.ast`), with a lark LALR grammar.

`parse(sql)` returns one AST statement per `;`-separated statement, each carrying its own
source text. Syntax errors raise `KsqlParseError` with ksqlDB's message shape:
``line L:C: Syntax Error\\nExpecting {...}\\nStatement: <text>``.
Variables (`${name}`) are substituted before parsing, as ksqlDB does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

# Milliseconds per ksqlDB time unit (WINDOW sizes, WITHIN, GRACE PERIOD, retention).
TIME_UNITS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1000,
    "SECONDS": 1000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("fraudstream.ksql.sql").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=False,
    )


def identifier_text(tok: Token) -> str:
    """Normalise an identifier token: unquoted -> upper case, quoted -> as written."""
    s = str(tok)
    if s.startswith('"'):
        return s[1:-1].replace('""', '"')
    if s.startswith("`"):
        return s[1:-1].replace("``", "`")
    return s.upper()


def _string_value(tok: Token) -> str:
    return str(tok)[1:-1].replace("''", "'")


def _not_token(children: list[Any]) -> list[Any]:
    return [c for c in children if not isinstance(c, Token)]


def _has(children: list[Any], kind: str) -> bool:
    return any(isinstance(c, Token) and c.type == kind for c in children)


class _Duration:
    def __init__(self, ms: int) -> None:
        self.ms = ms


class _Grace(_Duration):
    pass


class _Retention(_Duration):
    pass


class _ToAst(Transformer[Token, Any]):
    """Builds AST nodes bottom-up; expressions become `ast.Expr` instances."""

    # ---------------------------------------------------------------- identifiers
    def identifier(self, ch: list[Any]) -> str:
        c = ch[0]
        return c if isinstance(c, str) and not isinstance(c, Token) else identifier_text(c)

    def alias_name(self, ch: list[Any]) -> str:
        return self.identifier(ch)

    def nonreserved(self, ch: list[Any]) -> str:
        return str(ch[0]).upper()

    def alias_nonreserved(self, ch: list[Any]) -> str:
        return str(ch[0]).upper()

    @v_args(meta=True)
    def source_name(self, meta: Any, ch: list[Any]) -> str:
        name = A.Name(str(ch[0]))
        name.line = getattr(meta, "line", 0)
        name.column = getattr(meta, "column", 0)
        return name

    def func_name(self, ch: list[Any]) -> str:
        return str(ch[0]).upper()

    # ---------------------------------------------------------------- literals
    def null_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(None, "NULL")

    def true_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(True, "BOOLEAN")

    def false_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(False, "BOOLEAN")

    def string_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(_string_value(ch[0]), "STRING")

    def binary_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(bytes.fromhex(str(ch[0])[2:-1]), "BYTES")

    def literal(self, ch: list[Any]) -> A.Literal:
        return cast(A.Literal, ch[0])

    def number(self, ch: list[Any]) -> A.Literal:
        return cast(A.Literal, ch[0])

    @staticmethod
    def _int(text: str) -> A.Literal:
        v = int(text)
        if T.INT_MIN <= v <= T.INT_MAX:
            return A.Literal(v, "INTEGER")
        if T.LONG_MIN <= v <= T.LONG_MAX:
            return A.Literal(v, "BIGINT")
        raise KsqlParseError(f"Invalid numeric literal: {text}")

    def int_lit(self, ch: list[Any]) -> A.Literal:
        return self._int(str(ch[0]))

    def neg_int_lit(self, ch: list[Any]) -> A.Literal:
        return self._int("-" + str(ch[-1]))

    def decimal_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(Decimal(str(ch[0])), "DECIMAL")

    def neg_decimal_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(-Decimal(str(ch[-1])), "DECIMAL")

    def float_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(float(str(ch[0])), "DOUBLE")

    def neg_float_lit(self, ch: list[Any]) -> A.Literal:
        return A.Literal(-float(str(ch[-1])), "DOUBLE")

    # ---------------------------------------------------------------- expressions
    def or_op(self, ch: list[Any]) -> A.Expr:
        a, b = _not_token(ch)
        return A.Logical("OR", a, b)

    def and_op(self, ch: list[Any]) -> A.Expr:
        a, b = _not_token(ch)
        return A.Logical("AND", a, b)

    def not_op(self, ch: list[Any]) -> A.Expr:
        return A.Not(_not_token(ch)[0])

    def comp_op(self, ch: list[Any]) -> str:
        op = str(ch[0])
        return "<>" if op == "!=" else op

    def comparison(self, ch: list[Any]) -> A.Expr:
        a, op, b = ch
        return A.Comparison(op, a, b)

    def between(self, ch: list[Any]) -> A.Expr:
        e, lo, hi = _not_token(ch)
        return A.Between(e, lo, hi, _has(ch, "NOT"))

    def in_list(self, ch: list[Any]) -> A.Expr:
        items = _not_token(ch)
        return A.InList(items[0], tuple(items[1:]), _has(ch, "NOT"))

    def like(self, ch: list[Any]) -> A.Expr:
        exprs = _not_token(ch)
        esc = next(
            (_string_value(c) for c in ch if isinstance(c, Token) and c.type == "STRING"), None
        )
        return A.Like(exprs[0], exprs[1], esc, _has(ch, "NOT"))

    def is_null(self, ch: list[Any]) -> A.Expr:
        return A.IsNull(_not_token(ch)[0], _has(ch, "NOT"))

    def distinct_from(self, ch: list[Any]) -> A.Expr:
        a, b = _not_token(ch)
        return A.Comparison("IS_NOT_DISTINCT" if _has(ch, "NOT") else "IS_DISTINCT", a, b)

    def concat(self, ch: list[Any]) -> A.Expr:
        a, b = _not_token(ch)
        return A.FunctionCall("CONCAT", (a, b))

    def arith(self, ch: list[Any]) -> A.Expr:
        a, op, b = ch
        return A.Arithmetic(str(op), a, b)

    def unary(self, ch: list[Any]) -> A.Expr:
        op, e = ch
        if str(op) == "+":
            return cast(A.Expr, e)
        if isinstance(e, A.Literal) and e.kind in ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE"):
            if e.kind == "BIGINT" and -e.value == T.INT_MIN:
                return A.Literal(-e.value, "INTEGER")
            return A.Literal(-e.value, e.kind)
        return A.Negate(e)

    def when_clause(self, ch: list[Any]) -> tuple[A.Expr, A.Expr]:
        a, b = _not_token(ch)
        return (a, b)

    def searched_case(self, ch: list[Any]) -> A.Expr:
        parts = _not_token(ch)
        whens = tuple(p for p in parts if isinstance(p, tuple))
        default = next((p for p in parts if not isinstance(p, tuple)), None)
        return A.Case(whens, default)

    def simple_case(self, ch: list[Any]) -> A.Expr:
        parts = _not_token(ch)
        operand = parts[0]
        whens = tuple(p for p in parts[1:] if isinstance(p, tuple))
        rest = [p for p in parts[1:] if not isinstance(p, tuple)]
        return A.Case(whens, rest[0] if rest else None, operand)

    def cast(self, ch: list[Any]) -> A.Expr:
        e, t = _not_token(ch)
        return A.Cast(e, t)

    def array_ctor(self, ch: list[Any]) -> A.Expr:
        return A.ArrayCtor(tuple(c for c in _not_token(ch) if c is not None))

    def map_entry(self, ch: list[Any]) -> tuple[A.Expr, A.Expr]:
        return (ch[0], ch[1])

    def map_ctor(self, ch: list[Any]) -> A.Expr:
        return A.MapCtor(tuple(c for c in _not_token(ch) if c is not None))

    def struct_entry(self, ch: list[Any]) -> tuple[str, A.Expr]:
        return (ch[0], ch[1])

    def struct_ctor(self, ch: list[Any]) -> A.Expr:
        return A.StructCtor(tuple(c for c in _not_token(ch) if c is not None))

    def func_star(self, ch: list[Any]) -> A.Expr:
        return A.FunctionCall(ch[0], (), star=True)

    def func_call(self, ch: list[Any]) -> A.Expr:
        name = ch[0]
        args = tuple(self._func_arg(c) for c in ch[1:] if c is not None)
        return A.FunctionCall(name, args)

    @staticmethod
    def _func_arg(c: Any) -> A.Expr:
        # a bare time unit argument (TIMESTAMPADD(SECONDS, ...)) parses as a column name
        if isinstance(c, A.ColumnRef) and c.source is None and c.name in TIME_UNITS:
            return A.IntervalUnit(c.name)
        return cast(A.Expr, c)

    def unit_arg(self, ch: list[Any]) -> A.Expr:
        return A.IntervalUnit(str(ch[0]).upper())

    def lambda_expr(self, ch: list[Any]) -> A.Expr:
        *params, body = ch
        return A.Lambda(tuple(params), body)

    def subscript(self, ch: list[Any]) -> A.Expr:
        return A.Subscript(ch[0], ch[1])

    @v_args(meta=True)
    def column_ref(self, meta: Any, ch: list[Any]) -> A.Expr:
        return A.ColumnRef(ch[0], None, getattr(meta, "line", 0), getattr(meta, "column", 0))

    @v_args(meta=True)
    def qualified_column_ref(self, meta: Any, ch: list[Any]) -> A.Expr:
        return A.ColumnRef(ch[1], ch[0], getattr(meta, "line", 0), getattr(meta, "column", 0))

    def dereference(self, ch: list[Any]) -> A.Expr:
        return A.Dereference(ch[0], ch[1])

    def struct_star(self, ch: list[Any]) -> A.Expr:
        return A.StructStar(ch[0])

    # ---------------------------------------------------------------- types
    def simple_type(self, ch: list[Any]) -> T.SqlType:
        name = ch[0]
        params = [c for c in ch[1:] if c is not None]
        if name == "DECIMAL" and len(params) == 2:
            return T.decimal_type(int(params[0]), int(params[1]))
        if params and name not in ("VARCHAR", "STRING"):
            raise KsqlStatementError(f"Unexpected parameters for type {name}")
        return T.base_type(name)

    def type_param(self, ch: list[Any]) -> str:
        return str(ch[0])

    def decimal_type(self, ch: list[Any]) -> T.SqlType:
        p, s = [int(str(c)) for c in ch if isinstance(c, Token) and c.type == "INTEGER_VALUE"]
        return T.decimal_type(p, s)

    def array_type(self, ch: list[Any]) -> T.SqlType:
        return T.array_of(_not_token(ch)[0])

    def map_type(self, ch: list[Any]) -> T.SqlType:
        k, v = _not_token(ch)
        return T.map_of(k, v)

    def struct_field(self, ch: list[Any]) -> tuple[str, T.SqlType]:
        return (ch[0], ch[1])

    def struct_type(self, ch: list[Any]) -> T.SqlType:
        return T.struct_of([c for c in _not_token(ch) if c is not None])

    def type(self, ch: list[Any]) -> T.SqlType:
        return cast(T.SqlType, ch[0])

    # ---------------------------------------------------------------- durations / windows
    def time_unit(self, ch: list[Any]) -> str:
        return str(ch[0]).upper()

    def duration(self, ch: list[Any]) -> _Duration:
        num, unit = ch
        if unit not in TIME_UNITS:
            raise KsqlParseError(
                f"Invalid duration: '{num.value} {unit.lower()}'. Unknown time unit: '{unit}'"
            )
        return _Duration(int(num.value) * TIME_UNITS[unit])

    def grace(self, ch: list[Any]) -> _Grace:
        return _Grace(_not_token(ch)[0].ms)

    def retention(self, ch: list[Any]) -> _Retention:
        return _Retention(_not_token(ch)[0].ms)

    def _window_opts(self, parts: list[Any]) -> tuple[int | None, int | None]:
        grace = next((p.ms for p in parts if isinstance(p, _Grace)), None)
        ret = next((p.ms for p in parts if isinstance(p, _Retention)), None)
        return ret, grace

    def tumbling(self, ch: list[Any]) -> A.Window:
        parts = _not_token(ch)
        ret, grace = self._window_opts(parts)
        return A.Window("TUMBLING", parts[0].ms, None, ret, grace)

    def hopping(self, ch: list[Any]) -> A.Window:
        parts = _not_token(ch)
        ret, grace = self._window_opts(parts)
        return A.Window("HOPPING", parts[0].ms, parts[1].ms, ret, grace)

    def session(self, ch: list[Any]) -> A.Window:
        parts = _not_token(ch)
        ret, grace = self._window_opts(parts)
        return A.Window("SESSION", parts[0].ms, None, ret, grace)

    def window_clause(self, ch: list[Any]) -> A.Window:
        # an optional window name may precede the window (`WINDOW w1 SESSION (...)`)
        return cast(A.Window, next(c for c in _not_token(ch) if isinstance(c, A.Window)))

    def within_single(self, ch: list[Any]) -> tuple[tuple[int, int], int | None]:
        parts = _not_token(ch)
        grace = parts[1].ms if len(parts) > 1 else None
        return ((parts[0].ms, parts[0].ms), grace)

    def within_pair(self, ch: list[Any]) -> tuple[tuple[int, int], int | None]:
        parts = _not_token(ch)
        grace = parts[2].ms if len(parts) > 2 else None
        return ((parts[0].ms, parts[1].ms), grace)

    # ---------------------------------------------------------------- query
    def select_single(self, ch: list[Any]) -> A.SelectItem:
        parts = _not_token(ch)
        return A.SelectItem(parts[0], parts[1] if len(parts) > 1 else None)

    def select_all(self, ch: list[Any]) -> A.AllColumns:
        return A.AllColumns(None)

    def select_all_of(self, ch: list[Any]) -> A.AllColumns:
        return A.AllColumns(ch[0])

    def relation(self, ch: list[Any]) -> A.Relation:
        parts = _not_token(ch)
        return A.Relation(parts[0], parts[1] if len(parts) > 1 else None)

    def join_type(self, ch: list[Any]) -> str:
        words = [str(c).upper() for c in ch if isinstance(c, Token)]
        if not words or words[0] == "INNER":
            return "INNER"
        return words[0]

    def join_clause(self, ch: list[Any]) -> A.Join:
        jt, rel = ch[0], ch[2]
        rest = [c for c in ch[3:] if not isinstance(c, Token)]
        within = None
        grace = None
        crit = rest[-1]
        if len(rest) == 2:
            within, grace = rest[0]
        return A.Join(jt, rel, crit, within, grace)

    def where_clause(self, ch: list[Any]) -> tuple[str, A.Expr]:
        return ("WHERE", _not_token(ch)[0])

    def having(self, ch: list[Any]) -> tuple[str, A.Expr]:
        return ("HAVING", _not_token(ch)[0])

    def expr_list(self, ch: list[Any]) -> list[A.Expr]:
        return [c for c in ch if c is not None]

    def paren_expr_list(self, ch: list[Any]) -> list[A.Expr]:
        return [c for c in ch if c is not None]

    def group_by(self, ch: list[Any]) -> tuple[str, list[A.Expr]]:
        return ("GROUP", _not_token(ch)[0])

    def partition_by(self, ch: list[Any]) -> tuple[str, list[A.Expr]]:
        return ("PARTITION", _not_token(ch)[0])

    def emit(self, ch: list[Any]) -> tuple[str, str]:
        return ("EMIT", str(ch[1]).upper())

    def limit(self, ch: list[Any]) -> tuple[str, int]:
        # a negative LIMIT parses; the engine refuses it with ksqlDB's message
        sign = -1 if any(isinstance(c, Token) and c.type == "MINUS" for c in ch) else 1
        value = _not_token(ch)[0].value
        if value != int(value):  # LIMIT 2.5 is refused, never truncated
            raise KsqlStatementError(
                "Failed to prepare statement: Value must be integer for command: LIMIT"
            )
        return ("LIMIT", sign * int(value))

    def query(self, ch: list[Any]) -> A.Query:
        parts = _not_token(ch)
        select = [p for p in parts if isinstance(p, A.SelectItem | A.AllColumns)]
        rels = [p for p in parts if isinstance(p, A.Relation)]
        joins = [p for p in parts if isinstance(p, A.Join)]
        window = next((p for p in parts if isinstance(p, A.Window)), None)
        tagged = {p[0]: p[1] for p in parts if isinstance(p, tuple)}
        return A.Query(
            select=select,
            source=rels[0],
            joins=joins,
            window=window,
            where=tagged.get("WHERE"),
            group_by=tagged.get("GROUP"),
            partition_by=tagged.get("PARTITION"),
            having=tagged.get("HAVING"),
            emit=tagged.get("EMIT"),
            limit=tagged.get("LIMIT"),
        )

    # ---------------------------------------------------------------- statements
    def table_property(self, ch: list[Any]) -> tuple[str, A.Literal]:
        k, v = ch
        name = _string_value(k) if isinstance(k, Token) else k
        return (name.upper(), v)

    def table_properties(self, ch: list[Any]) -> dict[str, A.Literal]:
        return dict(ch)

    def key_constraint(self, ch: list[Any]) -> str:
        return "PRIMARY KEY" if _has(ch, "PRIMARY") else "KEY"

    def headers_constraint(self, ch: list[Any]) -> str:
        return "HEADERS"

    def header_constraint(self, ch: list[Any]) -> tuple[str, str]:
        return ("HEADER", _string_value(ch[-1]))

    @v_args(meta=True)
    def table_element(self, meta: Any, ch: list[Any]) -> A.TableElement:
        name, typ = ch[0], ch[1]
        cons = ch[2] if len(ch) > 2 else None
        pos = (getattr(meta, "line", 0), getattr(meta, "column", 0))
        if isinstance(cons, tuple):
            return A.TableElement(name, typ, "HEADER", cons[1], pos)
        return A.TableElement(name, typ, cons, None, pos)

    def table_elements(self, ch: list[Any]) -> list[A.TableElement]:
        return list(ch)

    def column_list(self, ch: list[Any]) -> list[str]:
        return list(ch)

    def or_replace(self, ch: list[Any]) -> str:
        return "OR_REPLACE"

    def not_exists(self, ch: list[Any]) -> str:
        return "NOT_EXISTS"

    def if_exists(self, ch: list[Any]) -> str:
        return "IF_EXISTS"

    @staticmethod
    def _flags(ch: list[Any]) -> set[str]:
        return {c for c in ch if isinstance(c, str) and not isinstance(c, Token)} & {
            "OR_REPLACE",
            "NOT_EXISTS",
            "IF_EXISTS",
        }

    @staticmethod
    def _kind(ch: list[Any]) -> str:
        return "STREAM" if _has(ch, "STREAM") else "TABLE"

    @staticmethod
    def _name(ch: list[Any]) -> str:
        flags = {"OR_REPLACE", "NOT_EXISTS", "IF_EXISTS"}
        return next(
            c for c in ch if isinstance(c, str) and not isinstance(c, Token) and c not in flags
        )

    def create_source(self, ch: list[Any]) -> A.Statement:
        flags = self._flags(ch)
        elements = next((c for c in ch if isinstance(c, list)), None)
        props = next((c for c in ch if isinstance(c, dict)), {})
        return A.CreateSource(
            kind=self._kind(ch),
            name=self._name(ch),
            elements=elements,
            properties=props,
            or_replace="OR_REPLACE" in flags,
            if_not_exists="NOT_EXISTS" in flags,
            is_source=_has(ch, "SOURCE"),
        )

    def create_as(self, ch: list[Any]) -> A.Statement:
        flags = self._flags(ch)
        props = next((c for c in ch if isinstance(c, dict)), {})
        query = next(c for c in ch if isinstance(c, A.Query))
        return A.CreateAsSelect(
            kind=self._kind(ch),
            name=self._name(ch),
            properties=props,
            query=query,
            or_replace="OR_REPLACE" in flags,
            if_not_exists="NOT_EXISTS" in flags,
        )

    def insert_into(self, ch: list[Any]) -> A.Statement:
        props = next((c for c in ch if isinstance(c, dict)), {})
        query = next(c for c in ch if isinstance(c, A.Query))
        return A.InsertInto(self._name(ch), props, query)

    def insert_values(self, ch: list[Any]) -> A.Statement:
        name = self._name(ch)
        cols = next((c for c in ch if isinstance(c, list)), None)
        values = [c for c in ch if isinstance(c, A.Expr)]
        return A.InsertValues(name, cols, values)

    def alter_source(self, ch: list[Any]) -> A.Statement:
        adds = [c for c in ch if isinstance(c, A.TableElement)]
        return A.AlterSource(self._kind(ch), self._name(ch), adds)

    def alter_add(self, ch: list[Any]) -> A.TableElement:
        name, type_ = [c for c in ch if not isinstance(c, Token)]
        return A.TableElement(str(name), type_, None)

    def drop_source(self, ch: list[Any]) -> A.Statement:
        flags = self._flags(ch)
        return A.DropSource(
            self._kind(ch), self._name(ch), "IF_EXISTS" in flags, _has(ch, "DELETE")
        )

    def terminate_all(self, ch: list[Any]) -> A.Statement:
        return A.Terminate(None)

    def terminate_one(self, ch: list[Any]) -> A.Statement:
        return A.Terminate(ch[1])

    def list_what(self, ch: list[Any]) -> str:
        return str(ch[-1]).upper()

    def list_stmt(self, ch: list[Any]) -> A.Statement:
        what = next(c for c in ch if isinstance(c, str) and not isinstance(c, Token))
        return A.ListStatement(what, _has(ch, "EXTENDED"))

    def describe_source(self, ch: list[Any]) -> A.Statement:
        return A.Describe(ch[1], _has(ch, "EXTENDED"))

    def describe_streams(self, ch: list[Any]) -> A.Statement:
        return A.Describe(None, _has(ch, "EXTENDED"), "STREAMS")

    def describe_function(self, ch: list[Any]) -> A.Statement:
        return A.Describe(ch[-1], False, "FUNCTION")

    def define(self, ch: list[Any]) -> A.Statement:
        return A.DefineVariable(ch[1], _string_value(ch[2]))

    def undefine(self, ch: list[Any]) -> A.Statement:
        return A.DefineVariable(ch[1], None)

    def set_prop(self, ch: list[Any]) -> A.Statement:
        return A.SetProperty(_string_value(ch[1]), _string_value(ch[2]))

    def unset_prop(self, ch: list[Any]) -> A.Statement:
        return A.SetProperty(_string_value(ch[1]), None)

    def explain_query_id(self, ch: list[Any]) -> A.Statement:
        return A.Explain(ch[1])

    def explain_query(self, ch: list[Any]) -> A.Statement:
        return A.Explain("", query=ch[1])

    def query_stmt(self, ch: list[Any]) -> A.Statement:
        return A.QueryStatement(ch[0])

    def create_type(self, ch: list[Any]) -> A.Statement:
        return A.Unsupported("CREATE TYPE")

    def drop_type(self, ch: list[Any]) -> A.Statement:
        return A.Unsupported("DROP TYPE")

    def create_connector(self, ch: list[Any]) -> A.Statement:
        return A.Unsupported("CREATE CONNECTOR")

    def print_topic(self, ch: list[Any]) -> A.Statement:
        return A.Unsupported("PRINT")


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute_variables(sql: str, variables: Mapping[str, str]) -> str:
    """Replace `${name}` with the variable's value (ksqlDB substitutes before parsing).

    Variable names are case-insensitive; unknown variables are left in place, so the
    parser reports them at their position."""
    if "${" not in sql:
        return sql
    upper = {k.upper(): v for k, v in variables.items()}

    def repl(m: re.Match[str]) -> str:
        return upper.get(m.group(1).upper(), m.group(0))

    return _VAR.sub(repl, sql)


_TOKEN_ORDER = [";", ",", "(", ")", "=", "."]


def _expected_display(names: set[str]) -> str:
    parser = _parser()
    shown: list[str] = []
    for name in names:
        try:
            term = parser.get_terminal(name)
        except KeyError:
            continue
        pat = term.pattern
        if pat.type == "str":
            shown.append(f"'{pat.value.upper()}'")
        elif name == "IDENTIFIER":
            shown.append("IDENTIFIER")
        else:
            shown.append(name)

    def order(s: str) -> tuple[int, int, str]:
        bare = s.strip("'")
        if bare in _TOKEN_ORDER:
            return (1, _TOKEN_ORDER.index(bare), s)
        return (0 if s.startswith("'") else 2, 0, s)

    return "{" + ", ".join(sorted(set(shown), key=order)) + "}"


def _statement_at(sql: str, pos: int) -> str:
    start = sql.rfind(";", 0, pos) + 1
    end = sql.find(";", pos)
    return sql[start : (len(sql) if end < 0 else end + 1)].strip()


def _syntax_error(sql: str, err: UnexpectedInput) -> KsqlParseError:
    line = getattr(err, "line", 1) or 1
    col = getattr(err, "column", 1) or 1
    pos = getattr(err, "pos_in_stream", 0) or 0
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = _expected_display(set(err.expected) | set(err.accepts or ()))
        if tok.type == "$END":
            line, col = sql.count("\n") + 1, len(sql) - sql.rfind("\n")
            pos = len(sql)
        msg = f"line {line}:{col}: Syntax Error\nExpecting {expected}"
        if tok.type != "$END" and not sql[:pos].rstrip().rstrip(";").strip(" \t\r\n;"):
            # the first word of a statement is no statement keyword
            msg = f"line {line}:{col}: Syntax Error\nUnknown statement '{tok.value}'"
    elif isinstance(err, UnexpectedCharacters):
        ch = sql[pos : pos + 1]
        msg = f"line {line}:{col}: Syntax Error\nextraneous input '{ch}'"
    elif isinstance(err, UnexpectedEOF):
        msg = f"line {line}:{col}: Syntax Error\nunexpected end of input"
    else:
        msg = f"line {line}:{col}: Syntax Error"
    text = _statement_at(sql, pos)
    return KsqlParseError(f"{msg}\nStatement: {text}", text)


_PAREN_LAMBDA = re.compile(r"\(\s*(?:[A-Za-z_][A-Za-z_0-9]*|`[^`]*`)\s*(\))\s*=>")


def _single_param_lambdas(sql: str) -> str:
    """`(x) => ...` as `x => ...`: the LALR grammar cannot tell a one-parameter lambda from a
    parenthesised column before `=>`; blanking the parentheses keeps every position."""
    if "=>" not in sql:
        return sql
    chars = list(sql)
    for m in _PAREN_LAMBDA.finditer(sql):
        chars[m.start()] = " "
        chars[m.start(1)] = " "
    return "".join(chars)


def parse(sql: str, variables: Mapping[str, str] | None = None) -> list[A.Statement]:
    """Parse one or more `;`-separated statements into AST statements with their text."""
    if variables:
        sql = substitute_variables(sql, variables)
    try:
        tree = _parser().parse(_single_param_lambdas(sql))
    except UnexpectedInput as err:
        raise _syntax_error(sql, err) from None
    out: list[A.Statement] = []
    transformer = _ToAst()
    for sub in tree.children:
        if not isinstance(sub, Tree):
            continue
        text = _text_of(sql, sub)
        try:
            stmt = transformer.transform(sub)
        except Exception as exc:  # lark wraps errors raised inside callbacks
            inner = getattr(exc, "orig_exc", exc)
            if isinstance(inner, KsqlParseError | KsqlStatementError):
                inner.statement_text = text
                raise inner from None
            raise
        stmt.text = text
        out.append(stmt)
    return out


def _text_of(sql: str, tree: Tree[Any]) -> str:
    meta = tree.meta
    start, end = meta.start_pos, meta.end_pos
    rest = sql[end:]
    stripped = rest.lstrip()
    if stripped.startswith(";"):
        end += len(rest) - len(stripped) + 1
    return sql[start:end]


def parse_expression(text: str) -> A.Expr:
    """Parse a bare expression (used for property values like TIMESTAMP and tests)."""
    stmts = parse(f"SELECT {text} FROM X;")
    q = stmts[0]
    assert isinstance(q, A.QueryStatement)
    item = q.query.select[0]
    assert isinstance(item, A.SelectItem)
    return item.expr
