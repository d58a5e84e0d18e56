"""Parse, validate and canonicalize Avro schemas for the registry.

fastavro does the parsing (and default-value validation); the rules it lets through are
checked here so that the registry rejects what Avro's Java parser (Confluent's) rejects:
duplicate union branches, unions inside unions and, for a schema being registered (`new`,
Confluent's `isNew`), names that are not Avro names, a field defined twice, a record without
a `fields` list, a fixed without a non-negative integer size, and numeric defaults Java
refuses (out of range, or not a number). Stored schemas are parsed leniently, so a topic
written before a rule existed still replays. The canonical form is what decides whether two
registrations are "the same schema" and must get the same id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import fastavro
import orjson

from fraudstream.registry.errors import InvalidSchema

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # the spec's name (every namespace part too)
INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
FLOAT_WORDS = ("NaN", "Infinity", "-Infinity")  # Java reads these as float/double defaults


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


def _check_name(node: dict[str, Any], path: str) -> None:
    name, space = node.get("name"), node.get("namespace")
    parts = str(name).split(".") if isinstance(name, str) else [repr(name)]
    if isinstance(space, str) and space and "." not in str(name):
        parts += space.split(".")
    elif space is not None and not isinstance(space, str):
        parts.append(repr(space))
    bad = [p for p in parts if not NAME.fullmatch(p)]
    if bad:
        raise InvalidSchema(f"Invalid schema: {bad[0]!r} is not an Avro name at {path or '/'}")


def _check_default(fld: dict[str, Any], path: str) -> None:
    """A numeric default Java refuses: an int/long out of range, a bool or string for a
    number (fastavro checks only the JSON type, and lets `true` and `"1"` through).

    The other way round fastavro wins: it refuses `-2` as the default of `{"type": "double"}`
    (Java accepts any number), and every consumer here parses with fastavro, so a schema it
    cannot parse is never accepted."""
    t = fld.get("type")
    base = t.get("type") if isinstance(t, dict) else t
    if "default" not in fld or base not in ("int", "long", "float", "double"):
        return
    d = fld["default"]
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]
        ok = isinstance(d, int) and not isinstance(d, bool) and lo <= d <= hi
    else:
        ok = (isinstance(d, (int, float)) and not isinstance(d, bool)) or d in FLOAT_WORDS
    if not ok:
        raise InvalidSchema(
            f"Invalid schema: default {d!r} of field {fld.get('name')!r} is not a valid "
            f"{base} at {path}"
        )


def _check_new(node: Any, path: str) -> None:
    """The rules Java's parser enforces and fastavro does not (see the module doc)."""
    if isinstance(node, list):
        for i, branch in enumerate(node):
            _check_new(branch, f"{path}/{i}")
        return
    if not isinstance(node, dict):
        return
    t = node.get("type")
    if isinstance(t, (dict, list)):
        _check_new(t, path)
    elif t in ("record", "error"):
        _check_name(node, path)
        fields = node.get("fields")
        if not isinstance(fields, list):
            raise InvalidSchema(f"Invalid schema: record without a fields list at {path or '/'}")
        seen: set[str] = set()
        for i, fld in enumerate(fields):
            name = fld.get("name")
            if not isinstance(name, str) or not NAME.fullmatch(name):
                where = f"{path}/fields/{i}"
                raise InvalidSchema(
                    f"Invalid schema: field name {name!r} is not an Avro name at {where}"
                )
            if name in seen:
                raise InvalidSchema(f"Invalid schema: duplicate field {name!r} at {path or '/'}")
            seen.add(name)
            _check_default(fld, f"{path}/fields/{i}")
            _check_new(fld.get("type"), f"{path}/fields/{i}")
    elif t in ("enum", "fixed"):
        _check_name(node, path)
        size = node.get("size")
        if t == "fixed" and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidSchema(f"Invalid schema: fixed size {size!r} at {path or '/'}")
    elif t == "array":
        _check_new(node.get("items"), f"{path}/items")
    elif t == "map":
        _check_new(node.get("values"), f"{path}/values")


def parse_avro(text: str, new: bool = False) -> ParsedAvro:
    """Validate `text` as an Avro schema; raise InvalidSchema (42201) with the reason.

    `new`: a schema being registered or checked, held to every rule of Java's parser; a
    stored one (replayed from the topic) only to the rules it was registered under.
    """
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
    if new:
        _check_new(raw, "")
    return ParsedAvro(text=text, canonical=canonical_text(raw), parsed=parsed, names=names)
