"""BYTES <-> STRING UDFs (TO_BYTES, FROM_BYTES, ENCODE, INT/BIGINT/DOUBLE_FROM_BYTES).

Encodings are ksqlDB's: 'hex' (FROM_BYTES writes upper case, ENCODE lower case), 'utf8',
'ascii' (unmappable characters become '?', undecodable bytes U+FFFD) and 'base64'. An
unknown encoding or malformed input gives NULL. Registered into `functions` on import.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable

from fraudstream.ksql.engine.functions import Resolved, bad_args, register
from fraudstream.ksql.sql import types as T

__all__ = ["bytes_of", "text_of"]


def _hex(s: str) -> bytes:
    """Hex text: whole bytes, or ksqlDB's 0x... form (an odd length gets a leading zero
    nibble) or SQL's X'...' literal (whole bytes)."""
    if s[:2] in ("0x", "0X"):
        body = s[2:]
        return bytes.fromhex("0" + body if len(body) % 2 else body)
    if len(s) >= 3 and s[:2] in ("X'", "x'") and s.endswith("'"):
        return bytes.fromhex(s[2:-1])
    return bytes.fromhex(s)


_TO_BYTES: dict[str, Callable[[str], bytes]] = {
    "hex": _hex,
    "utf8": lambda s: s.encode("utf-8"),
    "ascii": lambda s: s.encode("ascii", "replace"),
    "base64": lambda s: base64.b64decode(s, validate=True),
}
_FROM_BYTES: dict[str, Callable[[bytes], str]] = {
    "hex": lambda b: b.hex(),
    "utf8": lambda b: b.decode("utf-8", "replace"),
    "ascii": lambda b: b.decode("ascii", "replace"),
    "base64": lambda b: base64.b64encode(b).decode(),
}


def bytes_of(s: str, encoding: str) -> bytes | None:
    """`s` read in `encoding`, or None when the encoding is unknown or `s` malformed."""
    conv = _TO_BYTES.get(encoding.lower())
    if conv is None:
        return None
    try:
        return conv(s)
    except (ValueError, binascii.Error):
        return None


def text_of(b: bytes, encoding: str) -> str | None:
    """`b` written in `encoding`, or None when the encoding is unknown."""
    conv = _FROM_BYTES.get(encoding.lower())
    return None if conv is None else conv(b)


@register("TO_BYTES")
def _to_bytes(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2 or types[0].base != T.STRING or types[1].base != T.STRING:
        raise bad_args("TO_BYTES", types)
    return Resolved(T.T_BYTES, bytes_of)


@register("FROM_BYTES")
def _from_bytes(types: list[T.SqlType]) -> Resolved:
    if len(types) != 2 or types[0].base != T.BYTES or types[1].base != T.STRING:
        raise bad_args("FROM_BYTES", types)

    def impl(b: bytes, encoding: str) -> str | None:
        out = text_of(b, encoding)
        return out.upper() if out is not None and encoding.lower() == "hex" else out

    return Resolved(T.T_STRING, impl)


@register("ENCODE")
def _encode(types: list[T.SqlType]) -> Resolved:
    if len(types) != 3 or any(t.base != T.STRING for t in types):
        raise bad_args("ENCODE", types)

    def impl(s: str, source: str, target: str) -> str | None:
        b = bytes_of(s, source)
        return None if b is None else text_of(b, target)

    return Resolved(T.T_STRING, impl)


def _number_from_bytes(name: str, fmt: str, size: int, result: T.SqlType) -> None:
    def resolver(types: list[T.SqlType]) -> Resolved:
        if not 1 <= len(types) <= 2 or types[0].base != T.BYTES:
            raise bad_args(name, types)

        def impl(b: bytes, order: str = "BIG_ENDIAN") -> int | float | None:
            if len(b) != size or order.upper() not in ("BIG_ENDIAN", "LITTLE_ENDIAN"):
                return None
            prefix = ">" if order.upper() == "BIG_ENDIAN" else "<"
            value: int | float = struct.unpack(prefix + fmt, b)[0]
            return value

        return Resolved(result, impl)

    register(name)(resolver)


_number_from_bytes("INT_FROM_BYTES", "i", 4, T.T_INTEGER)
_number_from_bytes("BIGINT_FROM_BYTES", "q", 8, T.T_BIGINT)
_number_from_bytes("DOUBLE_FROM_BYTES", "d", 8, T.T_DOUBLE)
