"""`fraudstream produce --labels delayed` on the real broker: live events carry no label,
each label reaches the labels topic once, after its delay, and matches the event's truth."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Message

from fraudstream.producer.synthetic import generate_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_labels_are_held_back_and_published_after_their_delay(
    kafka_bootstrap: str,
    tmp_path: Path,
    unique_id: str,
    read_topic: Callable[..., list[Message]],
) -> None:
    n = 3000
    topic, labels = f"dl-src-{unique_id}", f"dl-labels-{unique_id}"
    env = {**os.environ, "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "FRAUDSTREAM_DATA_DIR": str(tmp_path / "state")}  # fmt: skip
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "produce", "--no-progress", "--synthetic", str(n),
         "--seed", "11", "--fraud-rate", "0.05", "--unlabelled", "0.1", "--no-users",
         "--topic", topic, "--labels", "delayed", "--label-delay", "uniform:1s,2s",
         "--labels-topic", labels, "--partitions", "3", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = orjson.loads(res.stdout)
    truth = {e["Id"]: e["Class"] for e in generate_events(n, seed=11, fraud_rate=0.05,
                                                           unlabelled=0.1, users=1000)}  # fmt: skip
    labelled = {i: c for i, c in truth.items() if c is not None}
    assert 0 < len(labelled) < n and 1 in labelled.values()
    assert out["labels"]["held"] == len(labelled)
    assert out["labels"]["delivered"] == len(labelled)
    assert out["labels"]["pending"] == 0 and out["labels"]["failed"] == 0

    events = read_topic(topic, n)
    assert len(events) == n
    event_ts = {}
    for m in events:
        v = orjson.loads(m.value() or b"")
        assert v["Class"] is None, "live events carry no label"
        event_ts[v["Id"]] = m.timestamp()[1]
    got = read_topic(labels, len(labelled))
    assert len(got) == len(labelled)
    parts = {m.partition() for m in got}
    assert parts <= {0, 1, 2} and len(parts) > 1  # co-partitioned with the 3-partition source
    for m in got:
        v = orjson.loads(m.value() or b"")
        assert m.key() == str(v["Id"]).encode()
        assert v["Class"] == labelled[v["Id"]]
        assert v["LabelTime"].endswith("Z")
        delay_ms = m.timestamp()[1] - event_ts[v["Id"]]
        assert 900 <= delay_ms <= 5000, delay_ms  # 1-2 s, plus the broker's own pace
