"""The Grafana dashboard: valid structure, datasource references that resolve to the
provisioned datasource, PromQL that parses and names only metrics the scorer exports (per the
contract; the integration test compares with a live scrape), and the report's panels in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from tests.unit.deploy.conftest import QUALITY_METRICS

from fraudstream.report.panels import MAIN_PANELS, RATE_INTERVAL

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"
PROM = GRAFANA.parent / "prometheus"
DASHBOARD = GRAFANA / "dashboards" / "fraudstream.json"

_NAME = re.compile(r"(?<![\w:\"'{=])([a-zA-Z_:][a-zA-Z0-9_:]*)")
_RECORDING_PREFIXES = ("fraudstream:", "reason:", "instance:", "topic_partition:")


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _targets(dash: dict) -> list[tuple[dict, dict]]:
    return [(p, t) for p in dash["panels"] for t in p.get("targets", [])]


def _recorded() -> set[str]:
    doc = yaml.safe_load((PROM / "rules" / "recording.yml").read_text())
    return {r["record"] for g in doc["groups"] for r in g["rules"]}


def metric_names(expr: str) -> set[str]:
    """Metric and recording-rule names in a PromQL expression (label names and values,
    functions, keywords and durations excluded)."""
    no_labels = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    no_groups = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_labels)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_groups)
    names = set()
    for token in _NAME.findall(no_ranges):
        if token.startswith(("fraudstream", *_RECORDING_PREFIXES)) or token == "up":
            names.add(token)
    return names


def base_metric(name: str, types: dict[str, str]) -> str:
    """`x_bucket` / `x_sum` / `x_count` of a histogram `x` -> `x`."""
    for suffix in ("_bucket", "_sum", "_count"):
        stem = name.removesuffix(suffix)
        if stem != name and types.get(stem) == "histogram":
            return stem
    return name


def test_metric_name_extraction(contract_metrics):
    expr = (
        'sum by (le) (increase(fraudstream_score_bucket{job="x"}[5m])) / '
        "fraudstream:events_scored:rate1m and up"
    )
    assert metric_names(expr) == {
        "fraudstream_score_bucket",
        "fraudstream:events_scored:rate1m",
        "up",
    }
    assert base_metric("fraudstream_score_bucket", contract_metrics) == "fraudstream_score"
    total = "fraudstream_events_scored_total"
    assert base_metric(total, contract_metrics) == total


def test_dashboard_top_level_schema():
    dash = _dashboard()
    assert dash["uid"] == "fraudstream"
    assert isinstance(dash["version"], int) and dash["version"] >= 1
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert dash["title"]
    assert isinstance(dash["panels"], list) and len(dash["panels"]) >= 9
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert len({p["title"] for p in dash["panels"]}) == len(ids), "panel titles must be unique"


def test_panels_fit_the_grid_without_overlap():
    cells: dict[tuple[int, int], str] = {}
    for p in _dashboard()["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def resolve_datasource(ref: dict, dash: dict, provisioned: dict[str, str]) -> str:
    """The provisioned datasource uid a panel/target reference ends up at (KeyError if none):
    a fixed uid, or `${var}` naming a datasource variable whose default is provisioned."""
    uid = ref["uid"]
    match = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", uid)
    if match:
        name = match.group(1) or match.group(2)
        (var,) = [v for v in dash["templating"]["list"] if v["name"] == name]
        assert var["type"] == "datasource" and var["query"] == ref["type"], var
        uid = var["current"]["value"]
    assert provisioned[uid] == ref["type"], (uid, ref)
    return uid


def test_datasource_references_resolve_to_the_provisioned_datasource():
    prov = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    provisioned = {d["uid"]: d["type"] for d in prov["datasources"]}
    dash = _dashboard()
    refs = [p["datasource"] for p in dash["panels"]] + [t["datasource"] for _, t in _targets(dash)]
    assert len(refs) == len(dash["panels"]) + len(_targets(dash))
    for ref in refs:
        assert resolve_datasource(ref, dash, provisioned) == "fraudstream-prometheus"


def test_an_unresolvable_datasource_is_caught():
    provisioned = {"fraudstream-prometheus": "prometheus"}
    dash = _dashboard()
    with pytest.raises(KeyError):
        resolve_datasource({"type": "prometheus", "uid": "nope"}, dash, provisioned)
    with pytest.raises(ValueError):  # a variable that does not exist
        resolve_datasource({"type": "prometheus", "uid": "${ds}"}, dash, provisioned)


def test_dashboard_provider_points_at_the_mounted_dashboards():
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "fraudstream.yml").read_text())
    compose = yaml.safe_load((GRAFANA.parents[1] / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    path = prov["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts


def test_every_query_names_only_exported_or_recorded_metrics(contract_metrics):
    recorded = _recorded()
    allowed = set(contract_metrics) | set(QUALITY_METRICS) | recorded | {"up"}
    used: set[str] = set()
    for panel, target in _targets(_dashboard()):
        names = {base_metric(n, contract_metrics) for n in metric_names(target["expr"])}
        assert names, f"{panel['title']}: no metric in {target['expr']!r}"
        unknown = names - allowed
        assert not unknown, f"{panel['title']}: {target['expr']!r} uses unknown {unknown}"
        used |= names
    # the dashboard shows every metric family of the contract, directly or through a rule
    rules_text = (PROM / "rules" / "recording.yml").read_text()
    shown = {m for m in contract_metrics if m in used or m in rules_text}
    assert shown == set(contract_metrics), sorted(set(contract_metrics) - shown)
    assert set(QUALITY_METRICS) <= used, sorted(set(QUALITY_METRICS) - used)


def test_every_query_parses(promtool, run, tmp_path):
    """promtool parses each expression (as a recording rule), Grafana's variable substituted."""
    rules = [
        {
            "record": f"dashboard:panel{p['id']}:{t['refId']}",
            "expr": t["expr"].replace(RATE_INTERVAL, "1m"),
        }
        for p, t in _targets(_dashboard())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    res = run([promtool, "check", "rules", path])
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(rules)} rules found" in res.stdout


@pytest.mark.parametrize(
    "title",
    [
        "Events in/out per second",
        "Anomaly rate and count",
        "Score distribution",
        "Event-to-score latency",
        "Consumer lag per partition",
        "Dead-letter rate by reason",
        "Model version in service",
        "Per-replica throughput",
    ],
)
def test_required_panel_exists(title):
    assert title in {p["title"] for p in _dashboard()["panels"]}


def test_score_distribution_is_a_heatmap_of_the_histogram():
    panel = next(p for p in _dashboard()["panels"] if p["title"] == "Score distribution")
    assert panel["type"] == "heatmap"
    (target,) = panel["targets"]
    assert target["format"] == "heatmap" and "fraudstream_score_bucket" in target["expr"]


def test_report_panels_use_the_dashboard_queries():
    by_title = {p["title"]: p for p in _dashboard()["panels"]}
    for panel in MAIN_PANELS:
        assert panel.title in by_title, panel.title
        exprs = {t["expr"] for t in by_title[panel.title]["targets"]}
        for q in panel.queries:
            assert q.expr in exprs, f"{panel.title}: report query {q.expr!r} not in dashboard"
