"""The monitor on a real broker: a real scorer scores events published without labels, the
producer's delayed labels arrive later, and the monitor's precision and recall equal those
computed offline from the two topics for the same window."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest
from sklearn.metrics import precision_score, recall_score

from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.monitor.service import Monitor
from fraudstream.monitor.settings import MonitorSettings
from fraudstream.producer.labels import DelayedLabels, LabelDelay
from fraudstream.producer.synthetic import generate_events
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.testing.scorer import LiveProducer, RunningScorer, decode_all, publish_pca_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _gauge(text: str, name: str, version: str, window: str) -> float:
    prefix = f'{name}{{model_version="{version}",window="{window}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    raise AssertionError(f"no {prefix!r} in /metrics")


def test_live_precision_and_recall_equal_the_offline_figures(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    unique_id: str,
    tmp_path: Path,
) -> None:
    live, scores = topic_factory("live", partitions=2), topic_factory("scores", partitions=2)
    alerts, dlq = topic_factory("alerts", partitions=1), topic_factory("dlq", partitions=1)
    labels_topic = topic_factory("labels", partitions=2)
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    version = publish_pca_model(model_dir, seed=3)
    scorer = RunningScorer(ScorerSettings(
        kafka_bootstrap=kafka_bootstrap, registry_url=schema_registry_url, model_dir=model_dir,
        topic=live, topic_scores=scores, topic_alerts=alerts, topic_dlq=dlq,
        group=f"scorer-{unique_id}", metrics_port=free_port(), max_wait_ms=50,
    )).start()  # fmt: skip
    monitor = Monitor(
        MonitorSettings(windows="1h,1d", refresh_s=0.5, group=f"monitor-{unique_id}"),
        bootstrap=kafka_bootstrap, registry_url=schema_registry_url,
        topic_scores=scores, topic_labels=labels_topic,
    )  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
    runner.start()
    try:
        scorer.wait_ready()
        n = 3000
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        events = list(generate_events(n, seed=21, fraud_rate=0.08, start=now, users=50))
        delay_dist = LabelDelay.parse("uniform:0.5s,2s")
        held = DelayedLabels(bootstrap=kafka_bootstrap, topic=labels_topic,
                             delay=delay_dist, share=0.8, drain_s=30)  # fmt: skip
        LiveProducer(kafka_bootstrap, schema_registry_url, live).send(list(held.wrap(events)))
        lstats = held.close()
        assert lstats.pending == 0 and lstats.delivered == lstats.held > 0

        # offline: every score and label record of the two topics, joined by event id
        score_recs = decode_all(schema_registry_url, read_topic(
            kafka_bootstrap, scores, expect=n, timeout=90, read_committed=False))  # fmt: skip
        assert len(score_recs) == n
        label_msgs = read_topic(
            kafka_bootstrap, labels_topic, expect=lstats.held, timeout=60, read_committed=False
        )
        label_recs = [orjson.loads(m.value()) for m in label_msgs]
        truth = {r["Id"]: r["Class"] for r in label_recs}
        joined = [(truth[r["id"]], r["is_anomaly"]) for r in score_recs if r["id"] in truth]
        y = [t for t, _ in joined]
        pred = [a for _, a in joined]
        assert sum(y) > 20 and sum(pred) > 5
        want_p, want_r = precision_score(y, pred), recall_score(y, pred)

        deadline = time.monotonic() + 60
        while True:
            text = generate_latest(monitor.metrics.registry).decode()
            try:
                labelled = _gauge(text, "fraudstream_monitor_labelled", version, "1h")
            except AssertionError:
                labelled = 0
            if labelled == len(joined) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert labelled == len(joined)
        assert _gauge(text, "fraudstream_monitor_events", version, "1h") == n
        assert _gauge(text, "fraudstream_monitor_unlabelled", version, "1h") == n - len(joined)
        assert _gauge(text, "fraudstream_monitor_precision", version, "1h") == pytest.approx(want_p)
        assert _gauge(text, "fraudstream_monitor_recall", version, "1h") == pytest.approx(want_r)
        assert _gauge(text, "fraudstream_monitor_precision", version, "1d") == pytest.approx(want_p)
        assert 0.5 < _gauge(text, "fraudstream_monitor_roc_auc", version, "1h") <= 1.0
        p90 = f'fraudstream_monitor_label_delay_seconds{{model_version="{version}",quantile="0.9",window="1h"}} '  # noqa: E501
        delay = float(next(ln for ln in text.splitlines() if ln.startswith(p90)).split()[-1])
        assert 0.3 < delay < 10.0, delay
    finally:
        stop.set()
        runner.join(30)
        scorer.close()
