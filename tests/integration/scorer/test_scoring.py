"""Scoring through the real broker: scores match the model, alerts are the anomalies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.kafka.reader import read_topic
from fraudstream.model import load_model
from fraudstream.testing.scorer import decode_all, make_events
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_scores_match_model_and_alerts_are_anomalies(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topics: Any,
    live_producer: Any,
    model_dir: Path,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    n = 3000
    events = make_events(n)
    rs = run_scorer()
    rs.wait_ready()
    live_producer.send(events)
    scores = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, topics.scores, expect=n, timeout=60, read_committed=False),
    )
    by_id = {r["id"]: r for r in scores}
    assert sorted(by_id) == [e["Id"] for e in events]

    model = load_model(model_dir / model_version)
    x = np.array([[e[c] for c in FEATURE_COLUMNS] for e in events])
    expected = model.score(x)
    got = np.array([by_id[e["Id"]]["score"] for e in events])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    for e in events[:50]:
        r = by_id[e["Id"]]
        assert r["model_version"] == model_version
        assert r["threshold"] == pytest.approx(model.threshold)
        assert r["is_anomaly"] == (r["score"] > model.threshold)
        assert r["amount"] == pytest.approx(e["Amount"])
        assert r["label"] == (-1 if e["Class"] is None else e["Class"])
        assert r["user"] == "XX" + e["User"][2:] or r["user"].endswith(e["User"][2:])
        assert len(r["top_features"]) == 3
        fe = model.feature_errors(np.array([[e[c] for c in FEATURE_COLUMNS]]))[0]
        assert r["top_features"][0]["feature"] == model.features[int(np.argmax(fe))]
        assert r["top_features"][0]["share"] == pytest.approx(fe.max() / fe.sum())
    anomalous = {i for i, r in by_id.items() if r["is_anomaly"]}
    assert anomalous, "a 0.99-quantile threshold flags some of 3000 events"
    alerts = decode_all(
        schema_registry_url,
        read_topic(
            kafka_bootstrap, topics.alerts, expect=len(anomalous), timeout=60, read_committed=False
        ),
    )
    assert {a["id"] for a in alerts} == anomalous

    def lag_lines() -> tuple[list[str], str]:
        """The lag series first (the failure message shows the start of the value)."""
        text = httpx.get(rs.url("/metrics")).text
        return [ln for ln in text.splitlines() if ln.startswith("fraudstream_consumer_lag{")], text

    lags, metrics = wait_until(  # the lag gauge refreshes every 2 s
        lag_lines,
        10,
        "no lag on the 4 partitions",
        done=lambda r: len(r[0]) == 4 and all(ln.endswith(" 0.0") for ln in r[0]),
        interval=0.2,
    ).value
    assert len(lags) == 4 and all(f'topic="{topics.input}"' in ln for ln in lags), lags
    assert all(ln.endswith(" 0.0") for ln in lags), "caught up: no lag"
    assert "fraudstream_event_latency_seconds_count 3000.0" in metrics
    assert "fraudstream_score_count 3000.0" in metrics
    assert f"fraudstream_events_scored_total {float(n)}" in metrics
    assert f'fraudstream_model_info{{version="{model_version}"}} 1.0' in metrics
    assert httpx.get(rs.url("/readyz")).status_code == 200
    assert httpx.get(rs.url("/healthz")).status_code == 200
    rs.close()
