"""Type-check expressions against a scope and compile them to Python closures.

Compilation happens once per query: every node becomes a closure `fn(row) -> value` over
the row list, with column positions and types resolved up front, so per-record evaluation
is plain function calls (no tree walking). NULL semantics follow ksqlDB: most operators
and functions return NULL on a NULL input; WHERE treats NULL as false.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.engine import lambdas as L
from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.table_functions import TABLE_FUNCTIONS
from fraudstream.ksql.engine.temporal import (
    TEMPORAL,
    format_temporal,
    parse_partial_timestamp,
    parse_temporal,
    temporal_converter,
)
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError, KsqlUnsupportedError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T

Row = Sequence[Any]
Fn = Callable[[Row], Any]


@dataclass
class ScopeColumn:
    """A column visible to expressions: its name, type, owning source alias and row slot."""

    name: str
    type: T.SqlType
    source: str | None
    index: int
    namespace: str = "VALUE"  # KEY VALUE PSEUDO


@dataclass
class Scope:
    columns: list[ScopeColumn]
    sources: list[str] = field(default_factory=list)
    statement_line_offset: int = 0

    def __post_init__(self) -> None:
        self.by_name: dict[str, list[ScopeColumn]] = {}
        self.by_qual: dict[tuple[str, str], ScopeColumn] = {}
        for c in self.columns:
            self.by_name.setdefault(c.name, []).append(c)
            if c.source:
                self.by_qual[(c.source, c.name)] = c

    def resolve(self, ref: A.ColumnRef, clause: str) -> ScopeColumn:
        if ref.source is not None:
            if self.sources and ref.source not in self.sources:
                raise KsqlStatementError(
                    f"Failed to prepare statement: '{ref.source}' is not a valid stream/table"
                    " name or alias."
                )
            col = self.by_qual.get((ref.source, ref.name))
            if col is None:
                if not self.sources:
                    # single source without alias map: accept any qualifier
                    cands = self.by_name.get(ref.name)
                    if cands and len(cands) == 1:
                        return cands[0]
                raise self.unresolved(ref, clause)
            return col
        cands = self.by_name.get(ref.name, [])
        if not cands:
            raise self.unresolved(ref, clause)
        if len(cands) > 1:
            opts = " or ".join(f"{c.source}.{c.name}" for c in cands)
            raise KsqlStatementError(
                f"Exception while preparing statement: {_pos(ref)}Column '{ref.name}' is "
                f"ambiguous. Could be {opts}."
            )
        return cands[0]

    def unresolved(self, ref: A.ColumnRef, clause: str) -> KsqlStatementError:
        if ref.name in ("WINDOWSTART", "WINDOWEND") and ref.source is None:
            if clause == "WHERE":
                return KsqlStatementError(f"Error in WHERE expression: Unknown column {ref.name}.")
            if clause == "GROUP BY":
                return KsqlStatementError(
                    f"Window bounds column {ref.name} can only be used in the SELECT clause of "
                    "windowed aggregations"
                )
        return KsqlStatementError(
            f"{_pos(ref)}{clause} column '{A.format_expr(ref)}' cannot be resolved."
        )


def _pos(ref: A.ColumnRef) -> str:
    if ref.line:
        return f"Line: {ref.line}, Col: {ref.column}: "
    return ""


@dataclass
class Compiled:
    type: T.SqlType
    fn: Fn
    const: bool = False
    value: Any = None
    index: int | None = None  # set for a plain column reference (row[index])


LAMBDA_FUNCTIONS = frozenset({"TRANSFORM", "FILTER", "REDUCE"})


def null_on_error(f: Fn) -> Fn:
    """`f`, giving NULL where it fails (ksqlDB's evaluate-or-return-null); a refusal of the
    embedded engine still propagates, so it is never mistaken for a NULL."""

    def safe(r: Row) -> Any:
        try:
            return f(r)
        except KsqlUnsupportedError:
            raise
        except Exception as exc:
            if messages.NOT_SUPPORTED in str(exc):
                raise
            return None

    return safe


_NULL_IN_LAMBDA = "NULL operand of an arithmetic operation in a lambda: "


def _const(t: T.SqlType, v: Any) -> Compiled:
    return Compiled(t, lambda r: v, True, v)


class ExpressionCompiler:
    """Compiles AST expressions for one scope; `clause` names the clause in errors."""

    def __init__(self, scope: Scope, clause: str = "SELECT") -> None:
        self.scope = scope
        self.clause = clause
        # lambda parameters in scope: name -> (type, the one-slot cell the call sets)
        self.lambda_vars: dict[str, tuple[T.SqlType, list[Any]]] = {}

    def compile_clause(self, e: A.Expr) -> Compiled:
        """Compile a whole WHERE / HAVING expression; a type error names the clause as
        ksqlDB does ("Error in WHERE expression: ...")."""
        try:
            return self.compile(e)
        except KsqlUnsupportedError:
            raise
        except KsqlStatementError as exc:
            prefix = f"Error in {self.clause} expression: "
            if str(exc).startswith(prefix):
                raise
            msg = str(exc)
            if len(self.scope.sources) > 1:
                # over a join ksqlDB names columns by their flattened ALIAS_COLUMN names
                for ref in A.walk(e):
                    if isinstance(ref, A.ColumnRef) and ref.source:
                        msg = msg.replace(f"{ref.source}.{ref.name}", f"{ref.source}_{ref.name}")
            raise KsqlStatementError(prefix + msg, exc.statement_text) from None

    def compile(self, e: A.Expr) -> Compiled:
        method = getattr(self, "_c_" + type(e).__name__, None)
        if method is None:
            raise KsqlUnsupportedError(f"Unsupported expression: {A.format_expr(e)}")
        c: Compiled = method(e)
        return c

    def compile_nested(self, e: A.Expr, always: bool = False) -> Compiled:
        """Compile an expression nested in a function call (when it is itself a call or a
        field access) or in an ARRAY / MAP / STRUCT constructor (`always`): ksqlDB's nested
        error handling (ksql.nested.error.set.null, on by default) makes a failure there
        NULL for that part only instead of failing the whole expression."""
        c = self.compile(e)
        if c.const or isinstance(e, A.ColumnRef | A.Literal | A.Lambda):
            return c
        if always or isinstance(e, A.FunctionCall | A.Dereference):
            return Compiled(c.type, null_on_error(c.fn))
        return c

    def type_of(self, e: A.Expr) -> T.SqlType:
        return self.compile(e).type

    # ------------------------------------------------------------------ leaves
    def _c_Literal(self, e: A.Literal) -> Compiled:
        k = e.kind
        if k == "NULL":
            return _const(T.T_NULL, None)
        if k == "BOOLEAN":
            return _const(T.T_BOOLEAN, e.value)
        if k == "INTEGER":
            return _const(T.T_INTEGER, e.value)
        if k == "BIGINT":
            return _const(T.T_BIGINT, e.value)
        if k == "DOUBLE":
            return _const(T.T_DOUBLE, float(e.value))
        if k == "DECIMAL":
            d: Decimal = e.value
            return _const(decimal_literal_type(d), d)
        if k == "BYTES":
            return _const(T.T_BYTES, e.value)
        return _const(T.T_STRING, e.value)

    def _c_ColumnRef(self, e: A.ColumnRef) -> Compiled:
        bound = self.lambda_vars.get(e.name) if e.source is None else None
        if bound is not None:
            cell = bound[1]
            return Compiled(bound[0], lambda r: cell[0])
        col = self.scope.resolve(e, self.clause)
        i = col.index
        return Compiled(col.type, lambda r: r[i], index=i)

    def _c_IntervalUnit(self, e: A.IntervalUnit) -> Compiled:
        return _const(T.T_STRING, e.unit)

    def _c_Lambda(self, e: A.Lambda) -> Compiled:
        raise KsqlUnsupportedError("Lambda functions are not supported by the embedded engine")

    # ------------------------------------------------------------------ structure access
    def _c_StructStar(self, e: A.StructStar) -> Compiled:
        raise KsqlStatementError(
            f"{A.format_expr(e)} is only valid as a top-level SELECT expression"
        )

    def _c_Dereference(self, e: A.Dereference) -> Compiled:
        base = self.compile(e.base)
        if base.type.base != T.STRUCT:
            raise KsqlStatementError(
                f"Expected STRUCT type, got: {base.type} for {A.format_expr(e.base)}"
            )
        ft = base.type.field_type(e.field)
        if ft is None:
            raise KsqlStatementError(
                f"Could not find field '{e.field}' in '{A.format_expr(e.base)}'."
            )
        bf, name = base.fn, e.field

        def deref(r: Row) -> Any:
            s = bf(r)
            return None if s is None else s.get(name)

        return Compiled(ft, deref)

    def _c_Subscript(self, e: A.Subscript) -> Compiled:
        base = self.compile(e.base)
        idx = self.compile(e.index)
        bf, xf = base.fn, idx.fn
        if base.type.base == T.ARRAY:
            assert base.type.item is not None

            def arr(r: Row) -> Any:
                a = bf(r)
                i = xf(r)
                if a is None or i is None:
                    return None
                n = len(a)
                if i > 0:
                    return a[i - 1] if i <= n else None
                if i < 0:
                    return a[n + i] if -i <= n else None
                return None

            return Compiled(base.type.item, arr)
        if base.type.base == T.MAP:
            assert base.type.item is not None

            def mp(r: Row) -> Any:
                m = bf(r)
                k = xf(r)
                if m is None or k is None:
                    return None
                return m.get(k)

            return Compiled(base.type.item, mp)
        raise KsqlStatementError(
            f"Subscript expression cannot be applied to type {base.type}: {A.format_expr(e)}"
        )

    # ------------------------------------------------------------------ functions
    def _c_FunctionCall(self, e: A.FunctionCall) -> Compiled:
        if e.name in LAMBDA_FUNCTIONS:
            return self._lambda_call(e)
        if e.name in TABLE_FUNCTIONS:
            raise KsqlUnsupportedError(
                messages.not_supported(
                    f"table function {e.name} outside the SELECT list of a stream query"
                )
            )
        if e.name in AGGREGATE_NAMES:
            raise KsqlStatementError(
                f"Use of aggregate function {e.name} requires a GROUP BY clause."
            )
        if not F.is_known(e.name):
            if e.name in NOT_IMPLEMENTED_FUNCTIONS:
                raise KsqlUnsupportedError(unimplemented_function(e.name))
            raise KsqlStatementError(f"Can't find any functions with the name '{e.name}'")
        args = [self.compile_nested(a) for a in e.args]
        res = F.resolve(e.name, [a.type for a in args])
        if res.check is not None:
            res.check([a.value if a.const else F.UNKNOWN for a in args])
        impl = res.impl
        fns = [a.fn for a in args]
        if res.type.base == T.NULL and e.name in ("COALESCE", "IFNULL"):
            raise KsqlStatementError(
                "Can't infer a type of null. Please explicitly cast it to a required type,"
                " e.g. CAST(null AS VARCHAR)."
            )
        if res.null_safe:
            if len(fns) == 1:
                f0 = fns[0]

                def call1(r: Row) -> Any:
                    v = f0(r)
                    return None if v is None else impl(v)

                fn: Fn = call1
            elif len(fns) == 2:
                f0, f1 = fns

                def call2(r: Row) -> Any:
                    a = f0(r)
                    if a is None:
                        return None
                    b = f1(r)
                    return None if b is None else impl(a, b)

                fn = call2
            else:

                def calln(r: Row) -> Any:
                    vals = [f(r) for f in fns]
                    if None in vals:
                        return None
                    return impl(*vals)

                fn = calln
        elif len(fns) == 2:
            f0, f1 = fns
            fn = lambda r: impl(f0(r), f1(r))  # noqa: E731
        else:
            fn = lambda r: impl(*[f(r) for f in fns])  # noqa: E731
        if e.name != "RANDOM" and args and all(a.const for a in args):
            try:
                v = fn(())
            except Exception:  # evaluated at run time instead (reported per record)
                return Compiled(res.type, fn)
            return _const(res.type, v)
        return Compiled(res.type, fn)

    # ------------------------------------------------------------------ lambdas
    def _lambda_body(
        self, fname: str, lam: A.Expr, types: Sequence[T.SqlType]
    ) -> tuple[Compiled, list[list[Any]]]:
        """Compile a lambda argument with its parameters bound to the given types."""
        if not isinstance(lam, A.Lambda) or len(lam.params) != len(types):
            want = "a lambda of " + str(len(types)) + " argument" + "s" * (len(types) > 1)
            raise KsqlStatementError(
                f"Function '{fname}' expects {want} here, got: {A.format_expr(lam)}"
            )
        if len(set(lam.params)) != len(lam.params):
            raise KsqlStatementError(f"Lambda arguments have duplicate names: {A.format_expr(lam)}")
        cells: list[list[Any]] = [[None] for _ in types]
        saved = dict(self.lambda_vars)
        for p, t, c in zip(lam.params, types, cells, strict=True):
            self.lambda_vars[p] = (t, c)
        try:
            body = self.compile(lam.body)
        finally:
            self.lambda_vars = saved
        return body, cells

    def _lambda_call(self, e: A.FunctionCall) -> Compiled:
        """TRANSFORM / FILTER / REDUCE over an array or a map (see `lambdas`)."""
        name, args = e.name, e.args
        if not args or isinstance(args[0], A.Lambda):
            raise F.bad_args(name, [])
        coll = self.compile_nested(args[0])
        ct = coll.type
        cf = coll.fn
        if ct.base not in (T.ARRAY, T.MAP) or ct.item is None:
            raise F.bad_args(name, [ct])
        if ct.base == T.ARRAY:
            elem = [ct.item]
        else:
            assert ct.key is not None
            elem = [ct.key, ct.item]
        n = len(elem)
        if name == "TRANSFORM":
            want = 2 if n == 2 else 1
        elif name == "FILTER":
            want = 1
        else:
            want = 2
        if len(args) != 1 + want:
            raise F.bad_args(name, [ct])
        if name == "FILTER":
            pred, cells = self._lambda_body(name, args[1], elem)
            if pred.type.base not in (T.BOOLEAN, T.NULL):
                raise KsqlStatementError(
                    f"Function '{name}' expects a lambda returning BOOLEAN, got {pred.type}"
                )
            pf = pred.fn
            if n == 1:
                c0 = cells[0]
                return Compiled(
                    ct,
                    lambda r: None if (a := cf(r)) is None else L.filter_array(a, c0, pf, r),
                )
            c2 = (cells[0], cells[1])
            return Compiled(
                ct, lambda r: None if (m := cf(r)) is None else L.filter_map(m, c2, pf, r)
            )
        if name == "TRANSFORM":
            if n == 1:
                body, cells = self._lambda_body(name, args[1], elem)
                bf, c0 = body.fn, cells[0]
                bt = body.type if body.type.base != T.NULL else T.T_STRING
                return Compiled(
                    T.array_of(bt),
                    lambda r: None if (a := cf(r)) is None else L.transform_array(a, c0, bf, r),
                )
            kbody, kc = self._lambda_body(name, args[1], elem)
            vbody, vc = self._lambda_body(name, args[2], elem)
            kf, vf = kbody.fn, vbody.fn
            kcs, vcs = (kc[0], kc[1]), (vc[0], vc[1])
            return Compiled(
                T.map_of(kbody.type, vbody.type),
                lambda r: None if (m := cf(r)) is None else L.transform_map(m, kcs, kf, vcs, vf, r),
            )
        # REDUCE(array, initial state, (state, item) => ...)
        if n == 2:
            raise KsqlUnsupportedError(
                messages.not_supported(
                    "REDUCE over a MAP (ksqlDB visits the entries in Java HashMap order, which"
                    " depends on how the map was built)"
                )
            )
        init = self.compile_nested(args[1])
        st = init.type
        if st.base == T.NULL:
            raise F.bad_args(name, [ct, st])
        body, cells = self._lambda_body(name, args[2], [st, *elem])
        if body.type != st and body.type.base != T.NULL:
            raise KsqlUnsupportedError(
                messages.not_supported(
                    f"REDUCE whose lambda returns {body.type} for a state of type {st}"
                )
            )
        bf, sf = body.fn, init.fn
        c2 = (cells[0], cells[1])

        def reduce_arr(r: Row) -> Any:
            s0 = sf(r)
            if s0 is None:
                return None
            a = cf(r)
            return s0 if a is None else L.reduce_array(a, s0, c2, bf, r)

        return Compiled(st, reduce_arr)

    # ------------------------------------------------------------------ CAST / CASE
    def _c_Cast(self, e: A.Cast) -> Compiled:
        inner = self.compile(e.expr)
        conv = cast_function(inner.type, e.type, A.format_expr(e.expr))
        f = inner.fn
        if inner.const:
            try:
                return _const(e.type, None if inner.value is None else conv(inner.value))
            except KsqlProcessingError:
                pass

        def cast(r: Row) -> Any:
            v = f(r)
            return None if v is None else conv(v)

        # ksqlDB evaluates a CAST (its operand included) "or returns null" on an error
        return Compiled(e.type, null_on_error(cast))

    def _c_Case(self, e: A.Case) -> Compiled:
        whens: list[tuple[Fn, Fn]] = []
        results: list[Compiled] = []
        operand = self.compile(e.operand) if e.operand is not None else None
        for cond, res in e.whens:
            if operand is not None:
                cc = self.compile(A.Comparison("=", e.operand, cond))  # type: ignore[arg-type]
            else:
                cc = self.compile(cond)
                if cc.type.base not in (T.BOOLEAN, T.NULL):
                    raise KsqlStatementError(
                        f"WHEN operand type should be boolean.{os_linesep()}Type for "
                        f"'{A.format_expr(cond)}' is {cc.type}"
                    )
            rc = self.compile(res)
            whens.append((cc.fn, rc.fn))
            results.append(rc)
        default = self.compile(e.default) if e.default is not None else None
        all_results = results + ([default] if default else [])
        known = [c.type for c in all_results if c.type.base != T.NULL]
        if not known:
            raise KsqlStatementError("Invalid Case expression. All case branches have NULL type")
        rt = known[0]
        for t in known[1:]:
            if t != rt:
                if t.is_numeric and rt.is_numeric:
                    rt = T.wider_numeric(rt, t)
                    continue
                raise KsqlStatementError(
                    "Invalid Case expression. Type for all 'THEN' clauses should be the same."
                    f"{os_linesep()}THEN expression '{A.format_expr(e.whens[0][1])}' "
                    f"has type: {rt}."
                    f"{os_linesep()}THEN expression 'x' has type: {t}."
                )
        df = default.fn if default else (lambda r: None)
        conv = _numeric_widener(rt)
        pairs = [(c, _widened(f, conv) if conv else f) for c, f in whens]
        dff = (lambda r: conv(df(r))) if conv else df

        def case(r: Row) -> Any:
            for c, f in pairs:
                if c(r):
                    return f(r)
            return dff(r)

        return Compiled(rt, case)

    # ------------------------------------------------------------------ predicates
    def _c_Comparison(self, e: A.Comparison) -> Compiled:
        left = self.compile(e.left)
        right = self.compile(e.right)
        lt, rt = left.type, right.type
        if e.op in ("IS_DISTINCT", "IS_NOT_DISTINCT"):
            lf, rf = left.fn, right.fn
            neg = e.op == "IS_NOT_DISTINCT"
            return Compiled(T.T_BOOLEAN, lambda r: (lf(r) != rf(r)) ^ neg)
        if lt.base == T.NULL or rt.base == T.NULL:
            raise KsqlStatementError(f"Comparison with NULL not supported: {lt} {e.op} {rt}")
        right = _magic_timestamp(e.left, right)
        left = _magic_timestamp(e.right, left)
        lt, rt = left.type, right.type
        check_comparable(e, lt, rt)
        left, right = _temporal_operands(left, right)
        lf, rf = left.fn, right.fn
        op = _COMPARE[e.op]
        if {lt.base, rt.base} == {T.DOUBLE, T.DECIMAL}:
            # ksqlDB compares a DOUBLE with a DECIMAL as BigDecimal.valueOf(double): the
            # double's shortest decimal text, so 11.1 = 11.1 holds (exact binary value does not)
            op = _decimal_double_compare(op)
        if right.const:
            rv = right.value
            if rv is None:
                return _const(T.T_BOOLEAN, False)

            # ksqlDB: a comparison with a NULL operand is false (not NULL)
            def cmp_const(r: Row) -> Any:
                a = lf(r)
                return False if a is None else op(a, rv)

            return Compiled(T.T_BOOLEAN, cmp_const)

        def cmp(r: Row) -> Any:
            a = lf(r)
            if a is None:
                return False
            b = rf(r)
            return False if b is None else op(a, b)

        return Compiled(T.T_BOOLEAN, cmp)

    def _c_Logical(self, e: A.Logical) -> Compiled:
        a = self.compile(e.left)
        b = self.compile(e.right)
        for side, c in ((e.left, a), (e.right, b)):
            if c.type.base not in (T.BOOLEAN, T.NULL):
                raise KsqlStatementError(
                    f"Logical binary expects a boolean argument, got {c.type}: "
                    f"{A.format_expr(side)}"
                )
        af, bf = a.fn, b.fn
        # SQL's three-valued logic: one side at `decides` settles it (False for AND, True for
        # OR), else NULL if either side is NULL, else the other value
        decides = e.op == "OR"

        def logical(r: Row) -> Any:
            x = af(r)
            if x is decides:
                return decides
            y = bf(r)
            if y is decides:
                return decides
            if x is None or y is None:
                return None
            return not decides

        return Compiled(T.T_BOOLEAN, logical)

    def _c_Not(self, e: A.Not) -> Compiled:
        a = self.compile(e.expr)
        if a.type.base not in (T.BOOLEAN, T.NULL):
            raise KsqlStatementError(
                f"NOT expects a boolean argument, got {a.type}: {A.format_expr(e.expr)}"
            )
        f = a.fn
        return Compiled(T.T_BOOLEAN, lambda r: None if (v := f(r)) is None else not v)

    def _c_IsNull(self, e: A.IsNull) -> Compiled:
        f = self.compile(e.expr).fn
        if e.negated:
            return Compiled(T.T_BOOLEAN, lambda r: f(r) is not None)
        return Compiled(T.T_BOOLEAN, lambda r: f(r) is None)

    def _c_Between(self, e: A.Between) -> Compiled:
        v = self.compile(e.expr)
        lo = self.compile(e.low)
        hi = self.compile(e.high)
        lo = _magic_timestamp(e.expr, lo)
        hi = _magic_timestamp(e.expr, hi)
        for other in (lo, hi):
            if other.type.base != T.NULL:
                check_comparable(A.Comparison(">=", e.expr, e.low), v.type, other.type)
        v, lo = _temporal_operands(v, lo)
        v, hi = _temporal_operands(v, hi)
        vf, lf, hf = v.fn, lo.fn, hi.fn
        neg = e.negated

        def between(r: Row) -> Any:
            x = vf(r)
            a = lf(r)
            b = hf(r)
            if x is None or a is None or b is None:
                return None
            return (not (a <= x <= b)) if neg else (a <= x <= b)

        return Compiled(T.T_BOOLEAN, between)

    def _c_InList(self, e: A.InList) -> Compiled:
        v = self.compile(e.expr)
        target = v.type
        items: list[Fn] = []
        consts: list[Any] = []
        all_const = True
        # ksqlDB reports a DECIMAL operand widened with the list's numeric literals
        display = target
        if target.base == T.DECIMAL:
            for item in e.items:
                if isinstance(item, A.Literal) and item.kind in ("INTEGER", "BIGINT", "DECIMAL"):
                    lt = T.decimal_for_int(self._c_Literal(item).type)
                    scale = max(display.scale, lt.scale)
                    prec = max(display.precision - display.scale, lt.precision - lt.scale) + scale
                    display = T.SqlType(T.DECIMAL, precision=prec, scale=scale)
        for item in e.items:
            c = coerce_in_item(self, item, target, display)
            items.append(c.fn)
            if c.const:
                consts.append(c.value)
            else:
                all_const = False
        vf = v.fn
        neg = e.negated
        if all_const and target.is_primitive and target.base != T.DECIMAL:
            values = frozenset(x for x in consts if x is not None)

            def in_set(r: Row) -> Any:
                x = vf(r)
                if x is None:
                    return None
                return (x not in values) if neg else (x in values)

            return Compiled(T.T_BOOLEAN, in_set)

        def in_list(r: Row) -> Any:
            x = vf(r)
            if x is None:
                return None
            found = False
            for f in items:
                y = f(r)
                if y is not None and _deep_eq(x, y):
                    found = True
                    break
            return (not found) if neg else found

        return Compiled(T.T_BOOLEAN, in_list)

    def _c_Like(self, e: A.Like) -> Compiled:
        v = self.compile(e.expr)
        p = self.compile(e.pattern)
        if v.type.base not in (T.STRING, T.NULL) or p.type.base not in (T.STRING, T.NULL):
            raise KsqlStatementError(
                f"Function 'LIKE' does not accept parameters ({v.type}, {p.type})."
            )
        vf, pf = v.fn, p.fn
        esc = e.escape
        neg = e.negated
        if p.const:
            if p.value is None:
                return _const(T.T_BOOLEAN, None)
            rx = like_regex(p.value, esc)

            def like_c(r: Row) -> Any:
                s = vf(r)
                if s is None:
                    return None
                m = rx.fullmatch(s) is not None
                return (not m) if neg else m

            return Compiled(T.T_BOOLEAN, like_c)

        def like(r: Row) -> Any:
            s = vf(r)
            pat = pf(r)
            if s is None or pat is None:
                return None
            m = like_regex(pat, esc).fullmatch(s) is not None
            return (not m) if neg else m

        return Compiled(T.T_BOOLEAN, like)

    # ------------------------------------------------------------------ arithmetic
    def _c_Arithmetic(self, e: A.Arithmetic) -> Compiled:
        a = self.compile(e.left)
        b = self.compile(e.right)
        at, bt = a.type, b.type
        if e.op == "+" and at.base == T.STRING and bt.base == T.STRING:
            af, bf = a.fn, b.fn
            return Compiled(
                T.T_STRING,
                lambda r: None if (x := af(r)) is None or (y := bf(r)) is None else x + y,
            )
        if at.base == T.NULL or bt.base == T.NULL:

            def tn(t: T.SqlType) -> str:
                return "null" if t.base == T.NULL else str(t)

            raise KsqlStatementError(
                f"Error processing expression: {A.format_expr(e)}. Arithmetic on types "
                f"{tn(at)} and {tn(bt)} are not supported."
            )
        if not (at.is_numeric and bt.is_numeric):
            raise KsqlStatementError(
                f"Error processing expression: {A.format_expr(e)}. Unsupported arithmetic "
                f"types. {at.base} {bt.base}"
            )
        rt, op = arithmetic_op(e.op, at, bt)
        af, bf = a.fn, b.fn
        if a.const and b.const and a.value is not None and b.value is not None:
            try:
                return _const(rt, op(a.value, b.value))
            except (ArithmeticError, KsqlProcessingError):
                pass

        if self.lambda_vars:
            # inside a lambda body ksqlDB's generated Java unboxes the operands: a NULL one
            # fails the whole expression (NULL, with a processing-log entry)
            def strict_arith(r: Row) -> Any:
                x = af(r)
                y = bf(r)
                if x is None or y is None:
                    raise KsqlProcessingError(_NULL_IN_LAMBDA + A.format_expr(e))
                return op(x, y)

            return Compiled(rt, strict_arith)

        def arith(r: Row) -> Any:
            x = af(r)
            if x is None:
                return None
            y = bf(r)
            if y is None:
                return None
            return op(x, y)

        return Compiled(rt, arith)

    def _c_Negate(self, e: A.Negate) -> Compiled:
        a = self.compile(e.expr)
        if not a.type.is_numeric:
            raise KsqlStatementError(f"Unsupported arithmetic type for negation: {a.type}")
        f = a.fn
        if self.lambda_vars:
            neg = T.DECIMAL_CONTEXT.minus if a.type.base == T.DECIMAL else (lambda v: -v)
            text = A.format_expr(e)

            def strict_neg(r: Row) -> Any:
                v = f(r)
                if v is None:
                    raise KsqlProcessingError(_NULL_IN_LAMBDA + text)
                return neg(v)

            return Compiled(a.type, strict_neg)
        if a.type.base == T.DECIMAL:
            minus = T.DECIMAL_CONTEXT.minus
            return Compiled(a.type, lambda r: None if (v := f(r)) is None else minus(v))
        return Compiled(a.type, lambda r: None if (v := f(r)) is None else -v)

    # ------------------------------------------------------------------ constructors
    def _c_ArrayCtor(self, e: A.ArrayCtor) -> Compiled:
        if not e.items:
            raise KsqlStatementError(
                "Array constructor cannot be empty. Please supply at least one element (see "
                "https://github.com/confluentinc/ksql/issues/4239)."
            )
        items = [self.compile_nested(i, always=True) for i in e.items]
        if all(i.type.base == T.NULL for i in items):
            raise KsqlStatementError(
                "Cannot construct an array with all NULL elements (see "
                "https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may "
                "cast a NULL value to the desired type."
            )
        it, fns = coerce_items(items, A.format_expr(e))
        return Compiled(T.array_of(it), lambda r: [f(r) for f in fns])

    def _c_MapCtor(self, e: A.MapCtor) -> Compiled:
        if not e.entries:
            raise KsqlStatementError(
                "Map constructor cannot be empty. Please supply at least one key value pair "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        keys = [self.compile_nested(k, always=True) for k, _ in e.entries]
        vals = [self.compile_nested(v, always=True) for _, v in e.entries]
        if all(k.type.base == T.NULL for k in keys):
            raise KsqlStatementError("Cannot construct a map with all NULL keys")
        if all(v.type.base == T.NULL for v in vals):
            raise KsqlStatementError("Cannot construct a map with all NULL values")
        kt, kfns = coerce_items(keys, A.format_expr(e))
        vt, vfns = coerce_items(vals, A.format_expr(e))
        pairs = list(zip(kfns, vfns, strict=True))
        return Compiled(T.map_of(kt, vt), lambda r: {k(r): v(r) for k, v in pairs})

    def _c_StructCtor(self, e: A.StructCtor) -> Compiled:
        names = [n for n, _ in e.fields]
        if len(set(names)) != len(names):
            raise KsqlStatementError("Duplicate field names found in STRUCT")
        fields = [(n, self.compile_nested(v, always=True)) for n, v in e.fields]
        st = T.struct_of([(n, c.type if c.type.base != T.NULL else T.T_STRING) for n, c in fields])
        fns = [(n, c.fn) for n, c in fields]
        return Compiled(st, lambda r: {n: f(r) for n, f in fns})


def _string_literal(c: Compiled) -> bool:
    return c.const and c.type.base == T.STRING and isinstance(c.value, str)


_INT_AS_DECIMAL = {T.INTEGER: (10, 0), T.BIGINT: (19, 0)}


def _widen_exact(a: T.SqlType, b: T.SqlType) -> T.SqlType:
    """ksqlDB's common numeric type: an integer meeting a DECIMAL becomes DECIMAL(10|19, 0)
    and the DECIMALs combine their integer digits and scales."""
    if T.DECIMAL not in (a.base, b.base) or T.DOUBLE in (a.base, b.base):
        return T.wider_numeric(a, b)
    pa = _INT_AS_DECIMAL.get(a.base, (a.precision, a.scale))
    pb = _INT_AS_DECIMAL.get(b.base, (b.precision, b.scale))
    scale = max(pa[1], pb[1])
    return T.decimal_type(max(pa[0] - pa[1], pb[0] - pb[1]) + scale, scale)


def _common_item_type(types: list[T.SqlType], text: str) -> T.SqlType:
    it = types[0]
    for t in types[1:]:
        if t == it:
            continue
        if t.is_numeric and it.is_numeric:
            it = _widen_exact(it, t)
        elif it.base == T.STRING or t.base == T.STRING:
            it = T.T_STRING
        elif it.base == T.STRUCT and t.base == T.STRUCT:
            fields = dict(it.fields)
            for n, ft in t.fields:
                fields.setdefault(n, ft)
            it = T.struct_of(list(fields.items()))
        else:
            raise KsqlStatementError(f'invalid input syntax for type {it}: "{text}"')
    return it


def _literal_as(value: str, t: T.SqlType) -> Any:
    """A string literal read as `t` (ksqlDB's constructor coercion), or its error."""
    bad = KsqlStatementError(f'invalid input syntax for type {t}: "{value}".')
    if t.base == T.BOOLEAN:
        low = value.strip().lower()
        if low in ("true", "t", "yes", "y"):
            return True
        if low in ("false", "f", "no", "n"):
            return False
        raise bad
    if t.is_numeric:
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise bad from None
        if t.base in (T.INTEGER, T.BIGINT):
            if d != d.to_integral_value():
                raise bad
            return int(d)
        if t.base == T.DOUBLE:
            return float(d)
        return d.quantize(T.decimal_quantum(t.scale), context=T.DECIMAL_CONTEXT)
    if t.base in TEMPORAL:
        try:
            return parse_temporal(t.base)(value)
        except KsqlProcessingError:
            raise bad from None
    raise bad


def coerce_items(items: list[Compiled], text: str) -> tuple[T.SqlType, list[Fn]]:
    """The element type and converters of an ARRAY[...] / MAP(...) constructor: string
    literals take the type of the other elements (parsed, or ksqlDB's 'invalid input syntax'
    error), numbers widen, structs merge their fields (missing ones NULL)."""
    typed = [i.type for i in items if i.type.base != T.NULL and not _string_literal(i)]
    if not typed:
        return T.T_STRING, [i.fn for i in items]
    it = _common_item_type(typed, text)
    if it.is_numeric:
        # a numeric string literal joins the widening as the DECIMAL it spells
        for i in items:
            if _string_literal(i):
                try:
                    d = Decimal(i.value.strip())
                except InvalidOperation:
                    raise KsqlStatementError(
                        f'invalid input syntax for type {it}: "{i.value}".'
                    ) from None
                if d.is_finite():
                    it = _widen_exact(it, decimal_literal_type(d))
    fns: list[Fn] = []
    for i in items:
        if i.type.base == T.NULL or i.type == it:
            fns.append(i.fn)
        elif _string_literal(i) and it.base != T.STRING:
            fns.append(_constant_fn(_literal_as(i.value, it)))
        elif it.base == T.STRING:
            fns.append(_as_text(i.fn, i.type))
        elif it.base == T.STRUCT:
            fns.append(_padded_struct(i.fn, [n for n, _ in it.fields]))
        else:
            conv = _numeric_widener(it)
            fns.append(_widened(i.fn, conv) if conv else i.fn)
    return it, fns


def _constant_fn(v: Any) -> Fn:
    return lambda r: v


def _as_text(f: Fn, t: T.SqlType) -> Fn:
    return lambda r: None if (x := f(r)) is None else to_string(x, t)


def _padded_struct(f: Fn, names: list[str]) -> Fn:
    """A struct value with every field of the merged struct type (missing ones NULL)."""
    return lambda r: None if (x := f(r)) is None else {n: x.get(n) for n in names}


def _widened(f: Fn, conv: Callable[[Any], Any]) -> Fn:
    return lambda r: conv(f(r))


def os_linesep() -> str:
    return "\n"


# ksqlDB built-ins (and QTT test-only UDFs) that this engine does not implement: using
# them is reported as unsupported, not as an unknown function.
NOT_IMPLEMENTED_FUNCTIONS = frozenset(
    {
        "MAP_KEYS",
        "MAP_VALUES",
        "UUID",
        "DIFFERENCE",
        "SOUNDEX",
        "MASK_LEFT_LAST",
        "LOG10",
    }
)

TEST_ONLY_FUNCTIONS = frozenset(
    {
        "TEST_UDTF",
        "THROWING_UDTF",
        "TEST_UDAF",
        "GENERIC_VAR_ARG",
        "MID_VAR_ARG",
        "MULTI_ARG",
        "OBJ_COL_ARG",
        "VAR_ARG",
        "FOUR_ARG",
        "FIVE_ARG",
        "TOSTRUCT",
        "WHENCONDITION",
        "WHENRESULT",
        "BAD_UDF",
        "TEST_UDF",
        "BAD_TEST_UDF",
    }
)
"""UDFs, UDAFs and UDTFs compiled into ksqlDB's functional-test classpath only."""
NOT_IMPLEMENTED_FUNCTIONS = NOT_IMPLEMENTED_FUNCTIONS | TEST_ONLY_FUNCTIONS


def unimplemented_function(name: str) -> str:
    """The refusal of a function ksqlDB has (or its test suite defines) that is not computed."""
    if name in TEST_ONLY_FUNCTIONS:
        return messages.not_supported(f"function {name} (a UDF of ksqlDB's test suite only)")
    if name in ("MAP_KEYS", "MAP_VALUES"):
        return messages.not_supported(
            f"function {name} (its order is Java HashMap iteration order, which depends on how"
            " the map was built)"
        )
    return messages.not_supported(f"function {name}")


AGGREGATE_NAMES = frozenset(
    {
        "COUNT",
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "LATEST_BY_OFFSET",
        "EARLIEST_BY_OFFSET",
        "COLLECT_LIST",
        "COLLECT_SET",
        "TOPK",
        "TOPKDISTINCT",
        "SUM_LIST",
        "COUNT_DISTINCT",
        "HISTOGRAM",
        "STDDEV_SAMPLE",
        "STDDEV_SAMP",
        "CORRELATION",
        "ATTR",
    }
)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_OP_NAMES = {
    "=": "EQUAL",
    "<>": "NOT_EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
}


_TIME_COLUMNS = ("ROWTIME", "WINDOWSTART", "WINDOWEND")


def _magic_timestamp(col: A.Expr, other: Compiled) -> Compiled:
    """ROWTIME / WINDOWSTART / WINDOWEND compared with a string literal: ksqlDB reads the
    literal as a timestamp (epoch millis), its 'magic' timestamp conversion."""
    if (
        isinstance(col, A.ColumnRef)
        and col.name in _TIME_COLUMNS
        and other.const
        and other.type.base == T.STRING
        and isinstance(other.value, str)
    ):
        return _const(T.T_BIGINT, parse_partial_timestamp(other.value))
    return other


def _temporal_operands(left: Compiled, right: Compiled) -> tuple[Compiled, Compiled]:
    """Comparable forms of a temporal comparison: a STRING side parsed as the other side's
    temporal type, a DATE side widened to TIMESTAMP millis; other operands unchanged."""
    lt, rt = left.type.base, right.type.base
    if lt == rt or not ({lt, rt} & set(TEMPORAL)):
        return left, right

    def convert(c: Compiled, conv: Callable[[Any], Any], t: T.SqlType) -> Compiled:
        fn = c.fn
        if c.const:
            v = None if c.value is None else conv(c.value)
            return _const(t, v)
        return Compiled(t, lambda r: None if (x := fn(r)) is None else conv(x))

    if {lt, rt} == {T.DATE, T.TIMESTAMP}:
        to_ts = temporal_converter(T.DATE, T.TIMESTAMP)
        assert to_ts is not None
        if lt == T.DATE:
            return convert(left, to_ts, right.type), right
        return left, convert(right, to_ts, left.type)
    if lt == T.STRING:
        return convert(left, parse_temporal(rt), right.type), right
    if rt == T.STRING:
        return left, convert(right, parse_temporal(lt), left.type)
    return left, right


def check_comparable(e: A.Comparison, lt: T.SqlType, rt: T.SqlType) -> None:
    ok = False
    if lt.is_numeric and rt.is_numeric:
        ok = True
    elif lt.base == rt.base and lt.base in (T.STRING, T.BOOLEAN, T.BYTES):
        ok = lt.base != T.BOOLEAN or e.op in ("=", "<>")
    elif lt.base == rt.base and lt.base in (T.DATE, T.TIME, T.TIMESTAMP):
        ok = True
    elif {lt.base, rt.base} == {T.DATE, T.TIMESTAMP}:
        ok = True  # the DATE is widened to its midnight TIMESTAMP
    elif {lt.base, rt.base} & set(TEMPORAL) and T.STRING in (lt.base, rt.base):
        ok = True  # the string is read as the temporal type's text form
    elif lt.base == rt.base and lt.base in (T.ARRAY, T.MAP, T.STRUCT):
        ok = e.op in ("=", "<>")
    if not ok:
        raise KsqlStatementError(
            f"Cannot compare {A.format_expr(e.left)} ({lt}) to {A.format_expr(e.right)} "
            f"({rt}) with {_OP_NAMES.get(e.op, e.op)}."
        )


def _decimal_double_compare(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def as_dec(v: Any) -> Any:
        return Decimal(repr(v)) if isinstance(v, float) and math.isfinite(v) else v

    def compare(a: Any, b: Any) -> Any:
        a, b = as_dec(a), as_dec(b)
        if isinstance(a, float) or isinstance(b, float):  # NaN / infinity: as doubles
            return op(float(a), float(b))
        return op(a, b)

    return compare


def _deep_eq(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except InvalidOperation:
            return False
    return bool(a == b)


def _numeric_widener(t: T.SqlType) -> Callable[[Any], Any] | None:
    if t.base == T.DOUBLE:
        return lambda v: None if v is None else float(v)
    if t.base == T.DECIMAL:
        return lambda v: None if v is None else Decimal(v) if not isinstance(v, Decimal) else v
    return None


def decimal_literal_type(d: Decimal) -> T.SqlType:
    _sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    scale = max(-exp, 0)
    precision = max(len(digits), scale)
    if exp > 0:
        precision = len(digits) + exp
    return T.SqlType(T.DECIMAL, precision=max(precision, 1), scale=scale)


def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


# ----------------------------------------------------------------------------- arithmetic


def wrap_int(v: int) -> int:
    if T.INT_MIN <= v <= T.INT_MAX:
        return v
    return ((v - T.INT_MIN) % 2**32) + T.INT_MIN


def wrap_long(v: int) -> int:
    if T.LONG_MIN <= v <= T.LONG_MAX:
        return v
    return ((v - T.LONG_MIN) % 2**64) + T.LONG_MIN


def _java_int_div(a: int, b: int) -> int:
    if b == 0:
        raise KsqlProcessingError("/ by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _java_int_mod(a: int, b: int) -> int:
    if b == 0:
        raise KsqlProcessingError("/ by zero")
    return a - b * _java_int_div(a, b)


def _double_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.inf if (a > 0) == (str(float(b))[0] != "-") else -math.inf


def _double_mod(a: float, b: float) -> float:
    if b == 0:
        return math.nan
    return math.fmod(a, b)


def decimal_result_type(op: str, a: T.SqlType, b: T.SqlType) -> T.SqlType:
    """ksqlDB's DECIMAL arithmetic result precision/scale (DecimalUtil)."""
    p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
    if op in "+-":
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + scale + 1
    elif op == "*":
        precision = p1 + p2 + 1
        scale = s1 + s2
    elif op == "/":
        scale = max(6, s1 + p2 + 1)
        precision = p1 - s1 + s2 + scale
    else:  # %
        scale = max(s1, s2)
        precision = min(p1 - s1, p2 - s2) + scale
    precision = min(precision, 38)
    scale = min(scale, precision)
    return T.SqlType(T.DECIMAL, precision=max(precision, 1), scale=scale)


def arithmetic_op(
    op: str, at: T.SqlType, bt: T.SqlType
) -> tuple[T.SqlType, Callable[[Any, Any], Any]]:
    if at.base == T.DOUBLE or bt.base == T.DOUBLE:
        fns: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: float(a) + float(b),
            "-": lambda a, b: float(a) - float(b),
            "*": lambda a, b: float(a) * float(b),
            "/": lambda a, b: _double_div(float(a), float(b)),
            "%": lambda a, b: _double_mod(float(a), float(b)),
        }
        return T.T_DOUBLE, fns[op]
    if at.base == T.DECIMAL or bt.base == T.DECIMAL:
        da, db = T.decimal_for_int(at), T.decimal_for_int(bt)
        rt = decimal_result_type(op, da, db)
        q = T.decimal_quantum(rt.scale)
        ctx = T.DECIMAL_CONTEXT

        def dec(fn: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Any, Any], Any]:
            def run(a: Any, b: Any) -> Any:
                try:
                    return fn(Decimal(a), Decimal(b)).quantize(
                        q, rounding=ROUND_HALF_UP, context=ctx
                    )
                except (InvalidOperation, ZeroDivisionError) as exc:
                    raise KsqlProcessingError(f"Decimal arithmetic failed: {exc}") from None

            return run

        dfns = {
            "+": dec(ctx.add),
            "-": dec(ctx.subtract),
            "*": dec(ctx.multiply),
            "/": dec(ctx.divide),
            "%": dec(ctx.remainder),
        }
        return rt, dfns[op]
    wrap = wrap_long if T.BIGINT in (at.base, bt.base) else wrap_int
    rt = T.T_BIGINT if wrap is wrap_long else T.T_INTEGER
    ifns: dict[str, Callable[[Any, Any], Any]] = {
        "+": lambda a, b: wrap(a + b),
        "-": lambda a, b: wrap(a - b),
        "*": lambda a, b: wrap(a * b),
        "/": lambda a, b: wrap(_java_int_div(a, b)),
        "%": lambda a, b: _java_int_mod(a, b),
    }
    return rt, ifns[op]


# ----------------------------------------------------------------------------- CAST


_TRUE_WORDS = ("true", "yes")
_FALSE_WORDS = ("false", "no")


def parse_boolean(s: str) -> bool | None:
    """ksqlDB's lenient boolean parsing: any prefix of true/false/yes/no, case-insensitive."""
    t = s.strip().lower()
    if not t:
        return None
    if any(w.startswith(t) for w in _TRUE_WORDS):
        return True
    if any(w.startswith(t) for w in _FALSE_WORDS):
        return False
    return None


def _java_trunc_int(v: float, lo: int, hi: int) -> int:
    if v != v:
        return 0
    if v >= hi:
        return hi
    if v <= lo:
        return lo
    return int(v)


def _parse_int_str(s: str, lo: int, hi: int, tname: str) -> int:
    t = s.strip()
    try:
        v = int(t)
    except ValueError:
        try:
            d = Decimal(t)
        except InvalidOperation:
            raise KsqlProcessingError(f'invalid input syntax for type {tname}: "{s}"') from None
        v = int(d)
    if not lo <= v <= hi:
        raise KsqlProcessingError(f'invalid input syntax for type {tname}: "{s}"')
    return v


def to_string(v: Any, t: T.SqlType) -> str:
    """Java-compatible text form of a value (CAST(x AS STRING), DELIMITED)."""
    if t.base in TEMPORAL and isinstance(v, int) and not isinstance(v, bool):
        return format_temporal(v, t.base)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return T.java_double_str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return "[" + ", ".join("null" if x is None else to_string(x, t.item or t) for x in v) + "]"
    if isinstance(v, dict) and t.base == T.STRUCT:
        # Kafka Connect Struct.toString(): null fields are omitted
        return (
            "Struct{"
            + ",".join(
                f"{k}={to_string(x, t.field_type(k) or t)}" for k, x in v.items() if x is not None
            )
            + "}"
        )
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(
                f"{k}={'null' if x is None else to_string(x, t.item or t)}" for k, x in v.items()
            )
            + "}"
        )
    return str(v)


def cast_function(src: T.SqlType, dst: T.SqlType, text: str) -> Callable[[Any], Any]:
    """A converter from `src` values to `dst` values, or a statement error if unsupported."""
    s, d = src.base, dst.base
    if src == dst or s == T.NULL:
        return lambda v: v
    if d == T.STRING and (s in (T.ARRAY, T.MAP, T.STRUCT) or src.is_primitive):
        return lambda v: to_string(v, src)
    conv: Callable[[Any], Any] | None = None
    if d in (T.INTEGER, T.BIGINT):
        conv = _cast_to_integer(s, d)
    elif d == T.DOUBLE:
        conv = _cast_to_double(s)
    elif d == T.DECIMAL:
        conv = _cast_to_decimal(s, dst)
    elif d == T.BOOLEAN and s == T.STRING:
        conv = _cast_string_to_boolean
    elif d in (T.ARRAY, T.MAP, T.STRUCT) and s == d:
        conv = _cast_container(src, dst, text)
    elif d in TEMPORAL and s == T.STRING:
        conv = parse_temporal(d)
    elif d in TEMPORAL and s in TEMPORAL:
        conv = temporal_converter(s, d)
    if conv is not None:
        return conv
    if s in (T.TIMESTAMP, T.DATE, T.TIME) or d in (T.TIMESTAMP, T.DATE, T.TIME, T.BYTES):
        raise KsqlUnsupportedError(
            f"Cast of {src} to {dst} is not supported by the embedded engine"
        )
    raise KsqlStatementError(f"Cast of {src} to {dst} is not supported")


def _cast_to_integer(s: str, d: str) -> Callable[[Any], Any] | None:
    lo, hi = (T.INT_MIN, T.INT_MAX) if d == T.INTEGER else (T.LONG_MIN, T.LONG_MAX)
    if s == T.STRING:
        return lambda v: _parse_int_str(v, lo, hi, d)
    if s in (T.INTEGER, T.BIGINT):
        return (lambda v: wrap_int(v)) if d == T.INTEGER else (lambda v: v)
    if s == T.DOUBLE:
        return lambda v: _java_trunc_int(v, lo, hi)
    if s == T.DECIMAL:
        return lambda v: wrap_int(int(v)) if d == T.INTEGER else wrap_long(int(v))
    return None


def _cast_to_double(s: str) -> Callable[[Any], Any] | None:
    if s in (T.INTEGER, T.BIGINT, T.DECIMAL):
        return float
    if s == T.STRING:

        def sd(v: str) -> float:
            try:
                return float(v.strip())
            except ValueError:
                raise KsqlProcessingError(f'invalid input syntax for type DOUBLE: "{v}"') from None

        return sd
    return None


def _cast_to_decimal(s: str, dst: T.SqlType) -> Callable[[Any], Any] | None:
    if s not in (T.INTEGER, T.BIGINT, T.DOUBLE, T.DECIMAL, T.STRING):
        return None
    q = T.decimal_quantum(dst.scale)
    limit = Decimal(f"1E{dst.precision - dst.scale}")

    def to_dec(v: Any) -> Decimal:
        try:
            x = (
                Decimal(v.strip())
                if isinstance(v, str)
                else Decimal(repr(v) if isinstance(v, float) else v)
            )
        except InvalidOperation:
            raise KsqlProcessingError(f'invalid input syntax for type DECIMAL: "{v}"') from None
        r = x.quantize(q, rounding=ROUND_HALF_UP, context=T.DECIMAL_CONTEXT)
        if r.copy_abs() >= limit:
            raise KsqlProcessingError(
                f"Numeric field overflow: A field with precision {dst.precision} and "
                f"scale {dst.scale} must round to an absolute value less than "
                f"10^{dst.precision - dst.scale}. Got {v}"
            )
        return r

    return to_dec


def _cast_string_to_boolean(v: str) -> bool:
    b = parse_boolean(v)
    if b is None:
        raise KsqlProcessingError(f'invalid input syntax for type BOOLEAN: "{v}"')
    return b


def _cast_container(src: T.SqlType, dst: T.SqlType, text: str) -> Callable[[Any], Any] | None:
    d = dst.base
    if d == T.ARRAY and src.item and dst.item:
        inner = cast_function(src.item, dst.item, text)
        return lambda v: [None if x is None else inner(x) for x in v]
    if d == T.MAP and src.item and dst.item and src.key and dst.key:
        kc = cast_function(src.key, dst.key, text)
        vc = cast_function(src.item, dst.item, text)
        return lambda v: {kc(k): None if x is None else vc(x) for k, x in v.items()}
    if d == T.STRUCT:
        convs = []
        for n, ft in dst.fields:
            st = src.field_type(n)
            convs.append((n, cast_function(st, ft, text) if st else None))
        return lambda v: {
            n: (None if c is None or v.get(n) is None else c(v.get(n))) for n, c in convs
        }
    return None


def coerce_in_item(
    comp: ExpressionCompiler, item: A.Expr, target: T.SqlType, display: T.SqlType | None = None
) -> Compiled:
    """Type an IN-list item against the tested expression's type, converting literals."""
    c = comp.compile(item)
    if c.type.base == T.NULL:
        return c
    if is_literalish(item):
        try:
            v = coerce_literal(item, c, target)
        except KsqlProcessingError as exc:
            msg = str(exc)
            if isinstance(item, A.Literal) and not msg.endswith("."):
                msg += "."
            raise KsqlStatementError(f"Invalid Predicate: {msg}") from None
        if v is not _NO:
            return _const(target, v)
    if (
        c.type == target
        or (c.type.is_numeric and target.is_numeric)
        or T.can_implicitly_cast(c.type, target)
        or T.can_implicitly_cast(target, c.type)
        or _loosely_comparable(c.type, target)
    ):
        return c
    hint = "\nHint: You might need to add explicit type casts." if target.base == T.BOOLEAN else ""
    raise KsqlStatementError(
        f"Invalid Predicate: operator does not exist: {display or target} = {c.type} "
        f"({A.format_expr(item)}){hint}"
    )


_NO = object()


def _loosely_comparable(a: T.SqlType, b: T.SqlType) -> bool:
    """Struct/array/map types whose shared parts have comparable types (IN lists)."""
    if a.is_numeric and b.is_numeric:
        return True
    if a.base != b.base:
        return False
    if a.base == T.STRUCT:
        return all(
            _loosely_comparable(ft, b.field_type(n))  # type: ignore[arg-type]
            for n, ft in a.fields
            if b.field_type(n) is not None
        )
    if a.base in (T.ARRAY, T.MAP) and a.item and b.item:
        return _loosely_comparable(a.item, b.item)
    return a == b


def is_literalish(e: A.Expr) -> bool:
    if isinstance(e, A.Literal):
        return True
    if isinstance(e, A.ArrayCtor):
        return all(is_literalish(i) for i in e.items)
    if isinstance(e, A.MapCtor):
        return all(is_literalish(k) and is_literalish(v) for k, v in e.entries)
    if isinstance(e, A.StructCtor):
        return all(is_literalish(v) for _, v in e.fields)
    if isinstance(e, A.Cast):
        return is_literalish(e.expr)
    return False


def _coerce_string_literal(v: str, tb: str) -> Any:
    """A string literal where a `tb` value is expected: parsed, or _NO."""
    if tb == T.STRING:
        return v
    if tb in (T.INTEGER, T.BIGINT):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise KsqlProcessingError(f'invalid input syntax for type {tb}: "{v}"') from None
        return int(d) if d == int(d) else d
    if tb == T.DOUBLE:
        try:
            return float(v.strip())
        except ValueError:
            raise KsqlProcessingError(f'invalid input syntax for type DOUBLE: "{v}"') from None
    if tb == T.DECIMAL:
        try:
            return Decimal(v.strip())
        except InvalidOperation:
            raise KsqlProcessingError(f'invalid input syntax for type DECIMAL: "{v}"') from None
    if tb == T.BOOLEAN:
        b = parse_boolean(v)
        if b is None:
            raise KsqlProcessingError(f'invalid input syntax for type BOOLEAN: "{v}".')
        return b
    return _NO


def coerce_literal(e: A.Expr, c: Compiled, target: T.SqlType) -> Any:
    """Convert a literal to `target` (string literals are parsed) or return _NO."""
    if isinstance(e, A.Cast):
        return _NO
    if isinstance(e, A.Literal):
        v = e.value
        if v is None:
            return None
        tb = target.base
        if e.kind == "STRING":
            return _coerce_string_literal(v, tb)
        if tb == T.STRING and e.kind != "NULL":
            if e.kind == "BOOLEAN":
                return "true" if v else "false"
            return str(v)
        if target.is_numeric and e.kind in ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE"):
            return v
        if tb == T.BOOLEAN and e.kind == "BOOLEAN":
            return v
        return _NO
    if isinstance(e, A.ArrayCtor) and target.base == T.ARRAY and target.item:
        out = []
        for item in e.items:
            ci = coerce_literal(item, c, target.item)
            if ci is _NO:
                return _NO
            out.append(ci)
        return out
    if isinstance(e, A.MapCtor) and target.base == T.MAP and target.item and target.key:
        m = {}
        for k, x in e.entries:
            kk = coerce_literal(k, c, target.key)
            vv = coerce_literal(x, c, target.item) if not isinstance(x, A.Cast) else None
            if kk is _NO or vv is _NO:
                return _NO
            m[kk] = vv
        return m
    if isinstance(e, A.StructCtor) and target.base == T.STRUCT:
        s: dict[str, Any] = {n: None for n, _ in target.fields}
        for n, x in e.fields:
            ft = target.field_type(n)
            if ft is None:
                return _NO
            vv = coerce_literal(x, c, ft) if not isinstance(x, A.Cast) else None
            if vv is _NO:
                return _NO
            s[n] = vv
        return s
    return _NO
