"""Straight-line code generation for the per-record hot path.

Python function calls dominate per-record cost, so the three steps every preprocessing
record takes are generated once per query as flat functions (via `exec` of code built
from column metadata only, never from record data):

* `avro_record_encoder`: Avro binary for a flat record of optional primitives (the
  ksqlDB value schema), byte-identical to fastavro's output;
* `json_record_decoder`: JSON object -> typed column list with inline fast paths;
* `projector`: row -> output list, with column references inlined as `row[i]`.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.sql import types as T

_PACK_D = struct.Struct("<d").pack


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def zigzag_varint(n: int) -> bytes:
    """Avro `long`/`int` encoding (zig-zag, then base-128 varint). The one- and two-byte
    cases (|n| < 8192: lengths, small ids) skip the loop and the bytearray."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_AVRO_FAST_TYPES = {T.BOOLEAN, T.INTEGER, T.BIGINT, T.DOUBLE, T.STRING, T.BYTES}


def avro_record_encoder(
    types: Sequence[T.SqlType], header: bytes
) -> Callable[[Sequence[Any]], bytes] | None:
    """Encoder for a record whose fields are all `["null", primitive]` unions, or None
    when some field needs fastavro (decimals, nested types, logical types)."""
    if not all(t.base in _AVRO_FAST_TYPES for t in types):
        return None
    lines = ["def encode(values):", "    out = [HEADER]", "    ap = out.append"]
    ns: dict[str, Any] = {"HEADER": header, "PACK_D": _PACK_D, "ZZ": zigzag_varint}
    ns["STRUCT_ERROR"] = struct.error

    def field(i: int, indent: str) -> None:
        lines.append(f"{indent}v = values[{i}]")
        lines.append(f"{indent}if v is None:")
        lines.append(f"{indent}    ap(b'\\x00')")
        lines.append(f"{indent}else:")
        b = types[i].base
        body = f"{indent}    "
        if b == T.DOUBLE:
            lines.append(body + "ap(b'\\x02'); ap(PACK_D(v))")
        elif b in (T.INTEGER, T.BIGINT):
            lines.append(body + "ap(b'\\x02'); ap(ZZ(v))")
        elif b == T.BOOLEAN:
            lines.append(body + "ap(b'\\x02\\x01' if v else b'\\x02\\x00')")
        elif b == T.STRING:
            lines.append(body + "s = v.encode('utf-8'); ap(b'\\x02'); ap(ZZ(len(s))); ap(s)")
        elif b == T.BYTES:
            lines.append(body + "ap(b'\\x02'); ap(ZZ(len(v))); ap(bytes(v))")

    i = 0
    while i < len(types):
        j = i
        while j < len(types) and types[j].base == T.DOUBLE:
            j += 1
        if j - i >= 2:
            # a run of DOUBLEs: one struct call (union index 1 + 8 bytes each) when none is
            # NULL; a NULL makes struct raise, and the run is written field by field
            name = f"RUN{i}"
            ns[name] = struct.Struct("<" + "Bd" * (j - i)).pack
            args = ", ".join(f"2, values[{k}]" for k in range(i, j))
            lines.append("    try:")
            lines.append(f"        ap({name}({args}))")
            lines.append("    except STRUCT_ERROR:")
            for k in range(i, j):
                field(k, "        ")
            i = j
        else:
            field(i, "    ")
            i += 1
    lines.append("    return b''.join(out)")
    exec("\n".join(lines), ns)
    encode: Callable[[Sequence[Any]], bytes] = ns["encode"]

    def safe(values: Sequence[Any]) -> bytes:
        try:
            return encode(values)
        except (TypeError, AttributeError, struct.error) as exc:
            raise SerdeError(f"Failed to serialize Avro record: {exc}") from None

    return safe


def json_record_decoder(
    keys: Sequence[str | None],
    types: Sequence[T.SqlType],
    coercers: Sequence[Callable[[Any], Any]],
) -> Callable[[dict[str, Any]], list[Any]]:
    """Decoder for one observed key layout: `keys[i]` is the JSON field holding column i."""
    lines = ["def decode(obj):", "    get = obj.get"]
    names = []
    for i, (k, t) in enumerate(zip(keys, types, strict=True)):
        if k is None:
            names.append("None")
            continue
        lines.append(f"    v{i} = get(K{i})")
        b = t.base
        if b == T.DOUBLE:
            lines.append(f"    if v{i} is not None and type(v{i}) is not float: v{i} = C{i}(v{i})")
        elif b == T.STRING:
            lines.append(f"    if v{i} is not None and type(v{i}) is not str: v{i} = C{i}(v{i})")
        elif b == T.BIGINT:
            lines.append(
                f"    if v{i} is not None and (type(v{i}) is not int or not -9223372036854775808 <= v{i} <= 9223372036854775807): v{i} = C{i}(v{i})"  # noqa: E501
            )
        elif b == T.INTEGER:
            lines.append(
                f"    if v{i} is not None and (type(v{i}) is not int or not -2147483648 <= v{i} <= 2147483647): v{i} = C{i}(v{i})"  # noqa: E501
            )
        elif b == T.BOOLEAN:
            lines.append(f"    if v{i} is not None and type(v{i}) is not bool: v{i} = C{i}(v{i})")
        else:
            lines.append(f"    v{i} = C{i}(v{i})")
        names.append(f"v{i}")
    lines.append(f"    return [{', '.join(names)}]")
    ns: dict[str, Any] = {}
    for i, k in enumerate(keys):
        ns[f"K{i}"] = k
        ns[f"C{i}"] = coercers[i]
    exec("\n".join(lines), ns)
    decode: Callable[[dict[str, Any]], list[Any]] = ns["decode"]
    return _bulk_json_decoder(keys, types, decode) or decode


_FAST_OK = {T.DOUBLE: "float", T.STRING: "str", T.BOOLEAN: "bool"}
_INT_RANGE = {T.BIGINT: (-(2**63), 2**63 - 1), T.INTEGER: (-(2**31), 2**31 - 1)}


def _bulk_json_decoder(
    keys: Sequence[str | None],
    types: Sequence[T.SqlType],
    slow: Callable[[dict[str, Any]], list[Any]],
) -> Callable[[dict[str, Any]], list[Any]] | None:
    """The common case at C speed: every field read with one `map`, and each run of
    DOUBLE / STRING / BOOLEAN columns checked with one `set` test of the value types; any
    value that needs a conversion (or is out of an integer range) hands the whole object to
    `slow`, the column-by-column decoder, so conversions and errors stay exactly its own.
    None when some column always needs its converter (decimals, nested, temporal)."""
    bases = [t.base for t in types]
    if not all(
        k is None or b in _FAST_OK or b in _INT_RANGE for k, b in zip(keys, bases, strict=True)
    ):
        return None
    ns: dict[str, Any] = {"KEYS": tuple(keys), "SLOW": slow}
    lines = ["def decode(obj):", "    v = list(map(obj.get, KEYS))"]
    for base, ok in _FAST_OK.items():
        idx = [
            i
            for i, (k, b) in enumerate(zip(keys, bases, strict=True))
            if k is not None and b == base
        ]
        if not idx:
            continue
        ns[f"OK_{base}"] = frozenset({type(None), {"float": float, "str": str, "bool": bool}[ok]})
        if len(idx) == 1:
            lines.append(f"    if type(v[{idx[0]}]) not in OK_{base}: return SLOW(obj)")
        else:
            ns[f"G_{base}"] = operator.itemgetter(*idx)
            lines.append(
                f"    if not OK_{base}.issuperset(map(type, G_{base}(v))): return SLOW(obj)"
            )
    for i, (k, b) in enumerate(zip(keys, bases, strict=True)):
        if k is None or b not in _INT_RANGE:
            continue
        lo, hi = _INT_RANGE[b]
        lines.append(f"    x = v[{i}]")
        lines.append(
            f"    if x is not None and (type(x) is not int or not {lo} <= x <= {hi}): return SLOW(obj)"  # noqa: E501
        )
    lines.append("    return v")
    exec("\n".join(lines), ns)
    fast: Callable[[dict[str, Any]], list[Any]] = ns["decode"]
    return fast


def projector(
    fns: Sequence[Callable[[Sequence[Any]], Any]], indexes: Sequence[int | None]
) -> Callable[[Sequence[Any]], list[Any]]:
    """row -> [expr values]; plain column references are inlined as `row[i]`."""
    parts = []
    ns: dict[str, Any] = {}
    for j, (f, idx) in enumerate(zip(fns, indexes, strict=True)):
        if idx is not None:
            parts.append(f"row[{idx}]")
        else:
            ns[f"F{j}"] = f
            parts.append(f"F{j}(row)")
    exec(f"def project(row):\n    return [{', '.join(parts)}]", ns)
    project: Callable[[Sequence[Any]], list[Any]] = ns["project"]
    return project
