"""Decoding KSQL event records: good rows become arrays, every bad record a reject with a
reason; the scorer profile (identity columns) and the trainer profile (numbers + label)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest

from fraudstream.serde.errors import SerdeFailure
from fraudstream.serde.ksql_records import RecordDecoder, parse_event_time_ms
from fraudstream.serde.schemas import load_schema

LIVE = load_schema("live")
# two more writer schemas of the live topic (ids 8 and 9): no AMOUNT, V1 a string
NO_AMOUNT = {
    "type": "record",
    "name": "X",
    "fields": [f for f in LIVE["fields"] if f["name"] != "AMOUNT"],
}
STRING_V1 = {
    "type": "record",
    "name": "Y",
    "fields": [
        ({"name": "V1", "type": ["null", "string"]} if f["name"] == "V1" else f)
        for f in LIVE["fields"]
    ],
}
WRITERS = {7: LIVE, 8: NO_AMOUNT, 9: STRING_V1}


def _decoder(schemas: dict[int, dict[str, Any]]) -> Any:
    from fraudstream.testing.scorer import MemorySchemas

    return RecordDecoder("avro", MemorySchemas(schemas))


def test_avro_batch_decodes_to_columns(
    live_records: list[dict[str, Any]], events: list[dict[str, Any]], request: Any
) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro, numeric

    dec = _decoder({7: LIVE})
    msgs = [Msg(avro(LIVE, r, 7), i) for i, r in enumerate(live_records)]
    out = dec.decode(msgs)
    assert out.dead == []
    assert out.ids == [e["Id"] for e in events]
    assert out.labels == [(-1 if e["Class"] is None else e["Class"]) for e in events]
    assert out.users == [r["USERID"] for r in live_records]
    np.testing.assert_array_equal(out.numeric, numeric(events))
    assert out.event_ms[0] == parse_event_time_ms(events[0]["Timestamp"])
    assert dec._schemas.lookups == 1, "writer schema fetched once per id"


def test_json_batch_decodes_to_columns(events: list[dict[str, Any]]) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import numeric

    out = RecordDecoder("json").decode([Msg(orjson.dumps(e)) for e in events])
    assert out.dead == []
    assert out.ids == [e["Id"] for e in events]
    assert out.users == [e["User"] for e in events]
    np.testing.assert_array_equal(out.numeric, numeric(events))


def _bad_avro_cases(rec: dict[str, Any]) -> list[tuple[bytes | None, str]]:
    from fraudstream.testing.scorer import avro

    good = avro(LIVE, rec, 7)
    nan = dict(rec, V3=math.nan)
    inf = dict(rec, AMOUNT=math.inf)
    neg = dict(rec, AMOUNT=-5.0)
    null_v = dict(rec, V7=None)
    null_id = dict(rec, ID=None)
    bad_ts = dict(rec, TIMESTAMP="yesterday")
    bad_class = dict(rec, CLASS=7)
    return [
        (None, "missing_field"),
        (b"", "decode_error"),
        (b"\x00\x00\x00", "decode_error"),
        (b"\x01" + good[1:], "decode_error"),
        (good[:-3], "decode_error"),
        (good + b"\x00", "decode_error"),
        (b"\x00\x00\x00\x00\x63" + good[5:], "schema_not_found"),
        (avro(LIVE, nan, 7), "invalid_value"),
        (avro(LIVE, inf, 7), "invalid_value"),
        (avro(LIVE, neg, 7), "invalid_value"),
        (avro(LIVE, null_v, 7), "missing_field"),
        (avro(LIVE, null_id, 7), "missing_field"),
        (avro(LIVE, bad_ts, 7), "invalid_value"),
        (avro(LIVE, bad_class, 7), "invalid_value"),
        (avro(NO_AMOUNT, rec, 8), "missing_field"),
        (avro(STRING_V1, dict(rec, V1="1.0"), 9), "wrong_type"),
    ]


def test_bad_avro_records_are_dead_letters_with_reasons(
    live_records: list[dict[str, Any]],
) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    cases = _bad_avro_cases(live_records[0])
    dec = _decoder(dict(WRITERS))
    good = [Msg(avro(LIVE, r, 7), 1000 + i) for i, r in enumerate(live_records[1:6])]
    msgs = [Msg(v, i) for i, (v, _) in enumerate(cases)]
    out = dec.decode(msgs[:8] + good + msgs[8:])
    assert len(out) == 5 and out.ids == [r["ID"] for r in live_records[1:6]]
    assert sorted((d.msg.offset(), d.reason) for d in out.dead) == [
        (i, reason) for i, (_, reason) in enumerate(cases)
    ]
    assert all(d.detail for d in out.dead)
    assert out.numeric.shape == (5, 30)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "decode_error"),
        (b"[1, 2]", "wrong_type"),
        (b'{"Id": 1}', "missing_field"),
        ("V1", "wrong_type"),
        ("Id", "wrong_type"),
        ("Timestamp", "wrong_type"),
        ("bool", "wrong_type"),
        ("neg", "invalid_value"),
        ("huge", "decode_error"),  # orjson refuses 1e999 (it would be infinity)
    ],
)
def test_bad_json_records(events: list[dict[str, Any]], payload: Any, reason: str) -> None:
    from fraudstream.testing.messages import Msg

    ev = dict(events[0])
    if payload == "V1":
        ev["V1"] = "1.5"
    elif payload == "Id":
        ev["Id"] = "12"
    elif payload == "Timestamp":
        ev["Timestamp"] = 12345
    elif payload == "bool":
        ev["Amount"] = True
    elif payload == "neg":
        ev["Amount"] = -1.0
    elif payload == "huge":
        payload = orjson.dumps(ev).replace(b'"V2":', b'"V2":1e999,"x":', 1)
    if isinstance(payload, str):
        payload = orjson.dumps(ev)
    out = RecordDecoder("json").decode([Msg(payload)])
    assert len(out) == 0
    assert [d.reason for d in out.dead] == [reason], out.dead


def test_json_accepts_uppercase_keys_and_quoted_class(events: list[dict[str, Any]]) -> None:
    from fraudstream.testing.messages import Msg

    ev = {k.upper(): v for k, v in events[1].items()}
    ev["USERID"] = ev.pop("USER")
    ev["CLASS"] = '"1"'
    out = RecordDecoder("json").decode([Msg(orjson.dumps(ev))])
    assert out.dead == [] and out.labels == [1] and out.users == [events[1]["User"]]


def test_event_time_parsing() -> None:
    assert parse_event_time_ms("1970-01-01T00:00:01Z") == 1000
    assert parse_event_time_ms("1970-01-01T00:00:01.250") == 1250
    assert parse_event_time_ms("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(ValueError):
        parse_event_time_ms("not a time")


def test_batch_fast_path_agrees_with_per_record_path(
    live_records: list[dict[str, Any]],
) -> None:
    """The whole-batch reader handles the common case; every record it declines is re-read
    one by one, so reasons and good rows are the same whichever path a record takes."""
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    cases = _bad_avro_cases(live_records[0])
    goods = [avro(LIVE, r, 7) for r in live_records[1:40]]
    values: list[bytes | None] = []
    for i, g in enumerate(goods):
        values.append(g)
        if i < len(cases):
            values.append(cases[i][0])
    msgs = [Msg(v, i) for i, v in enumerate(values)]
    fast = _decoder(dict(WRITERS))
    parts, rest = fast._fast(msgs)
    # Good records, and decodable ones with invalid values (NaN, bad Timestamp, ...), are
    # read by the vectorized path; the rest is left to the per-record path.
    assert sum(len(p.rows) for p in parts) == len(goods) + 4
    assert len(rest) == len(cases) - 4
    slow = _decoder(dict(WRITERS))
    slow._fast = lambda m, *_: ([], list(m))  # force the per-record path
    a, b = fast.decode(msgs), slow.decode(msgs)
    assert a.ids == b.ids == [r["ID"] for r in live_records[1:40]]
    assert a.labels == b.labels and a.users == b.users and a.event_ms == b.event_ms
    np.testing.assert_array_equal(a.numeric, b.numeric)
    reasons = sorted((d.msg.offset(), d.reason) for d in a.dead)
    assert reasons == sorted((d.msg.offset(), d.reason) for d in b.dead)
    assert sorted(r for _, r in reasons) == sorted(r for _, r in cases)


# -- the trainer profile: numbers and label only, writer schema checked up front --------

PREPROCESSED = load_schema("preprocessed")


def _training_record(rng: np.random.Generator) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "ID": None,  # identity columns are not needed for training
        "TIMESTAMP": None,
        "TIME": int(rng.integers(0, 2**31 - 1)),
        "AMOUNT": float(rng.exponential(100)),
        "CLASS": 0,
    }
    rec.update({f"V{k}": float(rng.normal(0, 10)) for k in range(1, 29)})
    return rec


def _trainer_decoder(schemas: dict[int, dict[str, Any]]) -> Any:
    from fraudstream.testing.scorer import MemorySchemas

    return RecordDecoder(
        "avro", MemorySchemas(schemas), identity=False, require_label=True, strict_schema=True
    )


@pytest.mark.parametrize("flat", [True, False])
def test_trainer_profile_counts_rejects_in_the_same_vocabulary(flat: bool) -> None:
    from fraudstream.events import NUMERIC_COLUMNS
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    schema = PREPROCESSED
    if not flat:  # an extra enum field forces the per-record fastavro path
        schema = {**schema, "fields": [*schema["fields"], {"name": "TAGS", "type":
                  {"type": "enum", "name": "Tag", "symbols": ["a", "b"]}}]}  # fmt: skip
    rng = np.random.default_rng(2)
    recs = [_training_record(rng) for _ in range(40)]
    for r in recs:
        r["TAGS"] = "a"
    recs[3]["V7"] = None  # missing
    recs[4]["AMOUNT"] = -5.0  # negative amount
    recs[5]["V2"] = float("nan")  # non-finite
    recs[6]["CLASS"] = 3  # invalid label
    recs[7]["CLASS"] = None  # unlabelled, kept as -1
    values: list[bytes | None] = [avro(schema, r, 1) for r in recs]
    values += [b"garbage", None, avro(schema, recs[0], 1)[:30], b"\x00\x00\x00\x00\x09abc"]
    dec = _trainer_decoder({1: schema})
    out = dec.decode([Msg(v, i) for i, v in enumerate(values)])
    assert dict(out.reasons()) == {
        "missing_field": 2,  # V7 null, the tombstone
        "invalid_value": 3,  # negative amount, NaN, Class 3
        "decode_error": 2,  # not framed, truncated body
        "schema_not_found": 1,
    }
    kept = [r for i, r in enumerate(recs) if i not in (3, 4, 5, 6)]
    assert len(out) == len(kept) == 36 and out.ids == [] and out.event_ms == []
    assert out.labels == [-1 if r["CLASS"] is None else r["CLASS"] for r in kept]
    np.testing.assert_array_equal(
        out.numeric, [[r[c.upper()] for c in NUMERIC_COLUMNS] for r in kept]
    )
    # schema 1 is fetched once; misses are not cached by the decoder (the registry client
    # answers repeats from its miss cache), so id 9 is asked by the fast and the slow path
    assert dec._schemas.lookups == 3
    assert list(dec.writer_schemas()) == [1]


def test_trainer_profile_refuses_a_schema_without_needed_fields() -> None:
    from fraudstream.serde.errors import MissingFieldError
    from fraudstream.testing.messages import Msg

    schema = {
        **PREPROCESSED,
        "fields": [f for f in PREPROCESSED["fields"] if f["name"] not in ("V9", "TIME")],
    }
    with pytest.raises(MissingFieldError, match="lacks fields the model needs: Time, V9"):
        _trainer_decoder({1: schema}).decode([Msg(b"\x00\x00\x00\x00\x01xyz")])
    # the scorer profile rejects the records instead of stopping
    out = _decoder({1: schema}).decode([Msg(b"\x00\x00\x00\x00\x01xyz")])
    assert [(d.reason, "Time, V9" in d.detail) for d in out.dead] == [("missing_field", True)]


def test_trainer_profile_needs_the_label_column_the_scorer_does_not(
    live_records: list[dict[str, Any]],
) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    no_class = {**LIVE, "fields": [f for f in LIVE["fields"] if f["name"] != "CLASS"]}
    rec = {k: v for k, v in live_records[0].items() if k != "CLASS"}
    msgs = [Msg(avro(no_class, rec, 4))]
    assert _decoder({4: no_class}).decode(msgs).labels == [-1]
    with pytest.raises(SerdeFailure, match="Class"):
        _trainer_decoder({4: no_class}).decode(msgs)


def test_batch_length_survives_freeing_the_messages(events: list[dict[str, Any]]) -> None:
    """The scorer drops `msgs` once outputs are produced and counts the batch later."""
    from fraudstream.testing.messages import Msg

    out = RecordDecoder("json").decode([Msg(orjson.dumps(e)) for e in events[:5]])
    out.msgs = []
    assert len(out) == 5


def _zigzag(n: int) -> bytes:
    """Avro's zig-zag varint of `n`."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def test_schema_with_a_collection_is_refused_as_unexpected_schema_once(
    live_records: list[dict[str, Any]],
) -> None:
    """A writer schema with the required columns plus an array of nulls: a record claiming
    millions of items is a dead letter `unexpected_schema`, decoded without allocating, and
    the schema is looked up (and refused) once for its id."""
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    hostile = dict(
        LIVE, fields=[*LIVE["fields"], {"name": "X", "type": {"type": "array", "items": "null"}}]
    )
    body = avro(LIVE, live_records[0], 9) + _zigzag(5_000_000) + _zigzag(0)
    dec = _decoder({9: hostile, 7: LIVE})
    good = Msg(avro(LIVE, live_records[1], 7), 1)
    out = dec.decode([Msg(body, 0), good, Msg(body, 2)])
    assert [d.reason for d in out.dead] == ["unexpected_schema", "unexpected_schema"]
    assert "schema id 9" in out.dead[0].detail
    assert out.msgs == [good]
    dec.decode([Msg(body, 3)])
    assert dec._schemas.lookups == 2, "each schema id fetched and judged once"


def test_trainer_profile_skips_unexpected_schemas_without_raising(
    live_records: list[dict[str, Any]],
) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import MemorySchemas, avro

    nested = dict(
        LIVE,
        fields=[*LIVE["fields"], {"name": "M", "type": {"type": "map", "values": "string"}}],
    )
    rec = dict(live_records[0], CLASS=0)
    dec = RecordDecoder(
        "avro", MemorySchemas({3: nested}), identity=False, require_label=True, strict_schema=True
    )
    out = dec.decode([Msg(avro(LIVE, rec, 3) + _zigzag(0), 0)])
    assert out.reasons() == {"unexpected_schema": 1}


def test_records_over_the_size_limit_are_refused_before_decoding(
    live_records: list[dict[str, Any]],
) -> None:
    from fraudstream.serde.ksql_records import DecodeLimits
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import MemorySchemas, avro

    wide = dict(live_records[0], USERID="u" * 5000)
    dec = RecordDecoder(
        "avro",
        MemorySchemas({7: LIVE}),
        limits=DecodeLimits(max_record_bytes=4096, max_string_bytes=1024),
    )
    big = Msg(avro(LIVE, wide, 7), 0)
    long_user = Msg(avro(LIVE, dict(live_records[0], USERID="u" * 2000), 7), 1)
    ok = Msg(avro(LIVE, live_records[1], 7), 2)
    out = dec.decode([big, long_user, ok])
    assert out.msgs == [ok]
    assert {d.msg._offset: d.reason for d in out.dead} == {0: "decode_error", 1: "invalid_value"}
    assert "exceeds" in out.dead[0].detail
    js = RecordDecoder("json", limits=DecodeLimits(max_record_bytes=100))
    assert js.decode([Msg(b"[" * 200 + b"]" * 200)]).reasons() == {"decode_error": 1}


@pytest.mark.parametrize("eid", [2**64 - 1, 2**63])
def test_json_id_out_of_int64_range_is_a_dead_letter(
    events: list[dict[str, Any]], eid: int
) -> None:
    from fraudstream.testing.messages import Msg

    good = Msg(orjson.dumps(events[1]), 1)
    bad = Msg(
        orjson.dumps(dict(events[0], Id=eid))
        if eid >= 0
        else orjson.dumps(dict(events[0])).replace(
            str(events[0]["Id"]).encode(), str(eid).encode(), 1
        ),
        0,
    )
    out = RecordDecoder("json").decode([bad, good])
    assert out.msgs == [good]
    assert [d.reason for d in out.dead] == ["invalid_value"]
    assert "Id" in out.dead[0].detail


def test_json_class_and_numbers_out_of_range_are_dead_letters(events: list[dict[str, Any]]) -> None:
    from fraudstream.testing.messages import Msg

    huge_class = Msg(orjson.dumps(dict(events[0], Class=2**64 - 1)), 0)
    huge_v = Msg(orjson.dumps(dict(events[0], V4=2**64 - 1)), 1)
    out = RecordDecoder("json").decode([huge_class, huge_v])
    assert [d.reason for d in out.dead] == ["invalid_value"]
    assert out.dead[0].msg is huge_class
    assert out.msgs == [huge_v]  # a big but finite number is a valid feature value


def test_a_writer_schema_prepared_ahead_is_not_fetched_again_by_the_first_batch(
    live_records: list[dict[str, Any]],
) -> None:
    from fraudstream.testing.messages import Msg
    from fraudstream.testing.scorer import avro

    dec = _decoder({7: LIVE, 8: {"type": "record", "name": "Other", "fields": []}})
    assert dec.prepare(7) is True
    assert dec._schemas.lookups == 1
    out = dec.decode([Msg(avro(LIVE, r, 7), i) for i, r in enumerate(live_records[:5])])
    assert len(out) == 5 and out.dead == []
    assert dec._schemas.lookups == 1, "the first batch used the plan made ahead"
    assert dec.prepare(8) is False  # a schema its records cannot be decoded with
    assert dec.prepare(99) is False  # unknown id: not cached, the first record retries
    assert RecordDecoder("json").prepare(7) is False
