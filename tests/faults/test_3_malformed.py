"""10,000 malformed records among 10,000 valid ones on the pipeline's input (the source topic):
every valid event is scored; every malformed one is accounted for with a reason, either in the
KSQL engine's processing log (records it cannot deserialize, found by source offset) or in the
scorer's dead-letter topic (records KSQL passes with null fields, found by Id)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.kafka import producer_config
from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(480)]
N_VALID = 10_000
N_BAD = 10_000
DLQ_REASONS = {"decode_error", "invalid_value", "missing_field", "wrong_type", "schema_not_found"}


def malformed(i: int, base_id: int, good: dict[str, Any]) -> tuple[str, bytes, int | None]:
    """(kind, bytes, id or None) of the i-th malformed record; four kinds in turn."""
    kind = i % 4
    if kind == 0:
        return "not_json", b"\x07garbage{" + str(i).encode(), None
    if kind == 1:
        return "json_array", orjson.dumps([1, 2, i]), None
    bad_id = base_id + i
    if kind == 2:
        ev = dict(good, Id=bad_id, V1="not-a-number")
        return "wrong_type", orjson.dumps(ev), bad_id
    ev = {k: v for k, v in good.items() if k not in ("V3", "V7", "Amount")}
    ev["Id"] = bad_id
    return "missing_fields", orjson.dumps(ev), bad_id


def test_malformed_records_among_valid(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    s = h.settings
    valid = h.events(N_VALID, id_offset=id_block, seed=61)
    valid_ids = {e["Id"] for e in valid}
    bad_base = id_block + 500_000
    producer = Producer(producer_config(h.ep.bootstrap, linger_ms=20))
    sent: dict[tuple[int, int], str] = {}  # (partition, offset) -> kind, every malformed record
    by_offset: dict[tuple[int, int], int] = {}  # (partition, offset) -> Id, when it has one
    bad_ids: dict[int, str] = {}
    errors: list[str] = []

    def delivered(kind: str, bid: int | None) -> Any:
        def cb(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
                return
            sent[(msg.partition(), msg.offset())] = kind
            if bid is not None:
                by_offset[(msg.partition(), msg.offset())] = bid

        return cb

    t0 = time.monotonic()
    for i in range(max(N_VALID, N_BAD)):
        if i < N_VALID:
            ev = valid[i]
            producer.produce(s.topic_source, orjson.dumps(ev), ev["User"])
        if i < N_BAD:
            kind, data, bid = malformed(i, bad_base, valid[i % N_VALID])
            if bid is not None:
                bad_ids[bid] = kind
            producer.produce(s.topic_source, data, f"bad{i}", on_delivery=delivered(kind, bid))
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0 and not errors
    ledger, _ = h.wait_scored(valid_ids, timeout=240)
    scored_s = time.monotonic() - t0
    assert not ledger.lost, ledger.summary()
    assert ledger.duplicates == 0, ledger.summary()
    # Malformed records with an Id must not be scored as if they were fine.
    scored_bad = [i for i in h.ids_in(s.topic_scores) if i in bad_ids]
    assert not scored_bad, f"{len(scored_bad)} malformed records were scored"

    logs = h.topics_matching("processing_log")
    assert logs, "the KSQL engine has no processing-log topic"
    in_log: dict[tuple[int, int], str] = {}
    log_ids: dict[int, str] = {}
    deadline = time.monotonic() + 120
    dlq_ids: dict[int, str] = {}
    while True:
        for topic in logs:
            for v in h.read_values(topic):
                msg = {str(k).lower(): x for k, x in (v.get("message") or {}).items()}
                reason = str(msg.get("errormessage") or "")
                if msg.get("topic") == s.topic_source and reason:
                    in_log[(int(msg["partition"]), int(msg["offset"]))] = reason
                rec = msg.get("record")
                if isinstance(rec, str) and reason:
                    try:
                        rid = orjson.loads(rec).get("Id")
                    except (orjson.JSONDecodeError, AttributeError):
                        rid = None
                    if isinstance(rid, int):
                        log_ids[rid] = reason
        for r in h.read(s.topic_dlq):
            reason = r.headers.get("dlq.reason", b"").decode()
            try:
                rid = h.decode(r.value).get("id")
            except Exception:
                rid = None
            if isinstance(rid, int) and rid in bad_ids:
                assert reason in DLQ_REASONS, (rid, reason)
                dlq_ids[rid] = reason
        # A malformed record is accounted for when the KSQL processing log names its source
        # offset, or (if it has an Id) the scorer's DLQ or the processing log holds that Id.
        found = set(dlq_ids) | set(log_ids)
        missing = {off for off in sent if off not in in_log and by_offset.get(off, -1) not in found}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(3)
    accounted_s = time.monotonic() - t0
    kinds = {k: sum(1 for v in sent.values() if v == k) for k in sorted(set(sent.values()))}
    via_log = sum(1 for off in sent if off in in_log)
    via_dlq = sum(1 for off in sent if off not in in_log and by_offset.get(off, -1) in dlq_ids)
    fault_results.append(
        {
            "fault": f"{N_BAD:,} malformed among {N_VALID:,} valid on the source topic",
            "events_in": N_VALID,
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": 0,
            "notes": f"valid all scored {scored_s:.1f}s; malformed {kinds}: {via_log} in the KSQL "
            f"processing log, {via_dlq} in the scorer DLQ "
            f"({dict(sorted(Counter(dlq_ids.values()).items()))}), unaccounted {len(missing)} "
            f"(checked after {accounted_s:.0f}s)",
        }
    )
    assert len(sent) == N_BAD
    assert not missing, f"{len(missing)} malformed records neither in the processing log nor DLQ"
    assert h.metrics().ready
