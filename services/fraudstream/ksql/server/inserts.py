"""`/inserts-stream`: ksqlDB's streamed inserts, one JSON row per line, one ack per row.

The request body is a JSON object of arguments (`{"target": "S", "properties": {...}}`), a
newline, then one JSON object per line, column name -> value. Each row is inserted as an
`INSERT INTO ... VALUES` (the engine casts and serializes it exactly as for that statement)
and acknowledged in order: `{"status":"ok","seq":n}`; the first row that fails ends the
stream with `{"status":"error","seq":n,"error_code":...,"message":...}`, as in ksqlDB.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from fraudstream.ksql.server.entities import StatementFailure
from fraudstream.ksql.server.service import KsqlService

__all__ = ["InsertArgs", "insert_rows", "parse_args", "sql_literal"]

# ksqlDB's ErrorCodes (api.server.ErrorCodes)
MALFORMED_REQUEST = 40000
MISSING_PARAM = 40001
CANNOT_INSERT = 40002  # the statement error of a row that does not fit the target


class InsertArgs:
    """The first line of the request: the target stream and its (unused) properties."""

    def __init__(self, target: str, properties: Mapping[str, Any]) -> None:
        self.target = target
        self.properties = dict(properties)


def parse_args(line: bytes) -> InsertArgs:
    """The arguments line, or a 400 failure as ksqlDB words it."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise StatementFailure.generic(
            400, MALFORMED_REQUEST, "Malformed JSON in request"
        ) from None
    if not isinstance(data, dict):
        raise StatementFailure.generic(400, MALFORMED_REQUEST, "Malformed JSON in request")
    target = data.get("target")
    if not isinstance(target, str) or not target:
        raise StatementFailure.generic(400, MISSING_PARAM, "No target in arguments")
    props = data.get("properties") or {}
    return InsertArgs(target, props if isinstance(props, dict) else {})


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def sql_literal(value: Any, column_type: str = "") -> str:
    """A JSON value as a KSQL literal (strings quoted, arrays, maps and structs built)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(sql_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        if column_type.upper().startswith("MAP"):
            pairs = ", ".join(f"{sql_literal(k)} := {sql_literal(v)}" for k, v in value.items())
            return f"MAP({pairs})"
        fields = ", ".join(f"{_quote(str(k))} := {sql_literal(v)}" for k, v in value.items())
        return f"STRUCT({fields})"
    raise ValueError(f"unsupported JSON value {value!r}")


def _resolve(names: Mapping[str, str], wanted: str) -> str:
    """A source or column name as given, else as ksqlDB stores unquoted names (upper)."""
    if wanted in names:
        return names[wanted]
    return names.get(wanted.upper(), wanted)


def _insert_sql(service: KsqlService, target: str, row: Mapping[str, Any]) -> str:
    sources = service.engine.sources
    name = _resolve({n: n for n in sources}, target)
    source = sources.get(name)
    if source is None:
        raise StatementFailure.generic(
            400, CANNOT_INSERT, f"Cannot insert values into an unknown stream/table: `{target}`"
        )
    if source.kind != "STREAM":
        raise StatementFailure.generic(
            400, CANNOT_INSERT, f"Cannot insert into a table: {source.name}"
        )
    columns = {c.name: c for c in source.columns}
    names, values = [], []
    for key, value in row.items():
        col = columns.get(_resolve({n: n for n in columns}, str(key)))
        column = col.name if col is not None else str(key)
        names.append(_quote(column))
        values.append(sql_literal(value, str(col.type) if col is not None else ""))
    return f"INSERT INTO {_quote(source.name)} ({', '.join(names)}) VALUES ({', '.join(values)});"


def insert_rows(
    service: KsqlService, args: InsertArgs, lines: list[bytes]
) -> Iterator[dict[str, Any]]:
    """Insert each row in order, yielding its ack; stop after the first error ack."""
    seq = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a row must be a JSON object")
        except (orjson.JSONDecodeError, ValueError):
            yield _error(seq, MALFORMED_REQUEST, "Invalid JSON in inserts stream")
            return
        try:
            service.execute(_insert_sql(service, args.target, row))
        except StatementFailure as exc:
            yield _error(seq, exc.error_code, exc.message)
            return
        except ValueError as exc:
            yield _error(seq, MALFORMED_REQUEST, str(exc))
            return
        yield {"status": "ok", "seq": seq}
        seq += 1


def _error(seq: int, code: int, message: str) -> dict[str, Any]:
    return {"status": "error", "seq": seq, "error_code": code, "message": message}
