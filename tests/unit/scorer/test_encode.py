"""The score/alert writer agrees with fastavro byte for byte."""

from __future__ import annotations

import io

import fastavro
import pytest

from fraudstream.scorer.encode import SCORE_FIELDS, ScoreWriter, write_long
from fraudstream.serde.schemas import load_schema, parsed_schema


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

    from fraudstream.scorer.encode import varints

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
