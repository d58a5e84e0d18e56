"""10,000 hostile records of every kind issue 21 names, written straight to the scorer's input
(the live Avro topic, where KSQL cannot filter them) while 10,000 valid events flow through the
whole pipeline: every valid event is scored, every hostile record is a dead letter with its
reason (found by its source partition/offset in the DLQ headers), none is scored, and nothing
restarts: no record stalls, crashes or OOMs the scorer."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.kafka import producer_config
from fraudstream.serde import wire
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.harness import Harness
from fraudstream.testing.scorer import live_value, register

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
N_VALID = 10_000
N_HOSTILE = 10_000
KINDS = ("not_avro", "unknown_schema", "collection_1e12", "nan_value", "key_20kB")
EXPECTED = {
    "not_avro": "decode_error",
    "unknown_schema": "schema_not_found",
    "collection_1e12": "unexpected_schema",
    "nan_value": "invalid_value",
    "key_20kB": "decode_error",
}


def _zigzag(n: int) -> bytes:
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while True:
        b, z = z & 0x7F, z >> 7
        out.append(b | 0x80 if z else b)
        if not z:
            return bytes(out)


def test_hostile_records_of_every_kind_among_valid(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    s = h.settings
    url = h.ep.registry_url
    live = load_schema("live")
    hostile_schema = dict(
        live,
        name="HostileLive",
        fields=[*live["fields"], {"name": "X", "type": {"type": "array", "items": "null"}}],
    )
    flat_id = register(url, "hostile-flat-value", live)
    coll_id = register(url, "hostile-collection-value", hostile_schema)
    valid = h.events(N_VALID, id_offset=id_block, seed=66)
    valid_ids = {e["Id"] for e in valid}
    bad = h.events(N_HOSTILE, id_offset=id_block + 500_000, seed=67)
    bad_ids = {e["Id"] for e in bad}
    restarts_before = sum(len(v) for v in h.dog.restarts.values()) if h.dog else 0

    def hostile(i: int) -> tuple[str, bytes | None, bytes]:
        kind = KINDS[i % len(KINDS)]
        key = f"hostile-{i}".encode()
        ev = bad[i]
        if kind == "not_avro":
            return kind, key, b"\x07garbage" + str(i).encode()
        if kind == "unknown_schema":
            return kind, key, wire.frame(987_654_321, b"\x02\x04")
        if kind == "collection_1e12":
            # the 304-byte record: a flat event plus an array claiming 10^12 items
            return kind, key, live_value(ev, coll_id) + _zigzag(10**12) + _zigzag(0)
        if kind == "nan_value":
            return kind, key, live_value(dict(ev, V3=math.nan), flat_id)
        return kind, key + b"-" + b"k" * 20_000, b"\x07 not avro"

    producer = Producer(producer_config(h.ep.bootstrap, linger_ms=20))
    sent: dict[tuple[int, int], str] = {}
    errors: list[str] = []

    def delivered(kind: str) -> Any:
        def cb(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                sent[(msg.partition(), msg.offset())] = kind

        return cb

    t0 = time.monotonic()
    for i in range(max(N_VALID, N_HOSTILE)):
        if i < N_VALID:
            ev = valid[i]
            producer.produce(s.topic_source, orjson.dumps(ev), ev["User"])
        if i < N_HOSTILE:
            kind, key, value = hostile(i)
            producer.produce(s.topic_live, value, key, on_delivery=delivered(kind))
        if i % 500 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0 and not errors, errors[:3]

    ledger, _ = h.wait_scored(valid_ids, timeout=300)
    scored_s = time.monotonic() - t0
    assert not ledger.lost, ledger.summary()

    found: dict[tuple[int, int], str] = {}
    truncated_keys = 0
    deadline = time.monotonic() + 120
    while True:
        for r in h.read(s.topic_dlq):
            if r.headers.get("dlq.source.topic", b"").decode() != s.topic_live:
                continue
            where = (
                int(r.headers["dlq.source.partition"]),
                int(r.headers["dlq.source.offset"]),
            )
            if where in sent:
                found[where] = r.headers.get("dlq.reason", b"").decode()
                truncated_keys += "dlq.key_truncated_from" in r.headers
        missing = set(sent) - set(found)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(3)
    wrong = {w: (sent[w], got) for w, got in found.items() if EXPECTED[sent[w]] != got}
    scored_bad = [i for i in h.ids_in(s.topic_scores) if i in bad_ids]
    restarts = (sum(len(v) for v in h.dog.restarts.values()) if h.dog else 0) - restarts_before
    by_kind = Counter(sent[w] for w in found)
    fault_results.append(
        {
            "fault": f"{N_HOSTILE:,} hostile records (5 kinds) on the scorer input among "
            f"{N_VALID:,} valid events",
            "events_in": N_VALID,
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": 0,
            "notes": f"valid all scored {scored_s:.1f}s after the first produce; hostile in the "
            f"DLQ with the expected reason: {dict(sorted(by_kind.items()))} (wrong reason "
            f"{len(wrong)}, missing {len(missing)}); 20 kB keys truncated in the DLQ: "
            f"{truncated_keys}; hostile scored {len(scored_bad)}; watchdog restarts {restarts}",
        }
    )
    assert len(sent) == N_HOSTILE
    assert not missing, f"{len(missing)} hostile records not in the DLQ"
    assert not wrong, list(wrong.items())[:5]
    assert truncated_keys == N_HOSTILE // len(KINDS)
    assert not scored_bad, f"{len(scored_bad)} hostile records were scored"
    assert restarts == 0, "a hostile record crashed or stalled a component"
    assert h.metrics().ready
