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
from typing import Any, Literal

import fastavro
import numpy as np

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


BlobKind = Literal["union", "plain"]
# numpy layouts of a blob: 9 bytes per nullable double (branch byte + value), or 8 per double.
BLOB_DTYPES: dict[str, np.dtype[Any]] = {
    "union": np.dtype([("u", "u1"), ("v", "<f8")]),
    "plain": np.dtype("<f8"),
}


def _runs(kinds: list[tuple[str, int | None, int] | None]) -> list[tuple[int, int]]:
    """(start, end) of each run of >= 2 consecutive identical double fields."""
    out = []
    i = 0
    while i < len(kinds):
        k = kinds[i]
        j = i + 1
        if k is not None and k[0] == "double":
            while j < len(kinds) and kinds[j] == k:
                j += 1
        if j - i >= 2:
            out.append((i, j))
        i = j
    return out


def blob_kind(schema: dict[str, Any], names: Sequence[str]) -> BlobKind | None:
    """How `names` (in order) are laid out in `schema` if they form one run of doubles that
    the compiled reader returns as raw bytes; None if they do not."""
    fields = schema.get("fields", [])
    kinds = [field_kind(f.get("type")) for f in fields]
    want = [n.upper() for n in names]
    for i, j in _runs(kinds):
        if [str(f["name"]).upper() for f in fields[i:j]] == want:
            k = kinds[i]
            assert k is not None
            if k[1] is not None:
                return "union"
            if k[2] == -1:
                return "plain"
    return None


def compile_reader(
    schema: dict[str, Any],
    columns: Columns,
    blob: tuple[int, Sequence[str]] | None = None,
) -> Reader | None:
    """A function `(buf, start) -> tuple` of `columns` (None where absent/null), or None when
    the schema is not a flat record of primitives / nullable primitives.

    `blob = (slot, names)`: when `names` form one run of doubles in the schema (see
    `blob_kind`), the reader puts the run's raw bytes in output `slot` instead of decoding
    each value, so a whole batch converts with one `np.frombuffer`; if any value of the run
    is null, the values are decoded one by one into their columns and `slot` stays None.
    """
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    wanted = column_index(columns)
    fields = schema.get("fields", [])
    kinds = [field_kind(f.get("type")) for f in fields]
    if any(k is None for k in kinds):
        return None
    n_out = max(len(columns), blob[0] + 1 if blob else 0)
    blob_names = [n.upper() for n in blob[1]] if blob else None
    lines = ["def read(buf, pos):", f"    out = [None] * {n_out}"]
    structs: dict[str, Any] = {}
    runs = dict(_runs(kinds))
    i = 0
    while i < len(fields):
        kind = kinds[i]
        assert kind is not None
        prim, null_ix, val_ix = kind
        j = runs.get(i, i)
        n = j - i
        names = [str(f["name"]).upper() for f in fields[i:j]]
        if n and blob is not None and names == blob_names:
            size = 9 * n if null_ix is not None else 8 * n
            lines.append(f"    blob = buf[pos:pos + {size}]")
            if null_ix is not None:
                expect = bytes([2 * val_ix] * n)
                lines.append(f"    if len(blob) == {size} and blob[0::9] == {expect!r}:")
            else:
                lines.append(f"    if len(blob) == {size}:")
            lines.append(f"        out[{blob[0]}] = blob")
            lines.append(f"        pos += {size}")
            lines.append("    else:")
            if null_ix is None:
                lines.append("        raise ValueError('record ends inside a run of doubles')")
            for k in range(n if null_ix is not None else 0):
                col = wanted.get(names[k])
                lines.extend("        " + ln for ln in _union_lines("double", null_ix, val_ix))
                if col is not None:
                    lines.append(f"        out[{col}] = v")
            i = j
            continue
        if n and null_ix is not None:
            # A run of nullable doubles: one unpack when none of them is null (common case).
            sname = f"_s{len(structs)}"
            structs[sname] = struct.Struct("<" + "Bd" * n).unpack_from
            # With nulls in the run the record may be shorter than 9n bytes from here.
            lines.append(f"    t = {sname}(buf, pos) if pos + {9 * n} <= len(buf) else None")
            lines.append(f"    if t is not None and t[0::2] == {tuple([2 * val_ix] * n)!r}:")
            lines.append(f"        pos += {9 * n}")
            for k in range(n):
                col = wanted.get(names[k])
                if col is not None:
                    lines.append(f"        out[{col}] = t[{2 * k + 1}]")
            lines.append("    else:")
            for k in range(n):
                col = wanted.get(names[k])
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


def make_reader(
    schema: dict[str, Any], columns: Columns, blob: tuple[int, Sequence[str]] | None = None
) -> Reader:
    """The fastest reader available for `schema` (see `compile_reader` for `blob`)."""
    return compile_reader(schema, columns, blob) or fallback_reader(schema, columns)


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


def varints(values: Any, prefix: bytes = b"") -> list[bytes]:
    """`prefix + write_long(v)` for every v of an int64 array, built with numpy."""
    a = np.asarray(values, dtype=np.int64)
    n, p = len(a), len(prefix)
    if n == 0:
        return []
    z = ((a << 1) ^ (a >> 63)).view(np.uint64)
    width = p + 10
    buf = np.zeros((n, width), np.uint8)
    if p:
        buf[:, :p] = np.frombuffer(prefix, np.uint8)
    lens = np.full(n, p + 1, np.int64)
    for k in range(10):
        more = z >= 0x80
        buf[:, p + k] = (z & 0x7F).astype(np.uint8) | (more.astype(np.uint8) << 7)
        if not bool(more.any()):
            break
        z = z >> np.uint64(7)
        lens += more
    raw = buf.tobytes()
    return [raw[i * width : i * width + ln] for i, ln in enumerate(lens.tolist())]


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
        # amount, score, threshold, is_anomaly, model_version, label: fixed width per event
        # (label is -1/0/1, one zig-zag byte) so a whole batch packs with one numpy call.
        self._fixed = np.dtype(
            [
                ("amount", "<f8"),
                ("score", "<f8"),
                ("threshold", "<f8"),
                ("anomaly", "u1"),
                ("version", f"S{len(self._version)}"),
                ("label", "u1"),
            ]
        )

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

    def encode_batch(
        self,
        ids: Sequence[int],
        users: Sequence[str | None],
        amounts: Any,
        scores: Any,
        anomalous: Any,
        labels: Sequence[int],
        event_ms: Sequence[int],
        scored_at_ms: int,
        top_idx: Any,
        top_share: Any,
    ) -> list[bytes]:
        """`encode` for a whole batch (labels in -1..1, event times known): the numeric
        parts are packed by numpy and each body is one `b"".join`."""
        n = len(ids)
        if n == 0:
            return []
        lab = np.asarray(labels, np.int64)
        if bool((np.abs(lab) > 1).any()):  # outside the one-byte fast path
            return [
                self.encode(
                    int(ids[i]),
                    users[i],
                    float(amounts[i]),
                    float(scores[i]),
                    bool(anomalous[i]),
                    int(labels[i]),
                    int(event_ms[i]),
                    scored_at_ms,
                    list(top_idx[i]),
                    list(top_share[i]),
                )
                for i in range(n)
            ]
        fixed = np.empty(n, self._fixed)
        fixed["amount"] = amounts
        fixed["score"] = scores
        fixed["threshold"] = self.threshold
        fixed["anomaly"] = anomalous
        fixed["version"] = self._version
        fixed["label"] = (lab << 1) ^ (lab >> 63)
        fb = fixed.tobytes()
        w = self._fixed.itemsize
        idv = varints(ids)
        evt = varints(event_ms, prefix=b"\x02")
        tidx = np.asarray(top_idx, np.int64)
        k = tidx.shape[1] if tidx.ndim == 2 else 0
        head = write_long(scored_at_ms) + (write_long(k) if k else b"")
        sh = np.ascontiguousarray(top_share, dtype="<f8").tobytes()
        names = self._names
        user = self._user
        ucache = self._user_cache
        out: list[bytes] = []
        append = out.append
        join = b"".join
        if k == 3:
            t = tidx.tolist()
            for i in range(n):
                o = 24 * i
                a, b, c = t[i]
                u = ucache.get(users[i]) or user(users[i])
                append(
                    join((
                        idv[i], u, fb[w * i : w * i + w], evt[i], head,
                        names[a], sh[o : o + 8], names[b], sh[o + 8 : o + 16],
                        names[c], sh[o + 16 : o + 24], b"\x00",
                    ))
                )  # fmt: skip
            return out
        t = tidx.tolist() if k else [[] for _ in range(n)]
        for i in range(n):
            parts = [idv[i], user(users[i]), fb[w * i : w * i + w], evt[i], head]
            for j, f in enumerate(t[i]):
                o = 8 * (k * i + j)
                parts.append(names[f])
                parts.append(sh[o : o + 8])
            parts.append(b"\x00")
            append(join(parts))
        return out


# ------------------------------------------------------- batch reader for one writer schema

ManyReader = Callable[
    [Sequence[bytes | None], bytes],
    tuple[list[int], list[int], list[list[Any]], list[bytes]],
]


def _inline_value(prim: str, var: str, ind: str) -> list[str]:
    """Lines reading one `prim` into `var` at `pos` without a function call."""
    if prim in ("int", "long"):
        return [
            f"{ind}b = buf[pos]",
            f"{ind}pos += 1",
            f"{ind}if b < 128:",
            f"{ind}    {var} = (b >> 1) ^ -(b & 1)",
            f"{ind}else:",
            f"{ind}    n = b & 127",
            f"{ind}    s = 7",
            f"{ind}    while True:",
            f"{ind}        b = buf[pos]",
            f"{ind}        pos += 1",
            f"{ind}        n |= (b & 127) << s",
            f"{ind}        s += 7",
            f"{ind}        if b < 128:",
            f"{ind}            break",
            f"{ind}    {var} = (n >> 1) ^ -(n & 1)",
        ]
    if prim in ("string", "bytes"):
        conv = ".decode()" if prim == "string" else ""
        return [
            *_inline_value("long", "ln", ind),
            f"{ind}e = pos + ln",
            f"{ind}if ln < 0 or e > lb:",
            f"{ind}    raise ValueError",
            f"{ind}{var} = buf[pos:e]{conv}",
            f"{ind}pos = e",
        ]
    if prim == "double":
        return [f"{ind}{var} = _ud(buf, pos)[0]", f"{ind}pos += 8"]
    if prim == "float":
        return [f"{ind}{var} = _uf(buf, pos)[0]", f"{ind}pos += 4"]
    if prim == "boolean":
        return [f"{ind}{var} = buf[pos] != 0", f"{ind}pos += 1"]
    return [f"{ind}{var} = None"]


def compile_many(
    schema: dict[str, Any],
    columns: Columns,
    blob: tuple[int, Sequence[str]],
    required: Sequence[int],
    label_col: int | None = None,
) -> ManyReader | None:
    """A whole-batch reader for records written with `schema` (one function call per batch).

    `read_many(values, header)` -> (good positions, other positions, one list per column
    (None for columns absent from the schema or inside the blob run), blobs).
    A record goes to "other" when it is not `header`-framed, is malformed, has a
    null in `required` columns or in the blob run, or (with `label_col`) a label outside
    -1/0/1 (None counts as -1): the caller re-reads those one by one to name the reason.
    None when the schema has no blob run or is not flat.
    """
    if compile_reader(schema, columns) is None or blob_kind(schema, blob[1]) is None:
        return None
    wanted = column_index(columns)
    fields = schema["fields"]
    kinds = [field_kind(f.get("type")) for f in fields]
    blob_names = [n.upper() for n in blob[1]]
    # Collect only columns the schema has outside the blob run (the rest would be all None).
    in_schema = {wanted[str(f["name"]).upper()] for f in fields if str(f["name"]).upper()
                 in wanted and str(f["name"]).upper() not in blob_names}  # fmt: skip
    cols = sorted(in_schema | set(required) | ({label_col} if label_col is not None else set()))
    lines = [
        "def read_many(vals, H):",
        "    rows = []",
        "    bad = []",
        "    keep = rows.append",
        "    for i, buf in enumerate(vals):",
        "        if buf is None or not buf.startswith(H):",
        "            bad.append(i)",
        "            continue",
        *(f"        v{k} = None" for k in cols),
        "        try:",
        "            lb = len(buf)",
        "            pos = 5",
    ]
    ind = "            "
    runs = dict(_runs(kinds))
    i = 0
    while i < len(fields):
        kind = kinds[i]
        assert kind is not None
        prim, null_ix, val_ix = kind
        j = runs.get(i, i)
        names = [str(f["name"]).upper() for f in fields[i:j]]
        if j > i and names == blob_names:
            n = j - i
            size = 9 * n if null_ix is not None else 8 * n
            lines.append(f"{ind}blob = buf[pos:pos + {size}]")
            if null_ix is not None:
                expect = bytes([2 * val_ix] * n)
                lines.append(f"{ind}if len(blob) != {size} or blob[0::9] != {expect!r}:")
            else:
                lines.append(f"{ind}if len(blob) != {size}:")
            lines.append(f"{ind}    raise ValueError")
            lines.append(f"{ind}pos += {size}")
            i = j
            continue
        col = wanted.get(str(fields[i]["name"]).upper())
        var = f"v{col}" if col in in_schema else "_"
        if null_ix is None and val_ix == -1:
            lines.extend(_inline_value(prim, var, ind))
        elif null_ix is None:  # single-branch union
            lines.extend(_inline_value("long", "u", ind))
            lines.append(f"{ind}if u != 0:")
            lines.append(f"{ind}    raise ValueError")
            lines.extend(_inline_value(prim, var, ind))
        else:
            lines.append(f"{ind}u = buf[pos]")
            lines.append(f"{ind}pos += 1")
            lines.append(f"{ind}if u == {2 * val_ix}:")
            lines.extend(_inline_value(prim, var, ind + "    "))
            lines.append(f"{ind}elif u != {2 * null_ix}:")
            lines.append(f"{ind}    raise ValueError")
        i += 1
    lines += [
        f"{ind}if pos != lb:",
        f"{ind}    raise ValueError",
        "        except Exception:",
        "            bad.append(i)",
        "            continue",
    ]
    checks = [f"v{k} is None" for k in required]
    if label_col is not None:
        lines.append(f"        if v{label_col} is None:")
        lines.append(f"            v{label_col} = -1")
        checks.append(f"not (-1 <= v{label_col} <= 1)")
    if checks:
        lines.append(f"        if {' or '.join(checks)}:")
        lines.append("            bad.append(i)")
        lines.append("            continue")
    # One tuple per good record; zip(*rows) transposes them to columns in C.
    lines.append(f"        keep((i, blob, {', '.join(f'v{k}' for k in cols)}))")
    lines.append("    if not rows:")
    lines.append(f"        return [], bad, [{', '.join(['None'] * len(columns))}], []")
    lines.append("    t = list(zip(*rows))")
    out = ", ".join(
        f"list(t[{2 + cols.index(k)}])" if k in cols else "None" for k in range(len(columns))
    )
    lines.append(f"    return list(t[0]), bad, [{out}], list(t[1])")
    namespace: dict[str, Any] = {"_ud": _DOUBLE.unpack_from, "_uf": _FLOAT.unpack_from}
    exec("\n".join(lines), namespace)
    fn: ManyReader = namespace["read_many"]
    return fn
