"""Decoding the Avro topic's values: vectorized fast path == fastavro, bad bytes counted."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro
import numpy as np
import pytest

from fraudstream.schemas import load_schema
from fraudstream.serde.flatavro import FlatPlan
from fraudstream.trainer.avro_source import BatchDecoder, _WriterSchemas, parse_since
from fraudstream.trainer.data import RAW_COLUMNS
from fraudstream.trainer.errors import InputSchemaError, TrainerError

WANTED = [*(f"V{i}" for i in range(1, 29)), "AMOUNT", "TIME", "CLASS"]


def _encode(schema: dict[str, Any], rec: dict[str, Any], schema_id: int = 1) -> bytes:
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", schema_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return buf.getvalue()


def _record(rng: np.random.Generator, i: int) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "ID": int(rng.integers(-(2**62), 2**62)),
        "TIMESTAMP": "ü" * int(rng.integers(0, 200)),  # multi-byte lengths and UTF-8
        "TIME": int(rng.integers(-(2**31), 2**31 - 1)),
        "AMOUNT": float(rng.exponential(100)),
        "CLASS": int(rng.choice([0, 1, -1])),
    }
    rec.update({f"V{k}": float(rng.normal(0, 10)) for k in range(1, 29)})
    if i % 7 == 0:
        rec["TIMESTAMP"] = None
    if i % 11 == 0:
        rec["ID"] = None
    if i % 13 == 0:
        rec["CLASS"] = None
    return rec


def test_fast_plan_matches_fastavro_exactly() -> None:
    schema = load_schema("preprocessed")
    rng = np.random.default_rng(0)
    recs = [_record(rng, i) for i in range(500)]
    bodies = [_encode(schema, r)[5:] for r in recs]
    plan = FlatPlan.build(schema, WANTED)
    assert plan is not None
    batch = plan.decode(bodies)
    values, nulls, ok = batch.values, batch.nulls, batch.ok
    assert ok.all()
    for i, r in enumerate(recs):
        for j, name in enumerate(WANTED):
            if r[name] is None:
                assert nulls[i, j]
            else:
                assert values[i, j] == r[name], (i, name)


def test_fast_plan_flags_bodies_it_cannot_vouch_for() -> None:
    schema = load_schema("preprocessed")
    rng = np.random.default_rng(1)
    good = [_encode(schema, _record(rng, i))[5:] for i in range(1, 6)]
    bodies = [good[0], good[1][:-3], good[2] + b"\x00", b"\x07" * 40, good[3], b""]
    plan = FlatPlan.build(schema, WANTED)
    assert plan is not None
    ok = plan.decode(bodies).ok
    assert ok.tolist() == [True, False, False, False, True, False]


def test_non_flat_schema_has_no_plan() -> None:
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "V1", "type": {"type": "array", "items": "double"}}],
    }
    assert FlatPlan.build(schema, ["V1"]) is None
    stringly = {"type": "record", "name": "r", "fields": [{"name": "V1", "type": "string"}]}
    assert FlatPlan.build(stringly, ["V1"]) is None


@pytest.mark.parametrize("flat", [True, False])
def test_batch_decoder_counts_bad_records(flat: bool) -> None:
    schema = load_schema("preprocessed")
    if not flat:  # an extra array field forces the per-record fastavro path
        schema = {**schema, "fields": [*schema["fields"], {"name": "TAGS", "type":
                  {"type": "array", "items": "string"}, "default": []}]}  # fmt: skip
    rng = np.random.default_rng(2)
    recs = [_record(rng, i) for i in range(1, 41)]
    for r in recs:
        r["CLASS"] = 0
        r["TAGS"] = ["a"]
    recs[3]["V7"] = None  # missing
    recs[4]["AMOUNT"] = -5.0  # negative amount
    recs[5]["V2"] = float("nan")  # non-finite
    recs[6]["CLASS"] = 3  # invalid label
    recs[7]["CLASS"] = None  # unlabelled, kept
    values = [_encode(schema, r) for r in recs]
    values += [b"garbage", None, _encode(schema, recs[0])[:30], b"\x00\x00\x00\x00\x09abc"]
    lookups: list[int] = []

    def lookup(schema_id: int) -> str:
        lookups.append(schema_id)
        if schema_id != 1:
            raise KeyError(schema_id)
        return json.dumps(schema)

    dec = BatchDecoder(_WriterSchemas(lookup))
    dec.add(values[:20])
    dec.add(values[20:])
    raw, label = dec.dataset_parts()
    assert dict(dec.skipped) == {
        "missing_value": 1,
        "negative_amount": 1,
        "non_finite": 1,
        "invalid_label": 1,
        "not_wire_format": 2,
        "decode_error": 1,
        "schema_not_found": 1,
    }
    assert raw.shape == (36, len(RAW_COLUMNS))
    assert sorted(set(label.tolist())) == [-1, 0]
    assert lookups.count(1) == 1  # writer schema fetched once, then cached
    kept = [r for i, r in enumerate(recs) if i not in (3, 4, 5, 6)]
    np.testing.assert_array_equal(raw[:, 0], [r["V1"] for r in kept])
    np.testing.assert_array_equal(raw[:, 29], [r["TIME"] for r in kept])


def test_writer_schema_without_needed_fields_names_them() -> None:
    schema = load_schema("preprocessed")
    schema = {**schema, "fields": [f for f in schema["fields"] if f["name"] not in ("V9", "TIME")]}
    dec = BatchDecoder(_WriterSchemas(lambda _id: json.dumps(schema)))
    with pytest.raises(InputSchemaError, match="lacks fields the model needs: V9, Time"):
        dec.add([b"\x00\x00\x00\x00\x01xyz"])


def test_parse_since() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 1, 2, 0, 0, tzinfo=UTC)
    assert parse_since("1d", now) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2026-01-01T05:00:00Z") == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert parse_since("2026-01-01T05:00:00").tzinfo is UTC
    with pytest.raises(TrainerError, match="not an ISO-8601"):
        parse_since("yesterday")
