"""The fraud team's loop end to end (issue 16), every service a real process on the real broker,
scraped by a real Prometheus with the project's rules:

1. events are produced without labels (`fraudstream produce --labels delayed`), the labels
   arrive seconds later; the monitor's precision and recall equal those computed offline
   from the scores and labels topics; the event-latency alert stays quiet;
2. a challenger is served in shadow, compared (`fraudstream models compare`), promoted and
   rolled back while traffic with a shifted feature flows: every event is scored exactly
   once, and that feature's PSI rises above the alert level while every other stays below;
3. the scorer is stopped (SIGSTOP) for a few seconds under traffic: the latency alert fires.

FraudstreamEventLatencyHigh waits `for: 5m` before firing; the test's copy of the rules sets
it to 5 s (the expression is the project's, unchanged) so the test need not wait 5 minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from confluent_kafka.admin import AdminClient
from sklearn.metrics import precision_score, recall_score

from fraudstream.cli import ExitCode, run
from fraudstream.config import get_settings
from fraudstream.events import FEATURE_COLUMNS
from fraudstream.kafka.admin import create_topics, delete_topics
from fraudstream.kafka.reader import read_topic
from fraudstream.local.procs import free_port
from fraudstream.testing.prometheus import Process, Prometheus
from fraudstream.testing.scorer import decode_all, publish_pca_model
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
PSI_ALERT = 0.25  # FraudstreamFeatureDrift's level
LATENCY = "FraudstreamEventLatencyHigh"


def _metrics(port: int) -> dict[str, float]:
    """`name{labels}` -> value of a /metrics page (labels as exported, sorted by name); empty
    while the server is not up yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _psi(port: int) -> dict[str, float]:
    pre = 'fraudstream_drift_psi{feature="'
    return {k[len(pre) : -2]: v for k, v in _metrics(port).items() if k.startswith(pre)}


def _rules(tmp_path: Path) -> list[Path]:
    """The project's rule files, the latency alert's `for` shortened (see the docstring)."""
    alerts = yaml.safe_load((RULES / "alerts.yml").read_text())
    found = [r for g in alerts["groups"] for r in g["rules"] if r.get("alert") == LATENCY]
    assert len(found) == 1 and found[0]["for"] == "5m"
    found[0]["for"] = "5s"
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(alerts))
    return [RULES / "recording.yml", path]


def _produce(n: int, first_id: int, seed: int, rate: float, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fraudstream", "produce", "--no-progress", "--synthetic", str(n),
         "--seed", str(seed), "--first-id", str(first_id), "--no-users", "--start", "now",
         "--fraud-rate", "0.05", "--rate", str(rate), "--labels", "delayed",
         "--label-delay", "uniform:1s,3s", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _done(proc: subprocess.Popen[str]) -> None:
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err


def test_the_fraud_loop(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    unique_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (CI installs Debian package prometheus)")
    model_dir = tmp_path / "models"
    v1 = publish_pca_model(model_dir, seed=3, drift=True)
    v2 = publish_pca_model(model_dir, seed=8, bias=0.05, publish=False, drift=True)
    news = f"model-news-{uuid.uuid4().hex[:10]}"
    create_topics(kafka_admin, [news])
    shared = {
        "KAFKA_BOOTSTRAP": kafka_bootstrap, "REGISTRY_URL": schema_registry_url,
        "MODEL_DIR": str(model_dir), "MODEL_STORE": "directory", "TOPIC_MODELS": news,
        "TOPIC_SOURCE": topic_factory("source", partitions=2),
        "TOPIC_SCORES": topic_factory("scores", partitions=2),
        "TOPIC_SCORES_SHADOW": topic_factory("shadow", partitions=2),
        "TOPIC_ALERTS": topic_factory("alerts"), "TOPIC_DLQ": topic_factory("dlq"),
        "TOPIC_LABELS": topic_factory("labels", partitions=2),
        "DATA_DIR": str(tmp_path / "state"), "LOG_LEVEL": "INFO",
    }  # fmt: skip
    for key, value in shared.items():
        monkeypatch.setenv(f"FRAUDSTREAM_{key}", value)
    get_settings.cache_clear()
    t = {k[6:].lower(): v for k, v in shared.items() if k.startswith("TOPIC_")}
    sport, mport = free_port(), free_port()
    scorer = Process(
        [sys.executable, "-m", "fraudstream", "score"],
        tmp_path / "scorer.log",
        {**os.environ, "FRAUDSTREAM_METRICS_PORT": str(sport),
         "FRAUDSTREAM_SCORER_INPUT_FORMAT": "json", "FRAUDSTREAM_SCORER_TOPIC": t["source"],
         "FRAUDSTREAM_SCORER_GROUP": f"scorer-{unique_id}", "FRAUDSTREAM_SCORER_MAX_WAIT_MS": "50",
         "FRAUDSTREAM_SCORER_DRIFT_WINDOW": "4000", "FRAUDSTREAM_SCORER_DRIFT_MIN_EVENTS": "2000"},
    )  # fmt: skip
    monitor = Process(
        [sys.executable, "-m", "fraudstream", "monitor"],
        tmp_path / "monitor.log",
        {**os.environ, "FRAUDSTREAM_MONITOR_PORT": str(mport), "FRAUDSTREAM_MONITOR_WINDOWS": "1h",
         "FRAUDSTREAM_MONITOR_REFRESH_S": "1", "FRAUDSTREAM_MONITOR_GROUP": f"mon-{unique_id}"},
    )  # fmt: skip
    prom_dir = tmp_path / "prometheus"
    prom_dir.mkdir()
    jobs = {"fraudstream-scorer": [f"127.0.0.1:{sport}"],
            "fraudstream-monitor": [f"127.0.0.1:{mport}"]}  # fmt: skip
    prom = Prometheus(prom_dir, prometheus, jobs, _rules(tmp_path))
    try:
        prom.wait_ready()
        wait_until(lambda: _metrics(sport).get("fraudstream_ready"), 120,
                   f"the scorer to be ready:\n{scorer.log()}", done=lambda v: v == 1.0,
                   interval=0.5)  # fmt: skip

        # --- 1. delayed labels: the monitor's figures equal the offline ones ---------------
        n1 = 4000
        _done(_produce(n1, 0, 21, 400))
        msgs = read_topic(
            kafka_bootstrap, t["scores"], expect=n1, timeout=120, read_committed=False
        )
        scores = decode_all(schema_registry_url, msgs)
        labels = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, t["labels"])]
        assert len(scores) == n1 and all(r["label"] == -1 for r in scores), "no label inline"
        truth = {r["Id"]: r["Class"] for r in labels}
        joined = [(truth[r["id"]], r["is_anomaly"]) for r in scores if r["id"] in truth]
        y, pred = [a for a, _ in joined], [b for _, b in joined]
        assert len(joined) == n1 and sum(y) > 50 and sum(pred) > 5
        key = f'{{model_version="{v1}",window="1h"}}'
        got = wait_until(
            lambda: _metrics(mport), 90, "the monitor to join every label",
            done=lambda m: m.get(f"fraudstream_monitor_labelled{key}") == n1, interval=0.5,
        ).value  # fmt: skip
        assert got[f"fraudstream_monitor_precision{key}"] == pytest.approx(precision_score(y, pred))
        assert got[f"fraudstream_monitor_recall{key}"] == pytest.approx(recall_score(y, pred))
        psi = _psi(sport)
        assert set(psi) == {*FEATURE_COLUMNS, "score"} and max(psi.values()) < PSI_ALERT, psi
        p99 = wait_until(
            lambda: prom.value("fraudstream:event_latency_seconds:p99"), 60, "p99", interval=0.5
        ).value
        buckets = {k: v for k, v in _metrics(sport).items() if "latency_seconds_bucket" in k}
        assert p99 is not None and p99 < 2.0 and LATENCY not in prom.alerts(), (
            p99,
            os.getloadavg(),
            buckets,
        )

        # --- 2. shadow, compare, promote, rollback under shifted traffic -------------------
        assert run(["models", "promote", v2, "--candidate", "--reason", "challenger"]) == 0
        n2 = 8000
        producer = _produce(n2, 100_000, 22, 1000, "--shift", "V4=3")
        wait_until(lambda: read_topic(kafka_bootstrap, t["scores_shadow"], max_records=1), 60,
                   "shadow scores", interval=0.5)  # fmt: skip
        assert run(["models", "promote", v2, "--reason", "the challenger is better"]) == 0
        info = f'fraudstream_model_info{{version="{v2}"}}'
        wait_until(lambda: _metrics(sport).get(info), 30, "v2 served", done=lambda v: v == 1.0)
        assert run(["models", "rollback", "--reason", "back to v1"]) == 0
        v1_info = info.replace(v2, v1)
        wait_until(lambda: _metrics(sport).get(v1_info), 30, "v1 again", done=lambda v: v == 1.0)
        _done(producer)
        capsys.readouterr()
        assert run(["models", "compare", "--since", "30m", "-o", "json"]) == ExitCode.OK
        compared = json.loads(capsys.readouterr().out)

        # --- 3. an injected delay: the latency alert fires ---------------------------------
        producer = _produce(3000, 200_000, 23, 500, "--shift", "V4=3")
        os.kill(scorer.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(7)
        finally:
            os.kill(scorer.proc.pid, signal.SIGCONT)
        _done(producer)
        wait_until(
            lambda: prom.alerts().get(LATENCY),
            120,
            "the latency alert",
            done=lambda s: s == "firing",
            interval=0.5,
        )
        # the drifted feature, and only it, crossed the alert level (a window of shifted
        # events); the score may move too: V4 feeds the model
        psi = wait_until(
            lambda: _psi(sport),
            60,
            "V4's PSI",
            done=lambda p: p.get("V4", 0) > PSI_ALERT,
            interval=0.5,
        ).value
        assert max(v for f, v in psi.items() if f not in ("V4", "score")) < PSI_ALERT, psi
    finally:
        prom.close()
        monitor.close()
        scorer.close()
        delete_topics(kafka_admin, [news])
        get_settings.cache_clear()

    # every event scored exactly once through the switches and the stall
    want = [*range(n1), *range(100_000, 100_000 + n2), *range(200_000, 203_000)]
    scores = decode_all(schema_registry_url, read_topic(kafka_bootstrap, t["scores"]))
    assert sorted(r["id"] for r in scores) == want
    assert {r["model_version"] for r in scores} == {v1, v2}
    shadows = decode_all(schema_registry_url, read_topic(kafka_bootstrap, t["scores_shadow"]))
    assert shadows and {r["model_version"] for r in shadows} == {v2}
    # compare saw both roles: the champion (v1, and v2 while promoted) over every event of
    # phases 1-2, the challenger over the events it scored in shadow
    rows = {(m["role"], m["version"]): m for m in compared["models"]}
    assert set(rows) == {("champion", v1), ("champion", v2), ("challenger", v2)}
    assert rows["champion", v1]["events"] + rows["champion", v2]["events"] == n1 + n2
    assert rows["challenger", v2]["events"] == len({r["id"] for r in shadows})
    assert compared["overlap"]["common_events"] == len({r["id"] for r in shadows})
