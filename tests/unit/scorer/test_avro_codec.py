"""The specialized Avro reader/writer agree with fastavro, and reject corrupt bodies."""

from __future__ import annotations

import io
import random
from typing import Any

import fastavro
import pytest

from fraudstream.schemas import load_schema, parsed_schema
from fraudstream.scorer.avro_codec import (
    SCORE_FIELDS,
    ScoreWriter,
    compile_reader,
    fallback_reader,
    make_reader,
    write_long,
)

LIVE = load_schema("live")
LIVE_COLS = [f["name"] for f in LIVE["fields"]]


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
            rec[name] = rng.choice([0, 1, -1, 63, 64, -65, 2**40, -(2**62)])
        elif name in ("TIME", "CLASS"):
            rec[name] = rng.randint(-(2**31), 2**31 - 1)
        elif name in ("TIMESTAMP", "USERID"):
            rec[name] = "".join(rng.choice("abcé€x1") for _ in range(rng.randint(0, 40)))
        else:
            rec[name] = rng.uniform(-1e6, 1e6)
    return rec


@pytest.mark.parametrize("nulls", [0.0, 0.2])
def test_compiled_reader_matches_fastavro(nulls: float) -> None:
    read = compile_reader(LIVE, LIVE_COLS)
    assert read is not None
    rng = random.Random(1)
    for _ in range(500):
        rec = _live_rec(rng, nulls)
        data = b"\x00\x00\x00\x00\x01" + _body(LIVE, rec)
        assert read(data, 5) == tuple(rec[c] for c in LIVE_COLS)


def test_columns_are_matched_case_insensitively_with_aliases() -> None:
    read = make_reader(LIVE, ["id", ("User", "UserId"), "v2", "Missing"])
    rec = _live_rec(random.Random(2), 0.0)
    assert read(_body(LIVE, rec), 0) == (rec["ID"], rec["USERID"], rec["V2"], None)


def test_non_union_and_reordered_fields() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "Amount", "type": "double"},
            {"name": "Id", "type": "long"},
            {"name": "f", "type": "float"},
            {"name": "b", "type": "boolean"},
            {"name": "raw", "type": ["bytes", "null"]},
            {"name": "V1", "type": "double"},
            {"name": "V2", "type": "double"},
        ],
    }
    cols = ["ID", "AMOUNT", "F", "B", "RAW", "V1", "V2"]
    read = compile_reader(schema, cols)
    assert read is not None
    rec = {"Amount": 1.5, "Id": -7, "f": 0.25, "b": True, "raw": b"\x01", "V1": 2.0, "V2": -3.0}
    assert read(_body(schema, rec), 0) == (-7, 1.5, 0.25, True, b"\x01", 2.0, -3.0)


def test_nested_schema_uses_fastavro_fallback() -> None:
    schema = {
        "type": "record",
        "name": "N",
        "fields": [
            {"name": "ID", "type": "long"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
    assert compile_reader(schema, ["ID"]) is None
    read = make_reader(schema, ["ID", "TAGS"])
    assert read(_body(schema, {"ID": 5, "tags": ["a"]}), 0) == (5, ["a"])
    assert fallback_reader(schema, ["id"])(_body(schema, {"ID": 9, "tags": []}), 0) == (9,)


@pytest.mark.parametrize("make", [compile_reader, fallback_reader])
def test_truncated_and_trailing_bytes_are_errors(make: Any) -> None:
    read = make(LIVE, LIVE_COLS)
    body = _body(LIVE, _live_rec(random.Random(3), 0.0))
    for cut in (1, 10, len(body) // 2, len(body) - 1):
        with pytest.raises(Exception):  # noqa: B017 - any decode failure is a dead letter
            read(body[:cut], 0)
    with pytest.raises(ValueError, match="trailing"):
        read(body + b"\x00", 0)


def test_bad_union_index_is_an_error() -> None:
    read = compile_reader(LIVE, LIVE_COLS)
    assert read is not None
    body = bytearray(_body(LIVE, _live_rec(random.Random(4), 0.0)))
    body[0] = 0x08  # union index 4 does not exist
    with pytest.raises(ValueError, match="union"):
        read(bytes(body), 0)


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 2**31, -(2**63), 2**63 - 1])
def test_write_long_matches_fastavro(n: int) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "long", n)
    assert write_long(n) == buf.getvalue()


@pytest.mark.parametrize("schema_name", ["score", "alert"])
def test_score_writer_round_trips_through_fastavro(schema_name: str) -> None:
    schema = load_schema(schema_name)
    assert tuple(f["name"] for f in schema["fields"]) == SCORE_FIELDS
    w = ScoreWriter(2.5, "20260101T000000Z-abcdef12", ["V1", "V2", "Amount", "héllo"])
    cases = [
        (123456789, "xXer7", 12.5, 3.25, True, 1, 1_700_000_000_123, 1_700_000_000_456),
        (0, None, 0.0, 0.0, False, -1, None, 0),
    ]
    for eid, user, amount, score, anom, label, ev, at in cases:
        body = w.encode(eid, user, amount, score, anom, label, ev, at, [3, 0], [0.75, 0.25])
        rec = fastavro.schemaless_reader(io.BytesIO(body), parsed_schema(schema_name), None)
        assert isinstance(rec, dict)
        assert rec["id"] == eid and rec["user"] == user and rec["amount"] == amount
        assert rec["score"] == score and rec["threshold"] == 2.5 and rec["is_anomaly"] is anom
        assert rec["model_version"] == "20260101T000000Z-abcdef12" and rec["label"] == label
        ev_out = rec["event_time"]
        assert (ev_out is None) if ev is None else int(ev_out.timestamp() * 1000) == ev
        assert int(rec["scored_at"].timestamp() * 1000) == at
        assert rec["top_features"] == [
            {"feature": "héllo", "share": 0.75},
            {"feature": "V1", "share": 0.25},
        ]
    empty = w.encode(1, None, 1.0, 1.0, False, 0, None, 0, [], [])
    rec = fastavro.schemaless_reader(io.BytesIO(empty), parsed_schema(schema_name), None)
    assert isinstance(rec, dict) and rec["top_features"] == []


def test_varints_match_write_long() -> None:
    import numpy as np

    from fraudstream.scorer.avro_codec import varints

    rng = np.random.default_rng(5)
    vals = np.concatenate(
        [
            np.array([0, 1, -1, 63, -64, 64, 8191, 8192, 2**62, -(2**63), 2**63 - 1]),
            rng.integers(-(2**40), 2**40, 500),
            rng.integers(0, 2**20, 500),
        ]
    ).astype(np.int64)
    assert varints(vals) == [write_long(int(v)) for v in vals]
    assert varints(vals[:5], prefix=b"\x02") == [b"\x02" + write_long(int(v)) for v in vals[:5]]
    assert varints(np.empty(0, np.int64)) == []


@pytest.mark.parametrize("k", [3, 2, 0])
def test_encode_batch_equals_encode(k: int) -> None:
    import numpy as np

    rng = np.random.default_rng(k)
    n = 300
    w = ScoreWriter(1.25, "20260101T000000Z-0123abcd", [f"F{i}" * (i % 4 + 1) for i in range(29)])
    ids = rng.integers(0, 2**45, n).tolist()
    users = [None if i % 7 == 0 else f"XXer{i % 13}" for i in range(n)]
    amounts = rng.exponential(80, n)
    scores = rng.exponential(1, n)
    anomalous = scores > 1.25
    labels = rng.integers(-1, 2, n).tolist()
    ev = (1_700_000_000_000 + rng.integers(0, 10**9, n)).tolist()
    top = np.argsort(-rng.random((n, 29)), axis=1)[:, :k]
    share = rng.random((n, k))
    got = w.encode_batch(ids, users, amounts, scores, anomalous, labels, ev, 123456, top, share)
    want = [
        w.encode(
            ids[i],
            users[i],
            float(amounts[i]),
            float(scores[i]),
            bool(anomalous[i]),
            labels[i],
            ev[i],
            123456,
            top[i].tolist(),
            share[i].tolist(),
        )
        for i in range(n)
    ]
    assert got == want
    # A label outside -1..1 takes the general path and still encodes correctly.
    odd = w.encode_batch([1], [None], [1.0], [0.5], [False], [5], [0], 0, top[:1], share[:1])
    rec = fastavro.schemaless_reader(io.BytesIO(odd[0]), parsed_schema("score"), None)
    assert isinstance(rec, dict) and rec["label"] == 5
