"""The Confluent header: framing round-trips and every non-framed payload says why."""

from __future__ import annotations

import struct

import pytest

from fraudstream.serde import wire
from fraudstream.serde.errors import PayloadDecodeError


@pytest.mark.parametrize("schema_id", [0, 1, 255, 256, 2**31 - 1])
def test_header_is_magic_zero_and_big_endian_id(schema_id: int) -> None:
    h = wire.header(schema_id)
    assert len(h) == wire.HEADER_SIZE == 5
    assert h[0] == 0 and int.from_bytes(h[1:], "big") == schema_id
    framed = wire.frame(schema_id, b"body")
    assert framed == h + b"body"
    sid, body = wire.split(framed)
    assert (sid, bytes(body)) == (schema_id, b"body")
    assert wire.schema_id_of(framed) == schema_id and wire.is_framed(framed)


def test_header_only_payload_has_an_empty_body() -> None:
    sid, body = wire.split(wire.header(7))
    assert sid == 7 and len(body) == 0


def test_split_accepts_memoryview_without_copying() -> None:
    data = bytearray(wire.frame(3, b"abc"))
    sid, body = wire.split(memoryview(data))
    data[-1] = ord("z")
    assert sid == 3 and bytes(body) == b"abz"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "empty payload"),
        (b"", "empty payload"),
        (b"\x00\x00\x01", "shorter than the 5-byte header"),
        (b"\x01" + struct.pack(">I", 1) + b"x", "unknown magic byte 1"),
        (b"\xff\x00\x00\x00\x01", "unknown magic byte 255"),
        (b'{"Id": 1}', "unknown magic byte 123"),
    ],
)
def test_not_framed_payloads(payload: bytes | None, message: str) -> None:
    with pytest.raises(PayloadDecodeError, match=message) as exc:
        wire.split(payload)
    assert exc.value.reason == "decode_error"
    assert not wire.is_framed(payload)
    assert wire.schema_id_of(payload) is None


def test_header_refuses_ids_outside_four_bytes() -> None:
    with pytest.raises(struct.error):
        wire.header(2**32)
