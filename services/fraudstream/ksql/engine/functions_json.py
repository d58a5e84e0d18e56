"""JSON UDFs (IS_JSON_STRING, JSON_ARRAY_CONTAINS, JSON_ARRAY_LENGTH, JSON_CONCAT, JSON_ITEMS,
JSON_KEYS, JSON_RECORDS) on the reading rules of ksqlDB's Jackson mapper.

Jackson reads the first JSON value of the text (what follows a closed array, object or string
is not read; a number or literal must end at whitespace), blank text is "missing", numbers
are exact (BigDecimal floats), NaN / Infinity / comments / single quotes are errors. Node
texts are Jackson's compact JSON (non-ASCII kept); JSON_CONCAT writes decimals plain.
Registered into `functions` on import.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

__all__ = ["MISSING", "node_text", "read_json"]

MISSING = object()
"""Jackson's MissingNode: the text held no JSON value."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard number {name}")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)
_WS = " \t\r\n"
_IDENT_TAIL = re.compile(r"[\w$]")


def _read_at(text: str, pos: int) -> tuple[Any, int]:
    """One JSON value at `pos` (Jackson's token rules for a root-level scalar)."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except ValueError as exc:
        raise KsqlProcessingError(f"Invalid JSON format:{text}") from exc
    if end < len(text) and not isinstance(value, dict | list | str):
        nxt = text[end]
        bad_number = isinstance(value, int | Decimal) and not isinstance(value, bool)
        if (bad_number and nxt not in _WS) or (not bad_number and _IDENT_TAIL.match(nxt)):
            raise KsqlProcessingError(f"Invalid JSON format:{text}")
    return value, end


def read_json(text: str) -> Any:
    """The first JSON value of `text`, or MISSING when it is blank."""
    pos = len(text) - len(text.lstrip(_WS))
    if pos == len(text):
        return MISSING
    return _read_at(text, pos)[0]


def node_text(node: Any, plain_decimals: bool = False) -> str:
    """Jackson's compact text of a node."""
    if node is None:
        return "null"
    if node is True:
        return "true"
    if node is False:
        return "false"
    if isinstance(node, Decimal):
        return format(node, "f") if plain_decimals else str(node)
    if isinstance(node, int):
        return str(node)
    if isinstance(node, str):
        return json.dumps(node, ensure_ascii=False)
    if isinstance(node, list):
        return "[" + ",".join(node_text(v, plain_decimals) for v in node) + "]"
    return (
        "{"
        + ",".join(
            json.dumps(k, ensure_ascii=False) + ":" + node_text(v, plain_decimals)
            for k, v in node.items()
        )
        + "}"
    )


def _string_fn(name: str, rt: T.SqlType, impl: Callable[..., Any], null_safe: bool = True) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if len(types) != 1 or types[0].base not in (T.STRING, T.NULL):
            raise bad_args(name, types)
        return Resolved(rt, impl, null_safe=null_safe)

    register(name)(resolver)


def _is_json(s: str | None) -> bool:
    if s is None:
        return False
    try:
        return read_json(s) is not MISSING
    except KsqlProcessingError:
        return False


def _array_length(s: str) -> int | None:
    node = read_json(s)
    return len(node) if isinstance(node, list) else None


def _keys(s: str) -> list[str] | None:
    node = read_json(s)
    return list(node) if isinstance(node, dict) else None


def _records(s: str) -> dict[str, str] | None:
    node = read_json(s)
    if not isinstance(node, dict):
        return None
    return {k: v if isinstance(v, str) else node_text(v) for k, v in node.items()}


def _items(s: str) -> list[str]:
    """Jackson's readValue(List<JsonNode>): the text must hold an array (blank is an error)."""
    node = read_json(s)
    if not isinstance(node, list):
        raise KsqlProcessingError(f"Invalid JSON format:{s}")
    return [node_text(v) for v in node]


_string_fn("IS_JSON_STRING", T.T_BOOLEAN, _is_json, null_safe=False)
_string_fn("JSON_ARRAY_LENGTH", T.T_INTEGER, _array_length)
_string_fn("JSON_KEYS", T.array_of(T.T_STRING), _keys)
_string_fn("JSON_RECORDS", T.map_of(T.T_STRING, T.T_STRING), _records)
_string_fn("JSON_ITEMS", T.array_of(T.T_STRING), _items)


@register("JSON_CONCAT")
def _json_concat(types: list[T.SqlType]) -> Resolved:
    if not types or any(t.base not in (T.STRING, T.NULL) for t in types):
        raise bad_args("JSON_CONCAT", types)

    def impl(*texts: str | None) -> str | None:
        nodes = []
        for t in texts:
            if t is None:
                return None
            node = read_json(t)
            if node is MISSING:
                return None
            nodes.append(node)
        if all(isinstance(n, dict) for n in nodes):
            merged: dict[str, Any] = {}
            for n in nodes:
                merged.update(n)
            return node_text(merged, plain_decimals=True)
        out: list[Any] = []
        for n in nodes:
            out.extend(n if isinstance(n, list) else [n])
        return node_text(out, plain_decimals=True)

    return Resolved(T.T_STRING, impl, null_safe=False)


_INT_RANGE = {T.INTEGER: (-(2**31), 2**31 - 1), T.BIGINT: (-(2**63), 2**63 - 1)}


@register("JSON_ARRAY_CONTAINS")
def _json_array_contains(types: list[T.SqlType]) -> Resolved:
    """ksqlDB's streaming check: element by element until a match (later malformed text is
    not read), a number matches only a same-kind value (integer token and INT/BIGINT, decimal
    token and DOUBLE), a NULL value matches a JSON null; any parse error is false."""
    if len(types) != 2 or types[0].base not in (T.STRING, T.NULL):
        raise bad_args("JSON_ARRAY_CONTAINS", types)
    vt = types[1].base

    def matches(el: Any, val: Any) -> bool:
        if el is None:
            return val is None
        if val is None:
            return False
        if isinstance(el, bool):
            return vt == T.BOOLEAN and el is val
        if isinstance(el, int):
            lo_hi = _INT_RANGE.get(vt)
            return lo_hi is not None and lo_hi[0] <= el <= lo_hi[1] and el == val
        if isinstance(el, Decimal):
            # Double.equals: 0.0 and -0.0 differ
            d = float(el)
            return vt == T.DOUBLE and d == val and math.copysign(1, d) == math.copysign(1, val)
        if isinstance(el, str):
            return vt == T.STRING and el == val
        return False  # nested arrays and objects are skipped

    def impl(text: str | None, val: Any) -> bool | None:
        if text is None:
            return None
        pos = len(text) - len(text.lstrip(_WS))
        if not text.startswith("[", pos):
            return False
        pos += 1
        first = True
        try:
            while True:
                pos += len(text[pos:]) - len(text[pos:].lstrip(_WS))
                if text.startswith("]", pos):
                    return False
                if not first:
                    if not text.startswith(",", pos):
                        return False
                    pos += 1
                    pos += len(text[pos:]) - len(text[pos:].lstrip(_WS))
                first = False
                el, pos = _DECODER.raw_decode(text, pos)
                if matches(el, val):
                    return True
        except ValueError:
            return False

    return Resolved(T.T_BOOLEAN, impl, null_safe=False)
