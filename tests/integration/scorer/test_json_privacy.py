"""`--input-format json` reads the raw source topic (key = the raw user): no raw user name may
reach the scores, the alerts, the dead letters (keys, values, headers) or the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.kafka.clients import producer_config
from fraudstream.kafka.reader import read_topic
from fraudstream.scorer.privacy import mask_user
from fraudstream.testing.scorer import decode_all, make_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_json_input_leaks_no_raw_user(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topics: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    names = [f"Rosalind_Quux_{i:03d}" for i in range(20)]
    events = make_events(400)
    for i, ev in enumerate(events):
        ev["User"] = names[i % len(names)]
    bad: list[tuple[bytes, bytes]] = []
    for i, name in enumerate(names[:5]):
        ev = dict(events[i], Id=10_000 + i)
        bad += [
            (name.encode(), orjson.dumps({**ev, "Amount": "lots"})),  # wrong_type
            (name.encode(), orjson.dumps({**ev, "Amount": -3.0})),  # invalid_value
            (name.encode(), orjson.dumps({**ev, "Timestamp": f"{name} o'clock"})),  # detail
            (name.encode(), b'{"User": "' + name.encode() + b'", "Id": '),  # not JSON
        ]
    producer = Producer(producer_config(kafka_bootstrap))
    for ev in events:
        producer.produce(
            topics.input,
            orjson.dumps(ev),
            ev["User"].encode(),
            headers=[("u", ev["User"].encode())],
        )
    for key, value in bad:
        producer.produce(topics.input, value, key, headers=[("origin", key)])
    assert producer.flush(30) == 0

    rs = run_scorer(input_format="json")
    rs.wait_ready(timeout=60)
    scores = read_topic(kafka_bootstrap, topics.scores, expect=len(events), timeout=60,
                        read_committed=False)  # fmt: skip
    dlq = read_topic(kafka_bootstrap, topics.dlq, expect=len(bad), timeout=60, read_committed=False)
    alerts = read_topic(kafka_bootstrap, topics.alerts, timeout=30, read_committed=False)
    rs.close()
    assert len(scores) == len(events) and len(dlq) == len(bad)
    assert alerts, "some of 400 events are anomalies"

    raw = [n.encode() for n in names]
    for m in [*scores, *alerts, *dlq]:
        blob = b"".join(
            [
                m.key() or b"",
                m.value() or b"",
                *(k.encode() + (v or b"") for k, v in m.headers() or []),
            ]
        )
        assert not any(r in blob for r in raw), (m.topic(), blob[:300])
    assert not any(n in caplog.text for n in names)
    assert "dead letter" in caplog.text  # the reasons were logged, masked

    by_id = {r["id"]: r for r in decode_all(schema_registry_url, scores)}
    for ev in events:
        assert by_id[ev["Id"]]["user"] == mask_user(ev["User"])  # as KSQL's live stream
    reasons = sorted(dict(m.headers() or [])["dlq.reason"].decode() for m in dlq)
    assert set(reasons) == {"wrong_type", "invalid_value", "decode_error"}
    assert {m.key() for m in dlq} == {mask_user(n).encode() for n in names[:5]}
