"""`fraudstream models promote | set-threshold | rollback` against a running scorer on a
real broker, on both stores: the scorer switches within seconds of the announcement (its
own poll is set to a minute, so only the announcement can make it that fast), and every
event is scored exactly once across the three switches."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.cli import ExitCode, run
from fraudstream.config import get_settings
from fraudstream.kafka.admin import create_topics, delete_topics
from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.model import DirectoryModelStore, read_manifest
from fraudstream.model.topic_store import LIFECYCLE_SUFFIX, TopicModelStore
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

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def names(kafka_admin: AdminClient, topic_factory: Callable[..., str]) -> Iterator[dict[str, str]]:
    """Unique topics: live input (4 partitions), scores, alerts, dlq, model store, news."""
    out = {
        "input": topic_factory("live", partitions=4),
        "scores": topic_factory("scores", partitions=4),
        "alerts": topic_factory("alerts", partitions=1),
        "dlq": topic_factory("dlq", partitions=1),
        "store": f"model-store-{uuid.uuid4().hex[:10]}",
        "news": f"model-news-{uuid.uuid4().hex[:10]}",
    }
    create_topics(kafka_admin, [out["news"]])
    yield out
    delete_topics(kafka_admin, [out["store"], out["store"] + LIFECYCLE_SUFFIX, out["news"]])


@pytest.mark.parametrize("kind", ["directory", "topic"])
def test_promote_threshold_rollback_switch_a_running_scorer_with_no_gap(
    kind: str,
    tmp_path: Path,
    kafka_bootstrap: str,
    schema_registry_url: str,
    names: dict[str, str],
    unique_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir = tmp_path / "models"
    v1 = publish_pca_model(model_dir, seed=3)
    v2 = publish_pca_model(model_dir, seed=8, bias=0.05, publish=False)
    t1 = read_manifest(model_dir / v1).threshold
    t2 = read_manifest(model_dir / v2).threshold
    if kind == "topic":  # v2 first, then v1: v1 is the champion on the topic too
        store = TopicModelStore(kafka_bootstrap, names["store"], chunk_bytes=16 * 1024)
        try:
            store.publish(model_dir / v2)
            store.publish(model_dir / v1)
        finally:
            store.close()
    for key, value in {
        "MODEL_STORE": kind,
        "MODEL_DIR": str(model_dir),
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TOPIC_MODEL_STORE": names["store"],
        "TOPIC_MODELS": names["news"],
    }.items():
        monkeypatch.setenv(f"FRAUDSTREAM_{key}", value)
    monkeypatch.setenv("USER", "ops")
    get_settings.cache_clear()
    rs = RunningScorer(
        ScorerSettings(
            kafka_bootstrap=kafka_bootstrap,
            registry_url=schema_registry_url,
            model_dir=model_dir,
            model_store=kind,  # type: ignore[arg-type]
            topic_model_store=names["store"],
            topic_models=names["news"],
            listen_announcements=True,
            topic=names["input"],
            topic_scores=names["scores"],
            topic_alerts=names["alerts"],
            topic_dlq=names["dlq"],
            group=f"scorer-{unique_id}",
            metrics_port=free_port(),
            reload_interval_s=60.0,  # only an announcement can switch it within seconds
            max_wait_ms=50,
            batch_size=200,
        )
    ).start()
    try:
        rs.wait_ready()
        assert rs.scorer.announcements is not None
        assert rs.scorer.announcements.assigned.wait(30)
        n = 30_000
        events = make_events(n)
        sender = BackgroundSend(
            LiveProducer(kafka_bootstrap, schema_registry_url, names["input"]), events, rate=2000
        )

        def scored() -> int:
            return rs.scorer.total_scored

        def after(more: int) -> None:
            target = scored() + more
            wait_until(scored, 30, f"{more} more scores", done=lambda k: k >= target)

        def serving() -> Any:
            return rs.scorer.serving

        def version() -> str:
            return str(serving().version)

        def threshold() -> float:
            return float(serving().threshold)

        def switch(probe: Callable[[], Any], to: Any, what: str) -> float:
            return wait_until(probe, 5, what, done=lambda v: v == to, interval=0.02).seconds

        after(2000)
        cli_start = time.monotonic()
        assert run(["models", "promote", v2, "--reason", "challenger won"]) == ExitCode.OK
        print(f"{kind}: promote command took {time.monotonic() - cli_start:.2f}s")
        took_promote = switch(version, v2, "v2 served")
        after(1500)
        t_new = t2 * 0.5
        assert run(["models", "set-threshold", repr(t_new), "--reason", "budget"]) == 0
        took_threshold = switch(threshold, t_new, "the new threshold")
        assert serving().version == v2
        after(1500)
        assert run(["models", "rollback", "--reason", "alerts doubled"]) == ExitCode.OK
        took_rollback = switch(version, v1, "v1 served again")
        sender.thread.join()
        wait_until(scored, 60, "every event scored", done=lambda k: k >= n)
        print(
            f"{kind}: switched in {took_promote:.2f}s (promote), "
            f"{took_threshold:.2f}s (threshold), {took_rollback:.2f}s (rollback)"
        )
    finally:
        rs.close()
    recs = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, names["scores"], expect=n, timeout=60, read_committed=False),
    )
    counts = Counter(r["id"] for r in recs)
    print(f"{kind}: {len(recs)} scores, {len(counts)} ids, max count {max(counts.values())}")
    assert set(counts) == {e["Id"] for e in events} and set(counts.values()) == {1}, (
        "every event scored exactly once across the switches"
    )
    phases = Counter((r["model_version"], r["threshold"]) for r in recs)
    assert set(phases) == {(v1, t1), (v2, t2), (v2, t_new)}, phases
    assert min(phases.values()) > 500, phases
    assert all(r["is_anomaly"] == (r["score"] > r["threshold"]) for r in recs)
    # the audit holds the three changes, who made them and why
    store_h = (
        DirectoryModelStore(model_dir)
        if kind == "directory"
        else TopicModelStore(kafka_bootstrap, names["store"])
    )
    try:
        history = store_h.history()
    finally:
        store_h.close()
    assert [(e.action, e.version, e.by) for e in history] == [
        ("promote", v2, "ops"),
        ("set-threshold", v2, "ops"),
        ("rollback", v1, "ops"),
    ]
    get_settings.cache_clear()


def test_a_candidate_is_scored_in_shadow_and_never_alerts(
    tmp_path: Path,
    kafka_bootstrap: str,
    schema_registry_url: str,
    names: dict[str, str],
    topic_factory: Callable[..., str],
    unique_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir = tmp_path / "models"
    v1 = publish_pca_model(model_dir, seed=3)
    v2 = publish_pca_model(model_dir, seed=8, bias=0.05, publish=False)
    shadow = topic_factory("shadow", partitions=4)
    for key, value in {
        "MODEL_STORE": "directory",
        "MODEL_DIR": str(model_dir),
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TOPIC_MODELS": names["news"],
    }.items():
        monkeypatch.setenv(f"FRAUDSTREAM_{key}", value)
    get_settings.cache_clear()
    rs = RunningScorer(
        ScorerSettings(
            kafka_bootstrap=kafka_bootstrap,
            registry_url=schema_registry_url,
            model_dir=model_dir,
            model_store="directory",
            topic_models=names["news"],
            listen_announcements=True,
            topic=names["input"],
            topic_scores=names["scores"],
            topic_alerts=names["alerts"],
            topic_dlq=names["dlq"],
            topic_scores_shadow=shadow,
            group=f"scorer-{unique_id}",
            metrics_port=free_port(),
            reload_interval_s=60.0,
            max_wait_ms=50,
            batch_size=200,
        )
    ).start()
    try:
        rs.wait_ready()
        assert rs.scorer.announcements is not None
        assert rs.scorer.announcements.assigned.wait(30)
        n = 12_000
        events = make_events(n)
        producer = LiveProducer(kafka_bootstrap, schema_registry_url, names["input"])
        sender = BackgroundSend(producer, events, rate=2000)
        wait_until(lambda: rs.scorer.total_scored, 30, "first scores", done=lambda k: k >= 2000)
        assert run(["models", "promote", v2, "--candidate", "--reason", "shadow it"]) == 0
        wait_until(
            lambda: rs.scorer.watcher.challenger,
            5,
            "challenger loaded",
            done=lambda c: c is not None,
        )
        sender.thread.join()
        wait_until(lambda: rs.scorer.total_scored, 60, "every event scored", done=lambda k: k >= n)
    finally:
        rs.close()
    scores = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, names["scores"], expect=n, timeout=60, read_committed=False),
    )
    assert sorted(r["id"] for r in scores) == [e["Id"] for e in events]
    assert {r["model_version"] for r in scores} == {v1}, "the champion serves every event"
    shadows = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, shadow, expect=1, timeout=30, idle_s=3, read_committed=False),
    )
    ids = [r["id"] for r in shadows]
    print(f"shadow: {len(ids)} of {n} events scored by the challenger too")
    assert len(ids) == len(set(ids)) > 3000, "each event at most once in shadow, most of them"
    assert {r["model_version"] for r in shadows} == {v2}
    by_id = {r["id"]: r for r in scores}
    assert all(by_id[r["id"]]["model_version"] == v1 for r in shadows)
    alerts = decode_all(
        schema_registry_url,
        read_topic(
            kafka_bootstrap, names["alerts"], expect=1, timeout=20, idle_s=3, read_committed=False
        ),
    )
    assert {r["model_version"] for r in alerts} <= {v1}, "only the champion alerts"
    assert sorted(r["id"] for r in alerts) == sorted(r["id"] for r in scores if r["is_anomaly"])
    # the challenger arrived mid-stream: the last events are all scored in shadow too
    assert {e["Id"] for e in events[-1000:]} <= set(ids)
    get_settings.cache_clear()
