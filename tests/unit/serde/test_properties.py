"""Property tests (hypothesis) of the decoders every hostile byte goes through (issue 21):
the wire header parser, the JSON event decoder, the flat Avro decoder and the record decoder
of the scorer and trainer never raise anything but the project's own errors (`SerdeError`),
account for every record (a row or a dead letter with a reason), and never allocate much
beyond the input, whatever lengths and counts the bytes claim: on arbitrary bytes and on
valid records with bytes flipped, inserted, cut or lengths blown up. Bounded examples."""

from __future__ import annotations

import tracemalloc
from typing import Any

import fastavro
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.errors import SerdeError
from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.producer.synthetic import generate_events
from fraudstream.serde import wire
from fraudstream.serde.errors import REASONS, SerdeFailure
from fraudstream.serde.flatavro import FlatPlan, decode_one
from fraudstream.serde.jsonevents import decode_raw_event
from fraudstream.serde.ksql_records import DecodeLimits, RecordDecoder
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.messages import Msg
from fraudstream.testing.scorer import MemorySchemas, avro, live_record

LIVE = load_schema("live")
PARSED = fastavro.parse_schema(LIVE)
EVENTS = list(generate_events(20, seed=3, unlabelled=0.3, start="2026-01-01T00:00:00Z"))
VALID_AVRO = [avro(LIVE, live_record(e), 7) for e in EVENTS]
VALID_JSON = [orjson.dumps(e) for e in EVENTS]
LIMITS = DecodeLimits(max_record_bytes=4096, max_string_bytes=256)
# what a decode may allocate at most for the small inputs here, whatever they claim
ALLOC_BOUND = 8 * 1024 * 1024

PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def _zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


@st.composite
def mutated(draw: st.DrawFn, valid: list[bytes]) -> bytes:
    """A valid record with a few edits: flipped, inserted or deleted bytes, a cut, or a
    huge varint (a length or count claiming up to 2^62) spliced in."""
    data = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "huge"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = _zigzag(draw(st.integers(2**20, 2**62)))
    return bytes(data)


hostile_avro = st.one_of(st.binary(max_size=600), mutated(VALID_AVRO))
hostile_json = st.one_of(st.binary(max_size=600), mutated(VALID_JSON))


@PROPS
@given(st.one_of(st.none(), st.binary(max_size=64)))
def test_wire_split_raises_only_its_own_error(data: bytes | None) -> None:
    try:
        schema_id, body = wire.split(data)
    except SerdeFailure as exc:
        assert exc.reason == "decode_error"
        assert not wire.is_framed(data) and wire.schema_id_of(data) is None
        return
    assert wire.is_framed(data) and wire.schema_id_of(data) == schema_id
    assert data is not None and bytes(body) == data[wire.HEADER_SIZE :]
    assert 0 <= schema_id < 2**32 or -(2**31) <= schema_id < 2**31


@PROPS
@given(hostile_json)
def test_json_event_decoder_raises_only_serde_failures(data: bytes) -> None:
    try:
        event = decode_raw_event(data)
    except SerdeFailure as exc:
        assert exc.reason in REASONS
        return
    assert isinstance(event, dict) and "Id" in event


@PROPS
@given(hostile_avro)
def test_flat_avro_decode_one_raises_only_serde_errors(data: bytes) -> None:
    tracemalloc.start()
    try:
        rec = decode_one(PARSED, data, wire.HEADER_SIZE)
    except SerdeError:
        rec = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOC_BOUND, f"allocated {peak} bytes for a {len(data)}-byte record"
    assert rec is None or isinstance(rec, dict)


@PROPS
@given(st.lists(hostile_avro, min_size=1, max_size=8))
def test_flat_avro_batch_decode_never_raises_and_never_overallocates(values: list[bytes]) -> None:
    plan = FlatPlan.build(LIVE, NUMERIC_COLUMNS, require_all=False)
    assert plan is not None
    framed = [v for v in values if len(v) >= wire.HEADER_SIZE]
    tracemalloc.start()
    try:
        batch = plan.decode(framed, wire.HEADER_SIZE, max_string_bytes=256)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOC_BOUND
    assert len(batch.ok) == len(framed)


def _account(out: Any, msgs: list[Msg]) -> None:
    """Every record is a row or a dead letter with a known reason, never both, never lost."""
    assert len(out) + len(out.dead) == len(msgs)
    assert all(d.reason in REASONS and d.detail for d in out.dead)


@PROPS
@given(st.lists(st.one_of(st.none(), hostile_avro), min_size=1, max_size=12))
def test_record_decoder_avro_accounts_for_every_hostile_record(values: list[bytes | None]) -> None:
    hostile = dict(
        LIVE, fields=[*LIVE["fields"], {"name": "X", "type": {"type": "array", "items": "null"}}]
    )
    dec = RecordDecoder("avro", MemorySchemas({7: LIVE, 9: hostile}), limits=LIMITS)
    msgs = [Msg(v, i) for i, v in enumerate(values)]
    tracemalloc.start()
    try:
        out = dec.decode(msgs)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOC_BOUND
    _account(out, msgs)


@PROPS
@given(st.lists(st.one_of(st.none(), hostile_json), min_size=1, max_size=12))
def test_record_decoder_json_accounts_for_every_hostile_record(values: list[bytes | None]) -> None:
    dec = RecordDecoder("json", limits=LIMITS)
    msgs = [Msg(v, i) for i, v in enumerate(values)]
    tracemalloc.start()
    try:
        out = dec.decode(msgs)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOC_BOUND
    _account(out, msgs)


@pytest.mark.parametrize("claim", [10**6, 10**12, 2**62])
def test_a_collection_claiming_any_size_costs_nothing(claim: int) -> None:
    """The issue's 304-byte record claiming 10^12 items: refused before anything is read."""
    hostile = dict(
        LIVE, fields=[*LIVE["fields"], {"name": "X", "type": {"type": "array", "items": "null"}}]
    )
    body = VALID_AVRO[0][: wire.HEADER_SIZE - 4] + (9).to_bytes(4, "big")
    body += VALID_AVRO[0][wire.HEADER_SIZE :] + _zigzag(claim) + _zigzag(0)
    dec = RecordDecoder("avro", MemorySchemas({9: hostile}), limits=LIMITS)
    tracemalloc.start()
    try:
        out = dec.decode([Msg(body, 0)])
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert [d.reason for d in out.dead] == ["unexpected_schema"]
    assert peak < ALLOC_BOUND
