"""INSERT INTO ... VALUES: one statement's literals to one serialized record.

The values are evaluated like expressions (no input row), cast to the target's column types,
serialized with the target's key and value formats; ROWTIME, when given, is the record's
timestamp (else now). The caller produces the record; nothing is recorded for replay.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, cast_function
from fraudstream.ksql.engine.formats import SchemaRegistryLike, make_serde
from fraudstream.ksql.engine.topology import Column, DataSource, OutRecord
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import ast as A

__all__ = ["unknown_target", "values_record"]


def unknown_target(name: str, sources: Mapping[str, DataSource]) -> KsqlStatementError:
    """ksqlDB's error for an unknown target, with its hint about quoting a name's case."""
    hint = ""
    similar = [n for n in sources if n.upper() == name.upper()]
    if similar and name == name.upper():
        hint = (
            f'\nDid you mean "{similar[0]}"? Hint: wrap the source name in double '
            "quotes to make it case-sensitive."
        )
    elif similar:
        hint = (
            f"\nDid you mean {similar[0]}? Hint: try removing double quotes from the source name."
        )
    return KsqlStatementError(f"Cannot insert values into an unknown stream/table: `{name}`{hint}")


def _column_values(stmt: A.InsertValues, target: DataSource) -> tuple[dict[str, Any], Any]:
    """The values by column name (cast to the column types) and the ROWTIME given, if any."""
    names = stmt.columns if stmt.columns is not None else [c.name for c in target.columns]
    headers = [c.name for c in target.header_columns if c.name in names]
    if headers:
        raise KsqlStatementError(f"Cannot insert into HEADER columns: {', '.join(headers)}")
    if len(names) != len(stmt.values):
        raise KsqlStatementError(
            f"Expected a value for each column. Expected Columns: {names}. Got "
            f"{[A.format_expr(v) for v in stmt.values]}"
        )
    comp = ExpressionCompiler(Scope([]), "VALUES")
    values: dict[str, Any] = {}
    ts = None
    for n, e in zip(names, stmt.values, strict=True):
        c = comp.compile(e)
        v = c.fn(())
        if n == "ROWTIME":
            ts = v
            continue
        col = target.column(n)
        if col is None:
            raise KsqlStatementError(f"Column name {n} does not exist.")
        if v is not None and c.type != col.type:
            try:
                v = cast_function(c.type, col.type, A.format_expr(e))(v)
            except (KsqlProcessingError, KsqlStatementError) as exc:
                raise KsqlStatementError(
                    f"Expected type {col.type} for field {n} but got {c.type}({v})"
                ) from exc
        values[n] = v
    return values, ts


def _serialize(
    target: DataSource,
    columns: list[Column],
    values: Mapping[str, Any],
    is_key: bool,
    registry: SchemaRegistryLike | None,
) -> bytes | None:
    fmt = target.key_format if is_key else target.value_format
    serde = make_serde(fmt, [(c.name, c.type) for c in columns], target.topic, is_key, registry)
    data: bytes | None = serde.serialize([values.get(c.name) for c in columns])
    return data


def values_record(
    stmt: A.InsertValues, target: DataSource, registry: SchemaRegistryLike | None
) -> OutRecord:
    """The record an INSERT ... VALUES writes into `target`'s topic."""
    if target.window is not None:
        raise KsqlStatementError("Inserting into windowed sources is not supported.")
    values, ts = _column_values(stmt, target)
    try:
        kb = _serialize(target, target.key_columns, values, True, registry)
        vb = _serialize(target, target.value_columns, values, False, registry)
    except SerdeError as exc:
        raise KsqlStatementError(f"Failed to insert values into '{target.name}'. {exc}") from exc
    if ts is None:
        ts = int(time.time() * 1000)
    return OutRecord(target.topic, kb, vb, int(ts))
