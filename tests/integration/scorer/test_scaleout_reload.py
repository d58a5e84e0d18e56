"""Two replicas with a rebalance; hot reload under load; waiting for a first model;
an unreachable broker."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.model import load_model, write_latest
from fraudstream.testing.scorer import decode_all, make_events, publish_pca_model
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_two_replicas_share_partitions_and_survive_one_stopping(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    from fraudstream.testing.scorer import BackgroundSend

    n = 15_000
    events = make_events(n)
    a = run_scorer(batch_size=200)
    b = run_scorer(batch_size=200)
    a.wait_ready()
    b.wait_ready()

    def shares() -> tuple[int, int]:
        return len(a.scorer.assigned), len(b.scorer.assigned)

    wait_until(shares, 30, "2+2 partitions", done=lambda s: s == (2, 2))
    sender = BackgroundSend(live_producer, events, rate=5000)
    wait_until(
        lambda: (a.scorer.total_scored, b.scorer.total_scored),
        30,
        "both to score 1000",
        done=lambda s: min(s) > 1000,
    )
    b.close()  # mid-stream: its partitions move to a
    wait_until(shares, 30, "a takes all 4 partitions", done=lambda s: s[0] == 4)
    sender.join()
    msgs = read_topic(kafka_bootstrap, topics.scores, expect=n, timeout=60, read_committed=False)
    counts = Counter(int(m.key()) for m in msgs)
    assert set(counts) == {e["Id"] for e in events}
    dupes = sum(c - 1 for c in counts.values())
    print(f"2 replicas: a scored {a.scorer.total_scored}, b {b.scorer.total_scored}, {dupes} dupes")
    assert dupes == 0, "a graceful hand-over commits on revoke: nothing is re-scored"
    assert a.scorer.total_scored + b.scorer.total_scored == n


def test_hot_reload_under_load_no_gap_and_broken_model_refused(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topics: Any,
    live_producer: Any,
    model_dir: Path,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    from fraudstream.testing.scorer import BackgroundSend

    n = 15_000
    events = make_events(n)
    rs = run_scorer(batch_size=200)
    rs.wait_ready()
    sender = BackgroundSend(live_producer, events, rate=5000)
    wait_until(lambda: rs.scorer.total_scored, 30, "first scores", done=lambda k: k > 3000)
    v2 = publish_pca_model(model_dir, seed=8, bias=0.05)
    wait_until(
        lambda: getattr(rs.scorer.serving, "version", None), 10, "v2", done=lambda v: v == v2
    )
    # A broken v3 (NaN weights) while still under load: refused, v2 keeps serving.
    v3 = publish_pca_model(model_dir, seed=9, publish=False)
    npz = dict(np.load(model_dir / v3 / "weights.npz"))
    npz["W1"][:] = np.nan
    np.savez(model_dir / v3 / "weights.npz", **npz)
    write_latest(model_dir, v3)
    sender.join()
    recs = decode_all(
        schema_registry_url,
        read_topic(kafka_bootstrap, topics.scores, expect=n, timeout=60, read_committed=False),
    )
    assert sorted(r["id"] for r in recs) == [e["Id"] for e in events], "no gap, no duplicate"
    versions = Counter(r["model_version"] for r in recs)
    assert set(versions) == {model_version, v2}, versions
    assert versions[v2] > 1000
    # Per input partition, the switch happens once: v1 ... v1 v2 ... v2 (ids are in order).
    by_user: dict[str, list[str]] = defaultdict(list)
    for r in sorted(recs, key=lambda r: r["id"]):
        by_user[r["user"]].append(r["model_version"])
    for seq in by_user.values():
        k = seq.index(v2) if v2 in seq else len(seq)
        assert set(seq[k:]) <= {v2}
    # Scores carry the model that produced them.
    m2 = load_model(model_dir / v2)
    ev_by_id = {e["Id"]: e for e in events}
    some = [r for r in recs if r["model_version"] == v2][:200]
    x = np.array([[ev_by_id[r["id"]][c] for c in FEATURE_COLUMNS] for r in some])
    np.testing.assert_allclose([r["score"] for r in some], m2.score(x), rtol=1e-9)
    text = httpx.get(rs.url("/metrics")).text
    # A refused version is retried with backoff (a read error may be transient) and every
    # attempt is counted: at least one failure, and the broken version never served.
    failed = re.search(r'fraudstream_model_reloads_total\{result="failed"\} ([0-9.]+)', text)
    assert failed is not None and float(failed.group(1)) >= 1.0
    assert 'fraudstream_model_reloads_total{result="ok"} 2.0' in text
    assert f'fraudstream_model_info{{version="{v2}"}} 1.0' in text
    assert v3 not in text


def test_starts_without_model_and_waits_for_one(
    kafka_bootstrap: str,
    topics: Any,
    live_producer: Any,
    model_dir: Path,
    run_scorer: Callable[..., Any],
) -> None:
    rs = run_scorer()
    wait_until(lambda: _status(rs.url("/healthz")), 20, "healthz", done=lambda c: c == 200)
    assert _status(rs.url("/readyz")) == 503
    assert "fraudstream_ready 0.0" in httpx.get(rs.url("/metrics")).text
    events = make_events(200)
    live_producer.send(events)
    time.sleep(1.0)
    assert rs.scorer.total_scored == 0 and rs.thread.is_alive()
    publish_pca_model(model_dir, seed=3)
    msgs = read_topic(
        kafka_bootstrap,
        topics.scores,
        expect=len(events),
        timeout=30,
        idle_s=1,
        read_committed=False,
    )
    assert len(msgs) == len(events)
    wait_until(lambda: _status(rs.url("/readyz")), 10, "readyz", done=lambda c: c == 200)


def test_unreachable_broker_retries_and_stays_alive(
    model_version: str,
    run_scorer: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING")
    rs = run_scorer(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    wait_until(lambda: "connecting to Kafka" in caplog.text, 30, "retry log line")
    assert "retrying in" in caplog.text
    assert rs.thread.is_alive() and rs.error is None
    assert _status(rs.url("/healthz")) == 200
    assert _status(rs.url("/readyz")) == 503
    rs.close(timeout=20)


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


@pytest.mark.timeout(90)
def test_model_announcement_triggers_reload_before_the_poll(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    model_dir: Path,
    model_version: str,
    run_scorer: Callable[..., Any],
) -> None:
    """LATEST is polled only every 60 s here: the trainer's announcement makes the scorer
    check at once, and a garbled announcement costs nothing but a check."""
    from fraudstream.model.announcements import announce

    models_topic = topic_factory("models", partitions=1)
    rs = run_scorer(reload_interval_s=60.0, topic_models=models_topic)
    rs.wait_ready()
    listener = rs.scorer.announcements
    assert listener is not None and listener.assigned.wait(20), "listener never assigned"
    time.sleep(1.0)  # the latest-offset reset happens right after assignment
    assert rs.scorer.watcher.current is not None
    assert rs.scorer.watcher.current.version == model_version
    new = publish_pca_model(model_dir, seed=9, bias=0.25)
    assert new != model_version
    time.sleep(1.5)
    assert rs.scorer.watcher.current.version == model_version, "no poll within 60 s"
    t0 = time.monotonic()
    announce(kafka_bootstrap, models_topic, load_model(model_dir / new).manifest, str(model_dir))
    deadline = t0 + 20
    while rs.scorer.watcher.current.version != new and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rs.scorer.watcher.current.version == new, "announcement did not trigger a reload"
    assert time.monotonic() - t0 < 20
