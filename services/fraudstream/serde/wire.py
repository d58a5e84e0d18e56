"""Confluent's wire format: magic byte 0, a 4-byte big-endian schema id, then the body.

The only place in the project that knows the header's layout: every producer and decoder
(serde, scorer, trainer, KSQL) frames and splits payloads through these functions, so a
limit or a check on the header (issue 21) lands here once.
"""

from __future__ import annotations

import struct

from fraudstream.serde.errors import PayloadDecodeError

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "frame",
    "header",
    "is_framed",
    "schema_id_of",
    "split",
]

MAGIC = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size  # 5


def header(schema_id: int) -> bytes:
    """The 5-byte prefix of every payload written with `schema_id`."""
    return _HEADER.pack(MAGIC, schema_id)


def frame(schema_id: int, body: bytes) -> bytes:
    """`body` (an encoded Avro value) with its Confluent header."""
    return _HEADER.pack(MAGIC, schema_id) + body


def is_framed(data: bytes | memoryview | None) -> bool:
    """True when `data` is long enough for a header and starts with the magic byte."""
    return data is not None and len(data) >= HEADER_SIZE and data[0] == MAGIC


def schema_id_of(data: bytes | memoryview | None) -> int | None:
    """The schema id of a framed payload, None when `data` is not in the wire format."""
    if not is_framed(data):
        return None
    assert data is not None
    return int(_HEADER.unpack_from(data)[1])


def split(data: bytes | memoryview | None) -> tuple[int, memoryview]:
    """(schema id, body) of a framed payload; PayloadDecodeError says why it is not one."""
    if data is None or len(data) == 0:
        raise PayloadDecodeError("empty payload (null or zero bytes)")
    if len(data) < HEADER_SIZE:
        raise PayloadDecodeError(
            f"payload of {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PayloadDecodeError(f"unknown magic byte {magic & 0xFF} (expected {MAGIC})")
    return int(schema_id), memoryview(data)[HEADER_SIZE:]
