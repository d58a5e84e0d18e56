"""The alert-rate budget policy on a real broker: a monitor running the policy reads a real
scorer's scores, records a threshold change (by the policy, with its figures) on the model
store, announces it, and the scorer (whose own poll is set to a minute) switches within
seconds; the alert rate of the events scored after the change is at the budget."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.kafka.admin import create_topics, delete_topics
from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.model import DirectoryModelStore
from fraudstream.model.announcements import announce_change
from fraudstream.monitor.budget import POLICY, AlertBudget, BudgetSettings
from fraudstream.monitor.service import Monitor
from fraudstream.monitor.settings import MonitorSettings
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.testing.scorer import (
    BackgroundSend,
    LiveProducer,
    RunningScorer,
    decode_all,
    make_events,
    publish_pca_model,
)
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_the_policy_holds_the_budget_and_the_scorer_switches(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    unique_id: str,
    tmp_path: Path,
) -> None:
    live, scores = topic_factory("live", partitions=2), topic_factory("scores", partitions=2)
    alerts, dlq, labels = topic_factory("alerts"), topic_factory("dlq"), topic_factory("labels")
    news = f"model-news-{uuid.uuid4().hex[:10]}"
    create_topics(kafka_admin, [news])
    model_dir = tmp_path / "models"
    version = publish_pca_model(model_dir, seed=3)
    store = DirectoryModelStore(model_dir)
    t0 = store.manifest(version).threshold
    scorer = RunningScorer(ScorerSettings(
        kafka_bootstrap=kafka_bootstrap, registry_url=schema_registry_url, model_dir=model_dir,
        topic=live, topic_scores=scores, topic_alerts=alerts, topic_dlq=dlq, topic_models=news,
        listen_announcements=True, reload_interval_s=60.0, group=f"scorer-{unique_id}",
        metrics_port=free_port(), max_wait_ms=50, batch_size=200,
    )).start()  # fmt: skip
    policy = BudgetSettings(alerts_per_1000=50.0, window_events=3000, min_events=1500,
                            interval_s=1.0, max_step=20.0, tolerance=0.2)  # fmt: skip
    budget = AlertBudget(
        policy,
        store,
        announce=lambda st, e: announce_change(st, e, kafka_bootstrap, news),
        clock=time.time,
    )
    monitor = Monitor(
        MonitorSettings(refresh_s=0.5, group=f"monitor-{unique_id}"),
        bootstrap=kafka_bootstrap, registry_url=schema_registry_url,
        topic_scores=scores, topic_labels=labels, budget=budget,
    )  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
    runner.start()
    try:
        scorer.wait_ready()
        assert scorer.scorer.announcements is not None
        assert scorer.scorer.announcements.assigned.wait(30)
        producer = LiveProducer(kafka_bootstrap, schema_registry_url, live)
        producer.send(make_events(3000, seed=11))
        wait_until(lambda: any(e.by == POLICY for e in store.history()), 60, "a policy change")
        change = next(e for e in store.history() if e.by == POLICY)
        assert change.action == "set-threshold" and change.previous == t0
        assert isinstance(change.new, float) and change.new < t0, "a 5 % budget lowers it"
        assert "alert budget 50/1000" in change.reason
        took = wait_until(
            lambda: (
                getattr(scorer.scorer.serving, "threshold", None),
                store.threshold_override(version),
            ),
            15,
            "the scorer to switch (serving, override)",
            done=lambda t: t[0] is not None and t[0] == t[1],
        ).seconds
        print(f"scorer switched {took:.2f}s after the policy's change was visible")
        after = 4000
        BackgroundSend(producer, make_events(after, id_offset=10_000, seed=12), 1000).join(60)
        wait_until(
            lambda: scorer.scorer.total_scored,
            60,
            "every event scored",
            done=lambda k: k >= 3000 + after,
        )
    finally:
        stop.set()
        runner.join(30)
        scorer.close()
        delete_topics(kafka_admin, [news])
    recs = decode_all(schema_registry_url, read_topic(kafka_bootstrap, scores))
    late = [r for r in recs if r["id"] >= 10_000]
    assert len(late) == after
    final = store.threshold_override(version)
    assert final is not None and all(r["threshold"] < t0 for r in late)
    rate = 1000 * sum(r["is_anomaly"] for r in late) / len(late)
    before = 1000 * sum(r["is_anomaly"] for r in recs if r["id"] < 10_000) / 3000
    print(f"alerts per 1,000: {before:.1f} before, {rate:.1f} after the policy (budget 50)")
    assert before < 25, "the champion's own threshold alerts far below the budget"
    assert 30 <= rate <= 70, rate  # 50 +- the dead band (10) and sampling noise (~5)
    text = monitor.metrics.registry.get_sample_value("fraudstream_monitor_budget_changes_total")
    assert text is not None and text >= 1
