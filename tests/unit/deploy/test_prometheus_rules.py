"""Prometheus config and rules: promtool accepts them, every alert has a firing and a quiet
rule test, and a broken rule file or a wrong expectation is reported as a failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

PROM = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"


def _rules(name: str) -> list[dict]:
    doc = yaml.safe_load((PROM / "rules" / name).read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_config_and_rules_pass_promtool(promtool, run):
    res = run([promtool, "check", "config", "prometheus.yml"], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 rule files found" in res.stdout
    res = run([promtool, "check", "rules", "rules/recording.yml", "rules/alerts.yml"], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr


def test_rule_unit_tests_pass(promtool, run):
    res = run([promtool, "test", "rules", "tests/alerts_test.yml"], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_every_alert_has_a_firing_and_a_quiet_case():
    alerts = {r["alert"] for r in _rules("alerts.yml")}
    doc = yaml.safe_load((PROM / "tests" / "alerts_test.yml").read_text())
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts <= fires, f"alerts never shown firing: {sorted(alerts - fires)}"
    assert alerts <= quiet, f"alerts never shown quiet: {sorted(alerts - quiet)}"
    expected = {
        "FraudstreamScorerDown",
        "FraudstreamConsumerLagHigh",
        "FraudstreamAnomalyRateDrift",
        "FraudstreamDeadLetterRateHigh",
        "FraudstreamModelReloadFailing",
        "FraudstreamScoringLatencyHigh",
    }
    assert expected <= alerts


def test_recording_rules_used_by_alerts_are_defined():
    recorded = {r["record"] for r in _rules("recording.yml")}
    for rule in _rules("alerts.yml"):
        for token in str(rule["expr"]).replace("(", " ").replace(")", " ").split():
            if ":" in token and token.split(":")[0] in {"fraudstream", "reason", "instance"}:
                name = token.split("[")[0].split("{")[0]
                assert name in recorded, f"{rule['alert']} uses undefined {name}"


def test_scrape_config_discovers_scaled_scorers_by_dns():
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "fraudstream-scorer")
    names = {n for sd in job["dns_sd_configs"] for n in sd["names"]}
    assert {"scorer", "tasks.scorer"} <= names
    assert all(sd["port"] == 8000 and sd["type"] == "A" for sd in job["dns_sd_configs"])


def test_broken_rule_file_fails_promtool(promtool, run, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n"
        "        expr: sum(rate(fraudstream_events_scored_total[5m])\n"
    )
    res = run([promtool, "check", "rules", bad])
    assert res.returncode != 0
    assert "parse error" in (res.stdout + res.stderr).lower()


def test_wrong_expectation_fails_rule_test(promtool, run, tmp_path):
    """The rule tests can fail: expect the scorer-down alert where the target is healthy."""
    shutil.copytree(PROM / "rules", tmp_path / "rules")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.yml").write_text(
        """rule_files: [../rules/recording.yml, ../rules/alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="fraudstream-scorer", instance="a:8000"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: FraudstreamScorerDown
        exp_alerts:
          - exp_labels: {severity: critical, job: fraudstream-scorer, instance: "a:8000"}
"""
    )
    res = run([promtool, "test", "rules", "tests/t.yml"], cwd=tmp_path)
    assert res.returncode != 0
    assert "FAILED" in res.stdout + res.stderr
