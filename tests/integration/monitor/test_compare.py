"""`fraudstream models compare` on a real broker: a real scorer serves a champion and a
challenger in shadow, delayed labels arrive, and the command's alert counts, overlap and
precision/recall equal those computed offline from the three topics; a stopped registry is
one line and exit 3. The shadow records carry the shadow subject's schema id and
confluent-kafka's AvroDeserializer reads them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from sklearn.metrics import precision_score, recall_score

from fraudstream.cli import ExitCode, run
from fraudstream.config import get_settings
from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.model import DirectoryModelStore
from fraudstream.model.lifecycle import mark_candidate
from fraudstream.producer.labels import DelayedLabels, LabelDelay
from fraudstream.producer.synthetic import generate_events
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.serde.registry_client import confluent_client
from fraudstream.testing.scorer import LiveProducer, RunningScorer, decode_all, publish_pca_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_compare_equals_the_offline_figures(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    unique_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = {name: topic_factory(name, partitions=2) for name in ("live", "scores", "shadow", "lab")}
    alerts, dlq = topic_factory("alerts"), topic_factory("dlq")
    model_dir = tmp_path / "models"
    v1 = publish_pca_model(model_dir, seed=3)
    v2 = publish_pca_model(model_dir, seed=8, bias=0.05, publish=False)
    mark_candidate(DirectoryModelStore(model_dir), v2, by="test", reason="shadow it")
    started_ms = int(time.time() * 1000)
    scorer = RunningScorer(ScorerSettings(
        kafka_bootstrap=kafka_bootstrap, registry_url=schema_registry_url, model_dir=model_dir,
        topic=t["live"], topic_scores=t["scores"], topic_scores_shadow=t["shadow"],
        topic_alerts=alerts, topic_dlq=dlq, group=f"scorer-{unique_id}",
        metrics_port=free_port(), max_wait_ms=50, listen_announcements=False,
    )).start()  # fmt: skip
    try:
        scorer.wait_ready()
        assert scorer.scorer.watcher.challenger is not None
        n = 2000
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        events = list(generate_events(n, seed=5, fraud_rate=0.08, start=now, users=20))
        delay = LabelDelay.parse("uniform:0.1s,1s")
        held = DelayedLabels(
            bootstrap=kafka_bootstrap, topic=t["lab"], delay=delay, share=0.7, drain_s=30
        )
        LiveProducer(kafka_bootstrap, schema_registry_url, t["live"]).send(list(held.wrap(events)))
        lstats = held.close()
        assert lstats.pending == 0 and lstats.delivered == lstats.held > 0
        champ = decode_all(schema_registry_url, read_topic(
            kafka_bootstrap, t["scores"], expect=n, timeout=90, read_committed=False))  # fmt: skip
        shadow_msgs = read_topic(
            kafka_bootstrap, t["shadow"], expect=n, timeout=60, read_committed=False
        )
        chall = decode_all(schema_registry_url, shadow_msgs)
    finally:
        scorer.close()
    assert len(champ) == len(chall) == n
    # the shadow topic has its own subject (TopicNameStrategy): a confluent-kafka consumer
    # finds the schema as for any topic, and its AvroDeserializer reads the records
    client = confluent_client(schema_registry_url)
    latest = client.get_latest_version(f"{t['shadow']}-value")
    assert {int.from_bytes(m.value()[1:5], "big") for m in shadow_msgs} == {latest.schema_id}
    deser = AvroDeserializer(client)
    ctx = SerializationContext(t["shadow"], MessageField.VALUE)
    assert [deser(m.value(), ctx)["id"] for m in shadow_msgs] == [r["id"] for r in chall]
    truth = {
        r["Id"]: r["Class"]
        for r in map(orjson.loads, (m.value() for m in read_topic(kafka_bootstrap, t["lab"])))
    }
    for key, value in {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REGISTRY_URL": schema_registry_url,
                       "TOPIC_SCORES": t["scores"], "TOPIC_SCORES_SHADOW": t["shadow"],
                       "TOPIC_LABELS": t["lab"]}.items():  # fmt: skip
        monkeypatch.setenv(f"FRAUDSTREAM_{key}", value)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        code = run(["models", "compare", "--since", "10m", "-o", "json"])
        out, err = capsys.readouterr()
        assert code == ExitCode.OK, err
        got = json.loads(out)
        by_role = {m["role"]: m for m in got["models"]}
        assert (by_role["champion"]["version"], by_role["challenger"]["version"]) == (v1, v2)
        for role, recs in (("champion", champ), ("challenger", chall)):
            m = by_role[role]
            joined = [(truth[r["id"]], r["is_anomaly"]) for r in recs if r["id"] in truth]
            y, pred = [a for a, _ in joined], [b for _, b in joined]
            assert sum(y) > 20 and sum(pred) > 5
            assert m["events"] == n and m["labelled"] == len(joined) == len(truth)
            assert m["alerts"] == sum(r["is_anomaly"] for r in recs)
            assert m["precision"] == pytest.approx(precision_score(y, pred))
            assert m["recall"] == pytest.approx(recall_score(y, pred))
        a = {r["id"] for r in champ if r["is_anomaly"]}
        b = {r["id"] for r in chall if r["is_anomaly"]}
        assert got["overlap"] == {
            "common_events": n, "both": len(a & b), "champion_only": len(a - b),
            "challenger_only": len(b - a), "neither": n - len(a | b),
        }  # fmt: skip
        assert len(a ^ b) > 0, "two different models disagree somewhere"
        # a window that ends before the scorer started holds nothing
        before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started_ms / 1000 - 5))
        assert run(["models", "compare", "--since", "1h", "--to", before, "-o", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["models"] == []
        # the table view names both roles
        assert run(["models", "compare", "--since", "10m"]) == 0
        table = capsys.readouterr().out
        assert "champion" in table and "challenger" in table and "overlap on 2000" in table
        # a stopped registry: one line, exit 3
        monkeypatch.setenv("FRAUDSTREAM_REGISTRY_URL", f"http://127.0.0.1:{free_port()}")
        get_settings.cache_clear()
        assert run(["models", "compare", "--since", "10m"]) == ExitCode.UNAVAILABLE
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err, err
    finally:
        get_settings.cache_clear()
