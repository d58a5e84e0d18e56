"""BYTES <-> STRING UDFs: ksqlDB's encodings, literal forms and NULL on bad input."""

from __future__ import annotations

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.sql import types as T

S, B = T.T_STRING, T.T_BYTES


def test_encode_between_hex_ascii_utf8_and_base64() -> None:
    enc = F.resolve("ENCODE", [S, S, S]).impl
    assert enc("4578616d706C6521", "hex", "utf8") == "Example!"
    assert enc("0x578616d706C6521", "hex", "ascii") == "\x05xample!"  # odd: leading zero
    assert enc("x'578616d706C6521'", "hex", "ascii") is None  # a literal needs whole bytes
    assert enc("Ελλάδα", "ascii", "hex") == "3f3f3f3f3f3f"  # unmappable -> '?'
    assert enc("RXhhbXBsZSE=", "base64", "null") is None  # unknown encoding


def test_to_and_from_bytes_round_trip() -> None:
    to_b = F.resolve("TO_BYTES", [S, S]).impl
    from_b = F.resolve("FROM_BYTES", [B, S]).impl
    assert from_b(to_b("1aB2", "hex"), "hex") == "1AB2"
    assert from_b(b"!", "base64") == "IQ=="
    assert F.resolve("INT_FROM_BYTES", [B]).impl(b"\x00\x00\x07\xe5") == 2021
    assert F.resolve("INT_FROM_BYTES", [B, S]).impl(b"\xe5\x07\x00\x00", "LITTLE_ENDIAN") == 2021
    assert F.resolve("BIGINT_FROM_BYTES", [B]).impl(b"\x00") is None


def test_split_bytes_and_empty_values() -> None:
    split_b = F.resolve("SPLIT", [B, B]).impl
    assert split_b(b"a.b", b".") == [b"a", b"b"]
    assert split_b(b"", b"") == [b""]
    assert F.resolve("SPLIT", [S, S]).impl("", "") == [""]
