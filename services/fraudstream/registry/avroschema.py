"""Parse, validate and canonicalize Avro schemas for the registry.

fastavro does the parsing (and default-value validation); a few rules it lets through
(duplicate union branches, unions inside unions) are checked here so that the registry
rejects what Avro's Java parser would reject. The canonical form is what decides whether
two registrations are "the same schema" and must get the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import fastavro
import orjson

from fraudstream.registry.errors import InvalidSchema

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})


@dataclass(frozen=True)
class ParsedAvro:
    """A validated schema: the text as registered, its canonical form and fastavro's parse."""

    text: str
    canonical: str
    parsed: Any = field(compare=False)
    names: dict[str, Any] = field(compare=False)


def _canonical_json(node: Any) -> Any:
    """Whitespace/key-order independent form; `{"type": "int"}` collapses to `"int"`."""
    if isinstance(node, dict):
        if set(node) == {"type"} and isinstance(node["type"], str) and node["type"] in PRIMITIVES:
            return node["type"]
        return {k: _canonical_json(v) for k, v in sorted(node.items())}
    if isinstance(node, list):
        return [_canonical_json(v) for v in node]
    return node


def canonical_text(schema: Any) -> str:
    return orjson.dumps(_canonical_json(schema), option=orjson.OPT_SORT_KEYS).decode()


def _branch_key(branch: Any) -> str:
    if isinstance(branch, str):
        return branch
    if isinstance(branch, list):
        return "union"
    if isinstance(branch, dict):
        t = branch.get("type")
        if t in NAMED:
            return str(branch.get("name"))
        return str(t)
    return repr(branch)


def _check_unions(node: Any, path: str) -> None:
    """Reject unions that Avro forbids: nested unions and two branches of one type/name."""
    if isinstance(node, list):
        seen: set[str] = set()
        for i, branch in enumerate(node):
            if isinstance(branch, list):
                raise InvalidSchema(f"Invalid schema: nested union at {path}/{i}")
            key = _branch_key(branch)
            if key in seen:
                raise InvalidSchema(f"Invalid schema: duplicate union branch {key!r} at {path}")
            seen.add(key)
            _check_unions(branch, f"{path}/{i}")
    elif isinstance(node, dict):
        t = node.get("type")
        if t in ("record", "error"):
            for i, f in enumerate(node.get("fields", [])):
                if isinstance(f, dict):
                    _check_unions(f.get("type"), f"{path}/fields/{i}")
        elif t == "array":
            _check_unions(node.get("items"), f"{path}/items")
        elif t == "map":
            _check_unions(node.get("values"), f"{path}/values")
        elif isinstance(t, (dict, list)):
            _check_unions(t, path)


def parse_avro(text: str) -> ParsedAvro:
    """Validate `text` as an Avro schema; raise InvalidSchema (42201) with the reason."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchema("Invalid schema: empty schema")
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        # A bare primitive name ("string") is not JSON but Avro accepts it.
        stripped = text.strip()
        if stripped in PRIMITIVES:
            raw = stripped
        else:
            raise InvalidSchema(f"Invalid schema: not JSON ({exc})") from None
    if not isinstance(raw, (str, dict, list)):
        raise InvalidSchema(f"Invalid schema: {type(raw).__name__} is not an Avro schema")
    names: dict[str, Any] = {}
    try:
        parsed = fastavro.parse_schema(raw, named_schemas=names, _write_hint=False)
    except Exception as exc:  # fastavro raises several unrelated types for bad schemas
        raise InvalidSchema(f"Invalid schema: {exc}") from None
    _check_unions(parsed, "")
    return ParsedAvro(text=text, canonical=canonical_text(raw), parsed=parsed, names=names)
