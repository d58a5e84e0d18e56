"""Wire-format Avro and raw JSON event codecs: round trips and every failure reason.

The registry here is a dict-backed stand-in with `RegistryClient`'s interface (the client
itself is tested against the embedded registry); it counts lookups to prove caching.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import fastavro
import orjson
import pytest

from fraudstream.events import RAW_FIELDS
from fraudstream.serde.avro import AvroDecoder, AvroEncoder
from fraudstream.serde.errors import (
    EncodeError,
    InvalidValueError,
    MissingFieldError,
    PayloadDecodeError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SerdeFailure,
    WrongTypeError,
)
from fraudstream.serde.jsonevents import decode_raw_event, encode_raw_event
from fraudstream.serde.schemas import load_schema
from fraudstream.serde.wire import split


class DictClient:
    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.lookups = 0
        self.down = False

    def register(self, subject: str, schema: Any) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        for i, known in self.by_id.items():
            if known == text:
                return i
        new = len(self.by_id) + 1
        self.by_id[new] = text
        return new

    def lookup(self, subject: str, schema: Any) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        for i, known in self.by_id.items():
            if known == text:
                return i
        raise SchemaNotFoundError(f"schema is not registered under {subject}")

    def schema_text(self, schema_id: int) -> str:
        self.lookups += 1
        if self.down:
            raise RegistryUnavailableError("registry answered 503")
        if schema_id not in self.by_id:
            raise SchemaNotFoundError(f"schema id {schema_id} is not in the registry")
        return self.by_id[schema_id]


LIVE = load_schema("live")


def live_record(i: int = 1) -> dict[str, Any]:
    rec: dict[str, Any] = {f["name"]: None for f in LIVE["fields"]}
    rec.update({"ID": i, "TIMESTAMP": "2026-01-01T00:00:00Z", "USERID": "xx", "TIME": 5})
    rec.update({f"V{k}": float(k) / 10 for k in range(1, 29)})
    rec.update({"AMOUNT": 12.5, "CLASS": -1})
    return rec


def test_round_trip_and_header() -> None:
    client = DictClient()
    enc = AvroEncoder(client, "live-value", LIVE)
    data = enc.encode(live_record(7))
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == enc.schema_id == 1
    dec = AvroDecoder(client)
    assert dec.decode(data) == live_record(7)
    assert dec.decode(enc.encode(live_record(8)))["ID"] == 8
    assert client.lookups == 1  # writer schema fetched once, then cached


def test_decode_uses_writer_schema_not_a_local_one() -> None:
    client = DictClient()
    writer = {"type": "record", "name": "W", "fields": [{"name": "only", "type": "string"}]}
    data = AvroEncoder(client, "s", writer).encode({"only": "hi"})
    assert AvroDecoder(client).decode(data) == {"only": "hi"}


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"", "empty"),
        (b"\x00\x00", "shorter than the 5-byte header"),
        (b"\x01\x00\x00\x00\x01abc", "magic byte 1"),
    ],
)
def test_framing_errors(payload: bytes, needle: str) -> None:
    with pytest.raises(PayloadDecodeError) as info:
        AvroDecoder(DictClient()).decode(payload)
    assert needle in str(info.value) and info.value.reason == "decode_error"


def test_unknown_id_is_schema_not_found() -> None:
    """(The registry client answers repeated misses from its miss cache.)"""
    client = DictClient()
    dec = AvroDecoder(client)
    with pytest.raises(SchemaNotFoundError) as info:
        dec.decode(b"\x00\x00\x00\x00\x2a\x02")
    assert info.value.reason == "schema_not_found" and "42" in str(info.value)


def test_corrupt_and_truncated_bodies() -> None:
    client = DictClient()
    data = AvroEncoder(client, "live-value", LIVE).encode(live_record())
    dec = AvroDecoder(client)
    for bad in (data[:20], data + b"\x00\x01", data[:5] + b"\x07" + data[6:]):
        with pytest.raises(PayloadDecodeError) as info:
            dec.decode(bad)
        assert info.value.reason == "decode_error"


def test_registry_down_is_not_a_record_error() -> None:
    client = DictClient()
    data = AvroEncoder(client, "s", LIVE).encode(live_record())
    client.down = True
    with pytest.raises(RegistryUnavailableError):
        AvroDecoder(client).decode(data)


def test_decode_many_keeps_positions() -> None:
    client = DictClient()
    enc = AvroEncoder(client, "live-value", LIVE)
    batch = [enc.encode(live_record(1)), b"", enc.encode(live_record(3)), b"\x00\x00\x00\x00\x09"]
    out = AvroDecoder(client).decode_many(batch)
    assert isinstance(out[0], dict) and out[0]["ID"] == 1
    assert isinstance(out[1], SerdeFailure) and out[1].reason == "decode_error"
    assert isinstance(out[2], dict) and out[2]["ID"] == 3
    assert isinstance(out[3], SerdeFailure) and out[3].reason == "schema_not_found"


def test_encoder_rejects_bad_records_and_unregistered_lookup() -> None:
    client = DictClient()
    enc = AvroEncoder(client, "live-value", LIVE)
    bad = live_record()
    bad["ID"] = "not a long"
    with pytest.raises(EncodeError):
        enc.encode(bad)
    lookup_only = AvroEncoder(DictClient(), "x", LIVE, auto_register=False)
    with pytest.raises(SchemaNotFoundError):
        lookup_only.encode(live_record())


def test_encoder_output_is_plain_fastavro() -> None:
    client = DictClient()
    data = AvroEncoder(client, "s", LIVE).encode(live_record())
    sid, body = split(data)
    import io

    assert (
        fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(LIVE)) == live_record()
    )
    assert json.loads(client.by_id[sid]) == LIVE


# ---- raw JSON events ---------------------------------------------------------------------


def raw_event(**over: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"Id": 1, "Timestamp": "2026-01-01T00:00:00Z", "User": "alice", "Time": 3}
    ev.update({f"V{k}": -0.5 * k for k in range(1, 29)})
    ev.update({"Amount": 9.99, "Class": 0})
    ev.update(over)
    return ev


def test_raw_event_round_trip() -> None:
    ev = raw_event()
    out = decode_raw_event(encode_raw_event(ev))
    assert out == ev and set(out) == set(RAW_FIELDS)
    assert decode_raw_event(orjson.dumps(raw_event(Class=None)))["Class"] is None
    assert decode_raw_event(orjson.dumps(raw_event(Class="1")))["Class"] == 1
    v1 = decode_raw_event(orjson.dumps(raw_event(V1=2)))["V1"]
    assert v1 == 2.0 and type(v1) is float  # ints become floats
    lenient = decode_raw_event(orjson.dumps(raw_event(Time=3.0, Class="0")))
    assert (lenient["Time"], lenient["Class"]) == (3, 0) and type(lenient["Time"]) is int
    no_class = raw_event()
    del no_class["Class"]
    assert decode_raw_event(orjson.dumps(no_class))["Class"] is None
    assert "extra" not in decode_raw_event(orjson.dumps(raw_event(extra=1)))


@pytest.mark.parametrize(
    ("payload", "error", "reason"),
    [
        (b"", PayloadDecodeError, "decode_error"),
        (b"{not json", PayloadDecodeError, "decode_error"),
        (b'{"Amount": NaN}', PayloadDecodeError, "decode_error"),
        (b"[1, 2]", WrongTypeError, "wrong_type"),
        (
            orjson.dumps({k: v for k, v in raw_event().items() if k != "V7"}),
            MissingFieldError,
            "missing_field",
        ),
        (orjson.dumps(raw_event(Id="1")), WrongTypeError, "wrong_type"),
        (orjson.dumps(raw_event(Id=True)), WrongTypeError, "wrong_type"),
        (orjson.dumps(raw_event(Time=1.5)), WrongTypeError, "wrong_type"),
        (orjson.dumps(raw_event(V3="x")), WrongTypeError, "wrong_type"),
        (orjson.dumps(raw_event(User=None)), WrongTypeError, "wrong_type"),
        (orjson.dumps(raw_event(User="")), InvalidValueError, "invalid_value"),
        (orjson.dumps(raw_event(Amount=-1.0)), InvalidValueError, "invalid_value"),
        (orjson.dumps(raw_event(Id=-4)), InvalidValueError, "invalid_value"),
        (orjson.dumps(raw_event(Class=2)), InvalidValueError, "invalid_value"),
        (orjson.dumps(raw_event(Class="yes")), WrongTypeError, "wrong_type"),
        (b'{"Id": 1, "V1": 1e999}', PayloadDecodeError, "decode_error"),
    ],
)
def test_raw_event_errors(payload: bytes, error: type[SerdeFailure], reason: str) -> None:
    with pytest.raises(error) as info:
        decode_raw_event(payload)
    assert info.value.reason == reason


def test_non_finite_floats_are_invalid_values() -> None:
    from fraudstream.serde.jsonevents import validate_raw_event

    with pytest.raises(InvalidValueError) as info:
        validate_raw_event(raw_event(V5=float("inf")))
    assert info.value.field == "V5"
    with pytest.raises(InvalidValueError):
        encode_raw_event(raw_event(Amount=float("nan")))


def test_fast_and_hand_written_paths_agree() -> None:
    """Whatever the strict pydantic path accepts, the hand-written checker accepts identically;
    whatever it rejects, decode_raw_event still answers (lenient value or a SerdeFailure)."""
    import contextlib
    import random

    from fraudstream.serde.jsonevents import _fast, validate_raw_event

    rng = random.Random(7)
    pool: list[Any] = [0, 1, -1, 2, 3.0, 2.5, -0.5, "1", "x", "", None, True, [], {}, 1e300]
    fields = [*RAW_FIELDS, "extra"]
    accepted = rejected = 0
    for _ in range(3000):
        ev = raw_event()
        for _ in range(rng.randint(0, 2)):
            name = rng.choice(fields)
            if rng.random() < 0.15:
                ev.pop(name, None)
            else:
                ev[name] = rng.choice(pool)
        data = orjson.dumps(ev)
        try:
            fast = _fast.validate_json(data)
        except Exception:
            rejected += 1
            with contextlib.suppress(SerdeFailure):
                decode_raw_event(data)
            continue
        accepted += 1
        slow = validate_raw_event(orjson.loads(data))
        fast.setdefault("Class", None)
        assert fast == slow, ev
        assert {k: type(v) for k, v in fast.items()} == {k: type(v) for k, v in slow.items()}
        assert decode_raw_event(data) == slow
    assert accepted > 300 and rejected > 300
