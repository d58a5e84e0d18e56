"""A real Prometheus (Debian's binary) scrapes two real scorer replicas under load.

Checks: the scraped counters equal what the test produced; every recording rule and every
dashboard query evaluates without error on this data and returns series; the dashboard names
only metrics a live scorer exports; a scrape target that is down is reported (up == 0, the
scorer-down alert pending); `fraudstream report` renders the PNG from this Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.local.procs import free_port
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.report.panels import MAIN_PANELS, RATE_INTERVAL
from fraudstream.testing.scorer import LiveProducer, make_events, publish_pca_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "fraudstream.json"
RECORDING = ROOT / "deploy" / "prometheus" / "rules" / "recording.yml"
N_GOOD = 20_000
N_BAD = 300
RATE = 4_000.0  # events/s: ~5 s of sustained load on two replicas


def _wait_http(url: str, proc: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.alive(), f"scorer exited:\n{proc.log()}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not 200 after {timeout}s:\n{proc.log()}")


def _families(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_prometheus_scrapes_scorers_under_load(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    unique_id: str,
    tmp_path: Path,
    start_scorer: Callable[..., Any],
    start_prometheus: Callable[..., Any],
    contract_metrics: dict[str, str],
) -> None:
    live = topic_factory("live", partitions=4)
    outputs = {name: topic_factory(name, partitions=2) for name in ("scores", "alerts", "dlq")}
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    version = publish_pca_model(model_dir, seed=3, drift=True)  # as trained: PSI exported

    ports = [free_port(), free_port()]
    env = {
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FRAUDSTREAM_REGISTRY_URL": schema_registry_url,
        "FRAUDSTREAM_MODEL_DIR": str(model_dir),
        "FRAUDSTREAM_SCORER_TOPIC": live,
        "FRAUDSTREAM_SCORER_TOPIC_SCORES": outputs["scores"],
        "FRAUDSTREAM_SCORER_TOPIC_ALERTS": outputs["alerts"],
        "FRAUDSTREAM_SCORER_TOPIC_DLQ": outputs["dlq"],
        "FRAUDSTREAM_SCORER_GROUP": f"deploy-{unique_id}",
        "FRAUDSTREAM_SCORER_LAG_INTERVAL_S": "0.5",
        "FRAUDSTREAM_SCORER_MAX_WAIT_MS": "50",
    }
    scorers = [start_scorer({**env, "FRAUDSTREAM_METRICS_PORT": str(p)}) for p in ports]
    dead_target = f"127.0.0.1:{free_port()}"  # nothing listens here: a replica that is down
    prom = start_prometheus([f"127.0.0.1:{p}" for p in ports] + [dead_target])
    for port, proc in zip(ports, scorers, strict=True):
        _wait_http(f"http://127.0.0.1:{port}/readyz", proc)
    time.sleep(2)  # let the group settle: both replicas own partitions before the load

    # --- load: good events at a steady rate, malformed records mixed in ------------------
    producer = LiveProducer(kafka_bootstrap, schema_registry_url, live)
    producer.send(make_events(N_GOOD, seed=7), rate=RATE)
    producer.send_raw([b"\x00\x00\x0f\x42\x3fnot avro" for _ in range(N_BAD)])

    # --- the scraped counters equal what was produced ------------------------------------
    job = '{job="fraudstream-scorer"}'
    scored = prom.wait_value(f"sum(fraudstream_events_scored_total{job})", N_GOOD)
    assert scored == N_GOOD
    assert prom.wait_value(f"sum(fraudstream_events_consumed_total{job})", N_GOOD + N_BAD) == (
        N_GOOD + N_BAD
    )
    assert prom.wait_value(f"sum(fraudstream_events_dead_lettered_total{job})", N_BAD) == N_BAD
    direct_anomalous = 0.0
    direct_text = ""
    for port in ports:
        direct_text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for fam in text_string_to_metric_families(direct_text):
            if fam.name == "fraudstream_events_anomalous":
                direct_anomalous += sum(s.value for s in fam.samples if s.name.endswith("_total"))
    assert direct_anomalous > 0
    assert prom.wait_value("sum(fraudstream_events_anomalous_total)", direct_anomalous) == (
        direct_anomalous
    )
    # both replicas did work, and both serve the published model
    per_replica = prom.query("instance:fraudstream_events_scored:rate1m")
    assert len(per_replica) == 2
    assert all(float(r["value"][1]) > 0 for r in per_replica)
    versions = prom.query("count by (version) (fraudstream_model_info == 1)")
    assert [(r["metric"]["version"], r["value"][1]) for r in versions] == [(version, "2")]

    # --- a target that is down is visible, and its alert is on the way ------------------
    down = prom.query(f'up{{instance="{dead_target}"}}')
    assert [r["value"][1] for r in down] == ["0"]
    alerts = httpx.get(f"{prom.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    pending = {
        (a["labels"]["alertname"], a["labels"].get("instance"))
        for a in alerts
        if a["state"] in ("pending", "firing")
    }
    assert ("FraudstreamScorerDown", dead_target) in pending
    assert not any(a["labels"]["alertname"] == "FraudstreamScorerAbsent" for a in alerts)

    # --- every recording rule evaluates, without error and with data --------------------
    rule_groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    health = {
        r["name"]: (r["health"], r.get("lastError", "")) for g in rule_groups for r in g["rules"]
    }
    assert all(h == "ok" for h, _ in health.values()), {
        k: v for k, v in health.items() if v[0] != "ok"
    }
    recorded = [
        r["record"] for g in yaml.safe_load(RECORDING.read_text())["groups"] for r in g["rules"]
    ]
    assert set(recorded) <= set(health)
    empty = [name for name in recorded if not prom.query(name)]
    assert not empty, f"recording rules without data: {empty}"

    # --- every dashboard query evaluates, without error and with data -------------------
    dashboard = json.loads(DASHBOARD.read_text())
    no_data = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            if "fraudstream_monitor_" in target["expr"]:
                continue  # the monitor's panels: not a scorer's series (tests/integration/monitor)
            expr = target["expr"].replace(RATE_INTERVAL, "30s")
            result = prom.query(expr)
            if not result:
                no_data.append(f"{panel['title']}: {expr}")
            # every {{label}} of the legend names a label the series really carry
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]):
                assert all(label in r["metric"] for r in result), (panel["title"], label)
    assert not no_data, f"dashboard queries without data: {no_data}"

    # --- the dashboard names only metrics a live scorer exports -------------------------
    live_families = _families(direct_text)
    for name, kind in contract_metrics.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert live_families.get(family) == kind, f"scorer does not export {name} as a {kind}"
    exported_samples = {
        s.name for f in text_string_to_metric_families(direct_text) for s in f.samples
    }
    # the monitor's panels name families the monitor registers (its own service)
    monitor_families = {f.name for f in MonitorMetrics().registry.collect()}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in _raw_metric_names(target["expr"]):
                if name.startswith("fraudstream_monitor_"):
                    assert name in monitor_families, (panel["title"], name)
                    continue
                assert name in exported_samples or name == "up", (panel["title"], name)

    # --- the PNG report from this Prometheus --------------------------------------------
    out = tmp_path / "report.png"
    argv = [
        sys.executable, "-m", "fraudstream", "report", "--prometheus", prom.url,
        "--out", str(out), "--range", "2m", "--scrape-interval", "1s",
    ]  # fmt: skip
    res = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert f"{len(MAIN_PANELS)}/{len(MAIN_PANELS)} panels with data" in res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 50_000

    for proc in scorers:
        assert proc.alive(), proc.log()


def _raw_metric_names(expr: str) -> set[str]:
    """fraudstream_* sample names in a PromQL expression (recording rules excluded)."""
    no_labels = re.sub(r"\{[^}]*\}", "", expr)
    return set(re.findall(r"(?<![\w:])fraudstream_[a-z0-9_]+(?![\w:])", no_labels))
