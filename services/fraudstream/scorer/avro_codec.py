"""Schema-specialized Avro: a compiled reader for flat records and a writer for scores.

Why: fastavro's generic `schemaless_reader` costs ~7 us per live event; a reader generated
for the writer schema (one `struct.unpack_from` per run of doubles) is several times faster,
and the scorer decodes every event. Anything the fast path does not handle (nested records,
arrays, maps, fixed, enums) falls back to fastavro, so every valid writer schema still works.
The reader returns values in a caller-chosen column order (names matched case-insensitively),
so KSQL's uppercase fields and our own producers' mixed-case ones map to the same columns.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from typing import Any

import fastavro

from fraudstream.scorer.errors import RecordError

Reader = Callable[[bytes, int], tuple[Any, ...]]

_PRIMITIVE = {"null", "boolean", "int", "long", "float", "double", "string", "bytes"}
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Zig-zag varint at `pos` -> (value, next pos)."""
    b = buf[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")
    return (n >> 1) ^ -(n & 1), pos


def _read_string(buf: bytes, pos: int) -> tuple[str, int]:
    n, pos = read_long(buf, pos)
    end = pos + n
    if n < 0 or end > len(buf):
        raise ValueError("string runs past the end of the record")
    return buf[pos:end].decode("utf-8"), end


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = read_long(buf, pos)
    end = pos + n
    if n < 0 or end > len(buf):
        raise ValueError("bytes run past the end of the record")
    return buf[pos:end], end


def _type_name(t: Any) -> str | None:
    """The primitive name of a type (logical types read as their base type), else None."""
    if isinstance(t, str):
        return t if t in _PRIMITIVE else None
    if isinstance(t, dict) and isinstance(t.get("type"), str) and t["type"] in _PRIMITIVE:
        return str(t["type"])
    return None


def field_kind(t: Any) -> tuple[str, int | None, int] | None:
    """(primitive, union index of null or None, union index of the value) or None if the
    field is not a primitive / [null, primitive] union (then fastavro handles the schema)."""
    if isinstance(t, list):
        names = [_type_name(b) for b in t]
        if len(t) == 2 and "null" in names and None not in names:
            null_ix = names.index("null")
            return str(names[1 - null_ix]), null_ix, 1 - null_ix
        if len(t) == 1 and names[0] is not None:
            return str(names[0]), None, 0
        return None
    name = _type_name(t)
    return (name, None, -1) if name is not None else None


def _value_expr(prim: str) -> list[str]:
    """Lines reading one value of `prim` into `v` (advancing `pos`)."""
    if prim in ("int", "long"):
        return ["v, pos = _rl(buf, pos)"]
    if prim == "double":
        return ["v = _ud(buf, pos)[0]", "pos += 8"]
    if prim == "float":
        return ["v = _uf(buf, pos)[0]", "pos += 4"]
    if prim == "boolean":
        return ["v = buf[pos] != 0", "pos += 1"]
    if prim == "string":
        return ["v, pos = _rs(buf, pos)"]
    if prim == "bytes":
        return ["v, pos = _rb(buf, pos)"]
    return ["v = None"]  # null


Columns = Sequence[str | tuple[str, ...]]


def column_index(columns: Columns) -> dict[str, int]:
    """Upper-cased field name -> output position (a tuple entry lists alternative names)."""
    out: dict[str, int] = {}
    for i, c in enumerate(columns):
        for name in (c,) if isinstance(c, str) else c:
            out[name.upper()] = i
    return out


def compile_reader(schema: dict[str, Any], columns: Columns) -> Reader | None:
    """A function `(buf, start) -> tuple` of `columns` (None where absent/null), or None when
    the schema is not a flat record of primitives / nullable primitives."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    wanted = column_index(columns)
    fields = schema.get("fields", [])
    kinds = [field_kind(f.get("type")) for f in fields]
    if any(k is None for k in kinds):
        return None
    lines = ["def read(buf, pos):", f"    out = [None] * {len(columns)}"]
    structs: dict[str, Any] = {}
    i = 0
    while i < len(fields):
        kind = kinds[i]
        assert kind is not None
        prim, null_ix, val_ix = kind
        # A run of nullable doubles: one unpack when none of them is null (the common case).
        j = i
        while j < len(fields) and kinds[j] == ("double", null_ix, val_ix) and null_ix is not None:
            j += 1
        if j - i >= 2:
            n = j - i
            sname = f"_s{len(structs)}"
            structs[sname] = struct.Struct("<" + "Bd" * n).unpack_from
            # With nulls in the run the record may be shorter than 9n bytes from here.
            lines.append(f"    t = {sname}(buf, pos) if pos + {9 * n} <= len(buf) else None")
            lines.append(f"    if t is not None and t[0::2] == {tuple([2 * val_ix] * n)!r}:")
            lines.append(f"        pos += {9 * n}")
            for k in range(n):
                col = wanted.get(str(fields[i + k]["name"]).upper())
                if col is not None:
                    lines.append(f"        out[{col}] = t[{2 * k + 1}]")
            lines.append("    else:")
            for k in range(n):
                col = wanted.get(str(fields[i + k]["name"]).upper())
                lines.extend("        " + ln for ln in _union_lines("double", null_ix, val_ix))
                if col is not None:
                    lines.append(f"        out[{col}] = v")
            i = j
            continue
        col = wanted.get(str(fields[i]["name"]).upper())
        if null_ix is None and val_ix == -1:
            lines.extend("    " + ln for ln in _value_expr(prim))
        else:
            lines.extend("    " + ln for ln in _union_lines(prim, null_ix, val_ix))
        if col is not None:
            lines.append(f"    out[{col}] = v")
        i += 1
    lines.append("    if pos != len(buf):")
    lines.append("        raise ValueError(f'{len(buf) - pos} trailing bytes after the record')")
    lines.append("    return tuple(out)")
    namespace: dict[str, Any] = {
        "_rl": read_long,
        "_rs": _read_string,
        "_rb": _read_bytes,
        "_ud": _DOUBLE.unpack_from,
        "_uf": _FLOAT.unpack_from,
        **structs,
    }
    exec("\n".join(lines), namespace)
    fn: Reader = namespace["read"]
    return fn


def _union_lines(prim: str, null_ix: int | None, val_ix: int) -> list[str]:
    """Read a union branch index then the value (or None for the null branch)."""
    if null_ix is None:  # single-branch union
        return [
            "b, pos = _rl(buf, pos)",
            "if b != 0:",
            "    raise ValueError('bad union index')",
            *_value_expr(prim),
        ]
    return [
        "b = buf[pos]",
        "pos += 1",
        f"if b == {2 * null_ix}:",
        "    v = None",
        f"elif b == {2 * val_ix}:",
        *("    " + ln for ln in _value_expr(prim)),
        "else:",
        "    raise ValueError(f'bad union index byte {b}')",
    ]


def fallback_reader(schema: dict[str, Any], columns: Columns) -> Reader:
    """fastavro-based reader with the same interface (any schema fastavro can read)."""
    parsed = fastavro.parse_schema(schema)
    wanted = column_index(columns)
    n = len(columns)

    def read(buf: bytes, pos: int) -> tuple[Any, ...]:
        bio = io.BytesIO(buf)
        bio.seek(pos)
        rec = fastavro.schemaless_reader(bio, parsed, None)
        if bio.tell() != len(buf):
            raise ValueError(f"{len(buf) - bio.tell()} trailing bytes after the record")
        if not isinstance(rec, dict):
            raise RecordError("wrong_type", "the writer schema is not a record")
        out: list[Any] = [None] * n
        for k, v in rec.items():
            col = wanted.get(str(k).upper())
            if col is not None:
                out[col] = v
        return tuple(out)

    return read


def make_reader(schema: dict[str, Any], columns: Columns) -> Reader:
    """The fastest reader available for `schema`."""
    return compile_reader(schema, columns) or fallback_reader(schema, columns)


# ---------------------------------------------------------------- writer for score records


def write_long(n: int) -> bytes:
    """Zig-zag varint encoding of a long."""
    z = (n << 1) ^ (n >> 63)
    if z < 0x80:
        return bytes((z,))
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def write_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return write_long(len(b)) + b


# The score/alert schemas' field order this writer produces (checked against the .avsc).
SCORE_FIELDS: tuple[str, ...] = (
    "id",
    "user",
    "amount",
    "score",
    "threshold",
    "is_anomaly",
    "model_version",
    "label",
    "event_time",
    "scored_at",
    "top_features",
)

_DDD = struct.Struct("<ddd")
_D = struct.Struct("<d")


class ScoreWriter:
    """Encodes FraudScore / FraudAlert bodies (same layout) for one model version.

    The parts that are constant for a model (threshold, version, feature names) are
    encoded once; per event only the varints, three doubles and the top-k shares are built.
    """

    def __init__(self, threshold: float, model_version: str, feature_names: Sequence[str]):
        self.threshold = float(threshold)
        self._version = write_string(model_version)
        self._names = [write_string(n) for n in feature_names]
        self._user_cache: dict[str | None, bytes] = {}

    def _user(self, user: str | None) -> bytes:
        enc = self._user_cache.get(user)
        if enc is None:
            enc = b"\x00" if user is None else b"\x02" + write_string(user)
            if len(self._user_cache) < 100_000:
                self._user_cache[user] = enc
        return enc

    def encode(
        self,
        event_id: int,
        user: str | None,
        amount: float,
        score: float,
        is_anomaly: bool,
        label: int,
        event_time_ms: int | None,
        scored_at_ms: int,
        top_idx: Sequence[int],
        top_share: Sequence[float],
    ) -> bytes:
        names = self._names
        parts = [
            write_long(event_id),
            self._user(user),
            _DDD.pack(amount, score, self.threshold),
            b"\x01" if is_anomaly else b"\x00",
            self._version,
            write_long(label),
            b"\x00" if event_time_ms is None else b"\x02" + write_long(event_time_ms),
            write_long(scored_at_ms),
        ]
        k = len(top_idx)
        if k:
            parts.append(write_long(k))
            for j in range(k):
                parts.append(names[top_idx[j]])
                parts.append(_D.pack(top_share[j]))
        parts.append(b"\x00")
        return b"".join(parts)
