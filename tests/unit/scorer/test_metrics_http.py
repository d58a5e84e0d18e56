"""Metrics names/labels per the contract; batch observation equals per-event observation;
/metrics, /healthz and /readyz answer from the callables."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from starlette.testclient import TestClient

from fraudstream.scorer.http import make_app
from fraudstream.scorer.metrics import ScorerMetrics, observe_many

CONTRACT = [
    "fraudstream_events_consumed_total",
    "fraudstream_events_scored_total",
    "fraudstream_events_anomalous_total",
    'fraudstream_events_dead_lettered_total{reason="decode_error"}',
    'fraudstream_events_dead_lettered_total{reason="schema_not_found"}',
    "fraudstream_batch_size_bucket",
    "fraudstream_scoring_duration_seconds_bucket",
    "fraudstream_event_latency_seconds_bucket",
    "fraudstream_score_bucket",
    'fraudstream_consumer_lag{partition="3",topic="t"}',
    'fraudstream_model_info{version="v2"}',
    'fraudstream_model_reloads_total{result="failed"}',
    "fraudstream_model_threshold",
    "fraudstream_last_poll_timestamp_seconds",
    "fraudstream_ready",
]


def test_contract_metric_names() -> None:
    m = ScorerMetrics()
    m.set_model("v1", 1.0)
    m.set_model("v2", 2.5)
    m.set_lag([("t", 3, 17)])
    text = generate_latest(m.registry).decode()
    for name in CONTRACT:
        assert name in text, name
    assert 'version="v1"' not in text, "only the serving version is exported"
    assert "fraudstream_model_threshold 2.5" in text
    assert 'fraudstream_consumer_lag{partition="3",topic="t"} 17.0' in text
    m.set_lag([])
    assert "fraudstream_consumer_lag{" not in generate_latest(m.registry).decode()


def test_observe_many_equals_a_loop_of_observe() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.exponential(0.05, 5000), [0.001, 0.005, 1e9, 0.0]])
    buckets = (0.001, 0.005, 0.01, 0.1, 1.0)
    a = Histogram("a", "a", buckets=buckets, registry=CollectorRegistry())
    b = Histogram("b", "b", buckets=buckets, registry=CollectorRegistry())
    for v in values:
        a.observe(float(v))
    observe_many(b, values)
    sa = {
        s.name[1:] + str(s.labels): s.value
        for s in a.collect()[0].samples
        if "created" not in s.name
    }
    sb = {
        s.name[1:] + str(s.labels): s.value
        for s in b.collect()[0].samples
        if "created" not in s.name
    }
    assert sa.keys() == sb.keys()
    for k in sa:
        assert abs(sa[k] - sb[k]) <= 1e-6 * max(1.0, abs(sa[k])), k
    observe_many(b, [])  # no-op


def test_http_endpoints_follow_health_callables() -> None:
    m = ScorerMetrics()
    state = {"alive": True, "ready": False}
    app = make_app(
        m.registry,
        lambda: (state["alive"], "loop"),
        lambda: (state["ready"], "ready?"),
    )
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        state.update(alive=False, ready=True)
        assert c.get("/healthz").status_code == 503
        assert c.get("/readyz").status_code == 200
        r = c.get("/metrics")
        assert r.status_code == 200 and "fraudstream_ready" in r.text
        assert r.headers["content-type"].startswith("text/plain")
