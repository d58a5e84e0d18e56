"""50,000 events through the whole pipeline on the real broker, every component a process:

producer -> creditcardfraud_source (JSON) -> KSQL engine -> training / live / per-user Avro
-> `fraudstream train` (first 25,000 events' labelled part) -> `fraudstream score` -> scores.

The second 25,000 events are produced while the scorer runs (at a set rate), so they are the
held-out live traffic the ROC-AUC is measured on. Checks: every id scored exactly once (the
scorer is at-least-once: a clean run must show no duplicate), masked users only downstream of
KSQL, the join stream holds only Premium-city users (and exactly the events that qualify), and
the scorer's Prometheus counters equal what the topics hold.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.testing.harness import Harness
from fraudstream.testing.scorer import mask_left
from fraudstream.testing.verify import IdLedger, wait_for_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
log = logging.getLogger(__name__)

N_TRAIN = 25_000
N_LIVE = 25_000
N = N_TRAIN + N_LIVE
LIVE_RATE = 2_000.0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Bring the stack up, push 50,000 events through, collect every topic; stop the stack."""
    h = Harness(Path(tmp_path_factory.mktemp("e2e")))
    out: dict[str, Any] = {"h": h}
    try:
        h.start_infra()
        assert h.publish_users() == 1000
        train_events = h.events(N_TRAIN, id_offset=0, seed=11)
        live_events = h.events(N_LIVE, id_offset=N_TRAIN, seed=12)
        t0 = time.monotonic()
        stats = h.produce(train_events)
        assert stats.delivered == N_TRAIN and stats.failed == 0
        labelled = sum(1 for e in train_events if e["Class"] is not None)
        h.wait_count(h.settings.topic_preprocessed, labelled, timeout=300)
        h.timings["ksql_training_batch"] = time.monotonic() - t0
        out["model"] = h.train()
        h.start_scorer()
        t1 = time.monotonic()
        stats = h.produce(live_events, rate=LIVE_RATE)
        assert stats.delivered == N_LIVE and stats.failed == 0
        ledger, _ = wait_for_ids(
            lambda: h.ids_in(h.settings.topic_scores), set(range(N)), timeout=300, interval=3
        )
        h.timings["live_until_all_scored"] = time.monotonic() - t1
        assert not ledger.lost, f"events never scored: {ledger.summary()}"
        time.sleep(3)  # one more metrics update interval after the last batch
        out["metrics"] = h.metrics()
        s = h.settings
        out["source"] = h.read_values(s.topic_source)
        out["users"] = h.read_values(s.topic_users)
        out["live"] = h.read_values(s.topic_live)
        out["per_user"] = h.read_values(s.topic_per_user)
        out["scores"] = h.read_values(s.topic_scores)
        out["alerts"] = h.read(s.topic_alerts)
        out["dlq"] = h.read(s.topic_dlq)
        out["events"] = {e["Id"]: e for e in train_events + live_events}
        log.info("e2e timings: %s", {k: round(v, 1) for k, v in h.timings.items()})
        yield out
    finally:
        h.stop()


def test_every_event_reaches_live_topic_once(run: dict[str, Any]) -> None:
    ids = Counter(int(v["id"]) for v in run["live"])
    assert set(ids) == set(range(N))
    assert sum(ids.values()) == N, "KSQL wrote duplicates to the live stream"


def test_every_event_scored_exactly_once(run: dict[str, Any]) -> None:
    ledger = IdLedger(set(range(N)))
    ledger.add(int(v["id"]) for v in run["scores"])
    assert not ledger.lost, ledger.summary()
    assert not ledger.unexpected, ledger.summary()
    # At-least-once scorer, no failure injected: a duplicate would be a bug here.
    assert ledger.duplicates == 0, ledger.summary()
    unlabelled = sum(1 for v in run["scores"] if v["label"] == -1)
    expected_unlabelled = sum(1 for e in run["events"].values() if e["Class"] is None)
    assert unlabelled == expected_unlabelled > 0


def test_labels_carried_through(run: dict[str, Any]) -> None:
    events = run["events"]
    for v in run["scores"]:
        cls = events[v["id"]]["Class"]
        assert v["label"] == (-1 if cls is None else cls)


def test_users_masked_downstream_of_ksql(run: dict[str, Any]) -> None:
    originals = {u["userid"] for u in run["users"]}
    names = {u["name"] for u in run["users"]}
    assert len(originals) == 1000
    events = run["events"]
    for v in run["live"]:
        orig = events[v["id"]]["User"]
        assert v["userid"] == mask_left(orig), (v["id"], v["userid"], orig)
        assert v["userid"] not in originals
    by_id = {v["id"]: v["userid"] for v in run["live"]}
    for v in run["scores"]:
        assert v["user"] == by_id[v["id"]]
        assert v["user"] not in originals and v["user"] not in names


def test_per_user_join_only_premium(run: dict[str, Any]) -> None:
    city = {u["userid"]: u["city"] for u in run["users"]}
    qualifying = {
        e["Id"]
        for e in run["events"].values()
        if e["V1"] > 5 and e["V2"] is not None and city[e["User"]].startswith("Premium")
    }
    rows = run["per_user"]
    assert qualifying, "the data has no qualifying event: the test would prove nothing"
    assert all(str(r["city"]).startswith("Premium") for r in rows)
    got = {int(r["id"]) for r in rows}
    assert got <= qualifying, f"non-qualifying events joined: {sorted(got - qualifying)[:10]}"
    assert got == qualifying, f"qualifying events missing: {sorted(qualifying - got)[:10]}"


def test_per_user_topic_carries_no_original_user(run: dict[str, Any]) -> None:
    """The join's output leaves KSQL: its keys and values hold the masked user, never an
    original user id or name (the raw id stays in KSQL's internal re-key topic)."""
    users = run["users"]
    originals = {u["userid"] for u in users}
    names = {u["name"] for u in users}
    events = run["events"]
    records = run["h"].read(run["h"].settings.topic_per_user)
    assert len(records) == len(run["per_user"]) > 0
    decode = run["h"].decode
    for rec in records:
        assert rec.key is not None and rec.value is not None
        key = rec.key.decode()
        value = decode(rec.value)
        orig = events[int(value["id"])]["User"]
        assert key == mask_left(orig) == value["masked_user"], (key, value["masked_user"], orig)
        assert key not in originals and key not in names
        assert "userid" not in value  # the masked key column is not repeated as a raw field
        for field, v in value.items():
            assert v not in originals and v not in names, (field, v)
        # byte level too: no original id or name anywhere in the key or the Avro value
        raw = rec.key + rec.value
        assert orig.encode() not in raw, orig


def test_live_roc_auc_above_0_9(run: dict[str, Any]) -> None:
    from sklearn.metrics import roc_auc_score

    live = [v for v in run["scores"] if v["id"] >= N_TRAIN and v["label"] in (0, 1)]
    y = [v["label"] for v in live]
    assert sum(y) >= 20, f"too few labelled frauds in the live half ({sum(y)})"
    auc = roc_auc_score(y, [v["score"] for v in live])
    log.info("live ROC-AUC %.4f on %d labelled events (%d frauds)", auc, len(y), sum(y))
    assert auc > 0.9


def test_prometheus_counters_equal_topic_counts(run: dict[str, Any]) -> None:
    m = run["metrics"]
    assert m.up and m.ready
    scores = run["scores"]
    anomalous = sum(1 for v in scores if v["is_anomaly"])
    assert m.scored == len(scores)
    assert m.anomalous == anomalous == len(run["alerts"])
    assert m.consumed == len(run["live"]) + len(run["dlq"])
    assert sum(m.dead_lettered.values()) == len(run["dlq"]) == 0
    assert m.lag == 0
    assert m.model_version == run["model"].name
    assert {v["model_version"] for v in scores} == {run["model"].name}
