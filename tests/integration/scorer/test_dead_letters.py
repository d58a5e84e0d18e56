"""1,000 malformed records all land in the DLQ with reasons; good records around them score."""

from __future__ import annotations

import math
import random
import struct
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fraudstream.kafka.reader import read_topic
from fraudstream.testing.scorer import live_value, make_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _malformed(events: list[dict[str, Any]], schema_id: int) -> list[tuple[bytes | None, str]]:
    rng = random.Random(11)
    out: list[tuple[bytes | None, str]] = []
    for i, ev in enumerate(events):
        good = live_value(ev, schema_id)
        kind = i % 8
        if kind == 0:
            out.append((good[: rng.randint(6, len(good) - 1)], "decode_error"))
        elif kind == 1:
            out.append(
                (bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 4))), "decode_error")
            )
        elif kind == 2:
            out.append((b"\x07" + good[1:], "decode_error"))
        elif kind == 3:
            out.append((b"\x00" + struct.pack(">I", 999_999) + good[5:], "schema_not_found"))
        elif kind == 4:
            out.append((live_value(dict(ev, V5=math.nan), schema_id), "invalid_value"))
        elif kind == 5:
            out.append((live_value(dict(ev, Amount=-math.inf), schema_id), "invalid_value"))
        elif kind == 6:
            out.append((live_value(dict(ev, V9=None), schema_id), "missing_field"))
        else:
            out.append((None, "missing_field"))  # tombstone
    return out


def test_thousand_malformed_records_go_to_dlq(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    good = make_events(500, id_offset=0)
    bad_src = make_events(1000, id_offset=10_000, seed=6)
    bad = _malformed(bad_src, live_producer.schema_id)
    rs = run_scorer(batch_size=300)
    rs.wait_ready()
    # Interleave: good, bad, good, ... so bad records sit inside batches with good ones.
    p = live_producer.producer
    gi = 0
    for j, (value, _) in enumerate(bad):
        p.produce(live_producer.topic, value, f"bad-{j}".encode(), headers=[("origin", b"test")])
        if j % 2 == 0 and gi < len(good):
            p.produce(live_producer.topic, live_value(good[gi], live_producer.schema_id), b"u")
            gi += 1
    assert p.flush(30) == 0

    dlq = read_topic(kafka_bootstrap, topics.dlq, expect=len(bad), timeout=60, read_committed=False)
    scores = read_topic(
        kafka_bootstrap, topics.scores, expect=len(good), timeout=30, read_committed=False
    )
    assert len(dlq) == len(bad)
    by_key = {m.key().decode(): m for m in dlq}
    assert len(by_key) == len(bad)
    reasons: Counter[str] = Counter()
    for j, (value, reason) in enumerate(bad):
        m = by_key[f"bad-{j}"]
        h = dict(m.headers())
        assert m.value() == value, "original bytes are kept"
        assert h["dlq.reason"].decode() == reason, (j, h["dlq.error"])
        assert h["origin"] == b"test", "original headers are kept"
        assert h["dlq.source.topic"].decode() == topics.input
        assert int(h["dlq.source.offset"]) >= 0 and h["dlq.error"]
        reasons[reason] += 1
    assert {m.key() for m in scores} == {str(e["Id"]).encode() for e in good}

    text = httpx.get(rs.url("/metrics")).text
    for reason, n in reasons.items():
        assert f'fraudstream_events_dead_lettered_total{{reason="{reason}"}} {float(n)}' in text
    assert f"fraudstream_events_scored_total {float(len(good))}" in text
    assert f"fraudstream_events_consumed_total {float(len(good) + len(bad))}" in text
    assert rs.thread.is_alive() and rs.error is None


def test_json_input_scores_and_dead_letters(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    events = make_events(300)
    rs = run_scorer(input_format="json")
    rs.wait_ready()
    p = live_producer.producer
    for ev in events:
        p.produce(topics.input, orjson.dumps(ev), ev["User"].encode())
    p.produce(topics.input, b'{"Id": "x"}', b"bad")
    p.produce(topics.input, b"\xff\xfe", b"bad2")
    assert p.flush(30) == 0
    scores = read_topic(
        kafka_bootstrap, topics.scores, expect=len(events), timeout=60, read_committed=False
    )
    dlq = read_topic(kafka_bootstrap, topics.dlq, expect=2, timeout=60, read_committed=False)
    assert sorted(int(m.key()) for m in scores) == [e["Id"] for e in events]
    assert sorted(dict(m.headers())["dlq.reason"].decode() for m in dlq) == [
        "decode_error",
        "wrong_type",
    ]


def test_oversized_garbage_is_truncated_into_dlq_and_partition_moves_on(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    # At the 1 MB limit; DLQ keeps 900 kB. Magic byte 7: never the wire format, whatever
    # schemas other tests registered in the session's registry (an id 1 may exist).
    big = b"\x07\x00\x00\x00\x01" + bytes(999_600)
    good = make_events(5)
    rs = run_scorer()
    rs.wait_ready()
    p = live_producer.producer
    p.produce(topics.input, big, b"big", partition=0)
    for ev in good:
        p.produce(topics.input, live_value(ev, live_producer.schema_id), b"u", partition=0)
    assert p.flush(30) == 0
    dlq = read_topic(
        kafka_bootstrap, topics.dlq, expect=1, timeout=30, idle_s=1, read_committed=False
    )
    scores = read_topic(
        kafka_bootstrap, topics.scores, expect=len(good), timeout=30, idle_s=1, read_committed=False
    )
    assert len(dlq) == 1
    h = dict(dlq[0].headers())
    assert h["dlq.reason"] == b"decode_error"
    assert int(h["dlq.truncated_from"]) == len(big)
    assert dlq[0].value() == big[: len(dlq[0].value())] and len(dlq[0].value()) == 900_000
    assert sorted(int(m.key()) for m in scores) == [e["Id"] for e in good]
