"""Serdes: generated fast paths agree with fastavro/orjson; wire format; quoting."""

from __future__ import annotations

import io
import json
import random
import struct

import fastavro
import pytest

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats import (
    FormatSpec,
    InMemorySchemaRegistry,
    avro_schema_for,
    make_serde,
)
from fraudstream.ksql.engine.formats.codegen import avro_record_encoder, zigzag_varint
from fraudstream.ksql.sql import types as T

COLS = [
    ("ID", T.T_BIGINT),
    ("N", T.T_INTEGER),
    ("X", T.T_DOUBLE),
    ("NAME", T.T_STRING),
    ("OK", T.T_BOOLEAN),
    ("RAW", T.T_BYTES),
]


def _random_row(rng: random.Random) -> list[object]:
    def maybe(v: object) -> object:
        return None if rng.random() < 0.2 else v

    return [
        maybe(rng.randint(-(2**63), 2**63 - 1)),
        maybe(rng.randint(-(2**31), 2**31 - 1)),
        maybe(rng.uniform(-1e9, 1e9)),
        maybe("".join(rng.choice("aé€z ") for _ in range(rng.randint(0, 12)))),
        maybe(rng.random() < 0.5),
        maybe(bytes(rng.randrange(256) for _ in range(rng.randint(0, 5)))),
    ]


def test_generated_avro_encoder_is_byte_identical_to_fastavro() -> None:
    schema = avro_schema_for(COLS)
    parsed = fastavro.parse_schema(schema)
    enc = avro_record_encoder([t for _, t in COLS], b"HDR")
    assert enc is not None
    rng = random.Random(7)
    for _ in range(500):
        row = _random_row(rng)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, {n: v for (n, _), v in zip(COLS, row, strict=True)})
        assert enc(row) == b"HDR" + buf.getvalue()


def test_generated_avro_encoder_packs_double_runs_byte_identically() -> None:
    """Consecutive DOUBLEs are packed in one struct call; a NULL (or an int) in the run
    must give the same bytes as fastavro."""
    cols = [("ID", T.T_BIGINT)] + [(f"V{i}", T.T_DOUBLE) for i in range(5)] + [("S", T.T_STRING)]
    parsed = fastavro.parse_schema(avro_schema_for(cols))
    enc = avro_record_encoder([t for _, t in cols], b"")
    assert enc is not None
    rng = random.Random(11)
    for i in range(300):
        doubles = [rng.choice([None, rng.uniform(-1e6, 1e6), rng.randint(-9, 9)]) for _ in range(5)]
        row = [i, *(doubles if i % 2 else [float(d or 0) for d in doubles]), "s"]
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, {n: v for (n, _), v in zip(cols, row, strict=True)})
        assert enc(row) == buf.getvalue()
    with pytest.raises(SerdeError):
        enc([1, 1.0, "x", 1.0, 1.0, 1.0, "s"])


def test_zigzag_matches_avro_spec_examples() -> None:
    assert [zigzag_varint(n) for n in (0, -1, 1, -2, 2, 64, -64)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x04",
        b"\x80\x01",
        b"\x7f",
    ]


def test_avro_serde_uses_wire_format_and_reads_writer_schema_case_insensitively() -> None:
    reg = InMemorySchemaRegistry()
    serde = make_serde(FormatSpec("AVRO"), COLS[:4], "t", False, reg)
    data = serde.serialize([1, 2, 3.5, "x"])
    assert data is not None and data[0] == 0
    sid = struct.unpack(">I", data[1:5])[0]
    assert reg.get_latest("t-value") == (sid, serde.schema_str)
    assert serde.deserialize(data) == [1, 2, 3.5, "x"]
    # a producer's own schema with lower-case names and an extra field still maps
    other = {
        "type": "record",
        "name": "r",
        "fields": [
            {"name": "extra", "type": "string"},
            {"name": "name", "type": ["null", "string"]},
            {"name": "id", "type": "long"},
        ],
    }
    oid = reg.register("t-value", json.dumps(other))
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf, fastavro.parse_schema(other), {"extra": "e", "name": "n", "id": 9}
    )
    msg = b"\x00" + struct.pack(">I", oid) + buf.getvalue()
    assert serde.deserialize(msg) == [9, None, None, "n"]
    with pytest.raises(SerdeError, match="magic byte"):
        serde.deserialize(b"\x01abcd")


def test_json_serde_coerces_and_matches_fields_case_insensitively() -> None:
    serde = make_serde(FormatSpec("JSON"), COLS[:5], "t", False, None)
    assert serde.deserialize(b'{"id": 1, "n": "7", "x": 2, "Name": 5, "ok": true}') == [
        1,
        7,
        2.0,
        "5",
        True,
    ]
    # the generated decoder is per field layout: a second layout works too
    assert serde.deserialize(b'{"ok": false, "ID": 3}') == [3, None, None, None, False]
    with pytest.raises(SerdeError):
        serde.deserialize(b'{"n": 99999999999}')  # out of INTEGER range
    with pytest.raises(SerdeError):
        serde.deserialize(b"[1, 2")
    assert serde.serialize([1, None, float("nan"), "a", False]) == (
        b'{"ID":1,"N":null,"X":"NaN","NAME":"a","OK":false}'
    )
    # nulls beside a non-finite double, and the text "null" in a string, are told apart
    assert serde.serialize([None, None, float("-inf"), "null", None]) == (
        b'{"ID":null,"N":null,"X":"-Infinity","NAME":"null","OK":null}'
    )
    assert serde.serialize([None, None, 2.5, "null", None]) == (
        b'{"ID":null,"N":null,"X":2.5,"NAME":"null","OK":null}'
    )


def test_delimited_quotes_like_commons_csv() -> None:
    serde = make_serde(
        FormatSpec("DELIMITED"),
        [("A", T.T_STRING), ("B", T.T_STRING), ("C", T.T_DOUBLE)],
        "t",
        False,
        None,
    )
    assert serde.serialize(["x,y", " pad ", 1e7]) == b'"x,y"," pad ",1.0E7'
    assert serde.deserialize(b'"x,y",,2.5') == ["x,y", None, 2.5]
    with pytest.raises(SerdeError, match="Column count mismatch"):
        serde.deserialize(b"1,2")


def test_kafka_format_primitives() -> None:
    serde = make_serde(FormatSpec("KAFKA"), [("K", T.T_BIGINT)], "t", True, None)
    assert serde.serialize([5]) == struct.pack(">q", 5)
    assert serde.deserialize(struct.pack(">q", -3)) == [-3]
    with pytest.raises(SerdeError):
        serde.deserialize(b"\x00\x01")


def test_json_bulk_decoder_hands_any_conversion_to_the_column_by_column_one() -> None:
    """Clean rows take the one-`map` path; a value needing a conversion or out of range
    anywhere in the row gets exactly the per-column decoder's result or error."""
    cols = [("I", T.SqlType(T.INTEGER)), ("B", T.SqlType(T.BIGINT)), ("S", T.SqlType(T.STRING))]
    cols += [(f"D{k}", T.SqlType(T.DOUBLE)) for k in range(3)] + [("F", T.SqlType(T.BOOLEAN))]
    serde = make_serde(FormatSpec("JSON"), cols, "t", False, None)
    row = b'{"I": 1, "B": 2, "S": "x", "D0": 1.5, "D1": null, "D2": -0.0, "F": true}'
    assert serde.deserialize(row) == [1, 2, "x", 1.5, None, -0.0, True]
    assert serde.deserialize(b'{"I": 1, "S": 5, "D1": 3, "F": false}') == [
        1, None, "5", None, 3.0, None, False,
    ]  # fmt: skip
    assert serde.deserialize(b'{"S": true, "D0": "2.5"}') == [
        None, None, "true", 2.5, None, None, None,
    ]  # fmt: skip
    with pytest.raises(SerdeError):
        serde.deserialize(b'{"I": 2147483648}')  # one past INTEGER's range
    with pytest.raises(SerdeError):
        serde.deserialize(b'{"B": true}')
