"""The shared fast flat-Avro decoder agrees with fastavro and declines what it cannot vouch for."""

from __future__ import annotations

import io
import math
import random
from typing import Any

import fastavro
import numpy as np
import pytest

from fraudstream.serde.flatavro import FlatDecodeError, FlatPlan, decode_one
from fraudstream.serde.schemas import load_schema

LIVE = load_schema("live")
PARSED = fastavro.parse_schema(LIVE)
NUMERIC = [f["name"] for f in LIVE["fields"] if f["name"] not in ("TIMESTAMP", "USERID")]
TEXT = ["TIMESTAMP", ("User", "UserId")]


def _body(schema: dict[str, Any], rec: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return buf.getvalue()


def _live_rec(rng: random.Random, nulls: float) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for f in LIVE["fields"]:
        name = f["name"]
        if rng.random() < nulls:
            rec[name] = None
        elif name == "ID":
            rec[name] = rng.choice([0, 1, -1, 63, 64, -65, 2**40, -(2**62), 2**63 - 1])
        elif name in ("TIME", "CLASS"):
            rec[name] = rng.randint(-(2**31), 2**31 - 1)
        elif name in ("TIMESTAMP", "USERID"):
            rec[name] = "".join(rng.choice("abcé€x1") for _ in range(rng.randint(0, 60)))
        else:
            rec[name] = rng.choice([rng.uniform(-1e6, 1e6), math.inf, -0.0, 1e-310])
    return rec


@pytest.mark.parametrize("nulls", [0.0, 0.01, 0.05])
@pytest.mark.parametrize("offset", [0, 5])
def test_flat_plan_matches_fastavro(nulls: float, offset: int) -> None:
    plan = FlatPlan.build(LIVE, NUMERIC, TEXT)
    assert plan is not None
    rng = random.Random(int(nulls * 100) + offset)
    recs = [_live_rec(rng, nulls) for _ in range(600)]
    values = [b"\x00\x00\x00\x00\x07"[:offset] + _body(LIVE, r) for r in recs]
    fb = plan.decode(values, offset)
    assert nulls or fb.ok.all()
    vouched = 0
    for i, r in enumerate(recs):
        want = decode_one(PARSED, values[i], offset)
        assert want == r
        run_null = any(r[f"V{k}"] is None for k in range(1, 29)) or r["AMOUNT"] is None
        assert fb.ok[i] == (not run_null), i  # a null inside the run of doubles: declined
        if not fb.ok[i]:
            continue
        vouched += 1
        for j, name in enumerate(NUMERIC):
            if r[name] is None:
                assert fb.nulls[i, j] and math.isnan(fb.values[i, j])
            else:
                assert not fb.nulls[i, j]
                assert fb.values[i, j] == r[name]
                if name in ("ID", "TIME", "CLASS"):
                    assert fb.longs[i, j] == r[name]  # exact, also beyond 2**53
        assert fb.text[0][i] == r["TIMESTAMP"]
        assert fb.text[1][i] == r["USERID"]
        assert fb.text_nulls[i, 1] == (r["USERID"] is None)
    assert vouched > 0


def test_small_batches_and_a_field_null_in_every_record_decode_as_one_large_batch() -> None:
    """A union branch shared by the whole batch takes a shortcut (one comparison), so the
    same records must decode alike in batches of 1, 2 and 7 (shared branches) and in one
    batch (mixed), also when a field is null in every record of a batch."""
    plan = FlatPlan.build(LIVE, NUMERIC, TEXT)
    assert plan is not None
    rng = random.Random(11)
    recs = [_live_rec(rng, 0.0) for _ in range(40)]
    for r in recs[:14]:  # two small batches (7 each) where USERID and TIME are always null
        r["USERID"] = r["TIME"] = None
    recs[20]["ID"] = None  # one record off the shared branch
    values = [_body(LIVE, r) for r in recs]
    whole = plan.decode(values)
    for size in (1, 2, 7):
        for start in range(0, len(values), size):
            part = plan.decode(values[start : start + size])
            rows = slice(start, start + size)
            assert np.array_equal(part.ok, whole.ok[rows])
            assert np.array_equal(part.nulls, whole.nulls[rows])
            assert np.array_equal(part.longs, whole.longs[rows])
            assert np.array_equal(part.values, whole.values[rows], equal_nan=True)
            assert part.text == [t[rows] for t in whole.text]
    assert whole.ok.all()
    assert whole.nulls[:14, NUMERIC.index("TIME")].all()
    assert whole.text[1][:14] == [None] * 14 and whole.text[1][14] == recs[14]["USERID"]
    assert whole.nulls[20, NUMERIC.index("ID")] and not whole.nulls[21, NUMERIC.index("ID")]
    assert whole.longs[21, NUMERIC.index("ID")] == recs[21]["ID"]


def test_declines_corrupt_bodies_and_decode_one_says_why() -> None:
    plan = FlatPlan.build(LIVE, NUMERIC, TEXT)
    assert plan is not None
    rng = random.Random(3)
    good = [_body(LIVE, _live_rec(rng, 0.0)) for _ in range(6)]
    bad_union = bytearray(good[3])
    bad_union[0] = 0x08  # union index 4 does not exist
    bad_utf8 = _body(LIVE, {**_live_rec(rng, 0.0), "USERID": "ab"}).replace(
        b"\x04ab", b"\x04\xff\xfe"
    )
    cases = [
        good[0],
        good[1][:-3],
        good[2] + b"\x00",
        bytes(bad_union),
        b"\x07" * 40,
        b"",
        good[4][:10],
        bad_utf8,
        good[5],
    ]
    ok = plan.decode(cases).ok.tolist()
    assert ok == [True, False, False, False, False, False, False, False, True]
    with pytest.raises(FlatDecodeError, match="trailing"):
        decode_one(PARSED, cases[2])
    for body in (cases[1], cases[3], cases[4], cases[5], cases[6]):
        with pytest.raises(FlatDecodeError):
            decode_one(PARSED, body)


def test_reordered_plain_fields_aliases_and_absent_columns() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "Amount", "type": "double"},
            {"name": "Id", "type": "long"},
            {"name": "f", "type": "float"},
            {"name": "b", "type": "boolean"},
            {"name": "raw", "type": ["bytes", "null"]},
            {"name": "V2", "type": "double"},
            {"name": "V1", "type": "double"},
            {"name": "User", "type": ["string", "null"]},
        ],
    }
    rec = {"Amount": 1.5, "Id": -7, "f": 0.25, "b": True, "raw": b"\x01", "V2": -3.0, "V1": 2.0,
           "User": None}  # fmt: skip
    numeric = ["id", "amount", "F", "V1", "V2", "Class"]
    assert FlatPlan.build(schema, numeric, [("USERID", "user")]) is None  # Class is absent
    plan = FlatPlan.build(schema, numeric, [("USERID", "user")], require_all=False)
    assert plan is not None
    fb = plan.decode([_body(schema, rec), _body(schema, {**rec, "User": "é"})])
    assert fb.ok.all()
    np.testing.assert_array_equal(fb.values[0, :5], [-7, 1.5, 0.25, 2.0, -3.0])
    assert fb.nulls[:, 5].all() and not fb.nulls[:, :5].any()
    assert fb.text[0] == [None, "é"]


def test_schemas_without_a_plan() -> None:
    nested = {
        "type": "record",
        "name": "N",
        "fields": [
            {"name": "ID", "type": "long"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
    assert FlatPlan.build(nested, ["ID"]) is None
    assert decode_one(fastavro.parse_schema(nested), _body(nested, {"ID": 5, "tags": ["a"]})) == {
        "ID": 5,
        "tags": ["a"],
    }
    stringly = {"type": "record", "name": "r", "fields": [{"name": "V1", "type": "string"}]}
    assert FlatPlan.build(stringly, ["V1"]) is None
    assert FlatPlan.build({"type": "string"}, ["V1"]) is None


# -- the training topic's schema (preprocessed.avsc), as the trainer reads it ----------

WANTED = [*(f"V{i}" for i in range(1, 29)), "AMOUNT", "TIME", "CLASS"]


def _training_record(rng: np.random.Generator, i: int) -> dict[str, Any]:
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
    recs = [_training_record(rng, i) for i in range(500)]
    bodies = [_body(schema, r) for r in recs]
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
    good = [_body(schema, _training_record(rng, i)) for i in range(1, 6)]
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
