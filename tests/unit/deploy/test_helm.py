"""The Helm chart (deploy/helm/fraudstream-scorer): lints, renders resources that validate
(built-in kinds strictly, custom resources against their CRDs' schemas), matches the
kustomize base, and a bad values file fails with a message that names the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
CHART = DEPLOY / "helm" / "fraudstream-scorer"
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "PodMonitor", "PrometheusRule"}


def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The schema of a custom resource's CRD (vendored by schemas/convert_crds.py)."""
    name = f"{kind}_{api_version.rsplit('/', 1)[-1]}".lower()
    return dict(
        json.loads((Path(__file__).parent / "schemas" / "crds" / f"{name}.json").read_text())
    )


# A helm built with `go install` has no cluster version stamped in (it assumes 1.20).
KUBE_VERSION = ["--kube-version", "1.30.0"]
KINDS = {
    "ConfigMap",
    "CronJob",
    "Deployment",
    "Job",
    "PodDisruptionBudget",
    "PodMonitor",
    "PrometheusRule",
    "ScaledObject",
    "Service",
}


@pytest.fixture(scope="module")
def helm() -> str:
    path = shutil.which("helm")
    if path is None:
        pytest.skip("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.19.0)")
    return path


@pytest.fixture(scope="module")
def template(helm, run):
    def render(*args: str | Path, release: str = "fraudstream-scorer"):
        res = run([helm, "template", release, CHART, "--namespace", "fraud", *KUBE_VERSION, *args])
        docs = [d for d in yaml.safe_load_all(res.stdout) if d] if res.returncode == 0 else []
        return res, docs

    return render


def _one(docs: list[dict[str, Any]], kind: str, monitor: bool = False) -> dict[str, Any]:
    """The one resource of a kind (the scorer's settings, for ConfigMap; the scorer's
    Deployment, Service and PodMonitor, or with `monitor` the monitor's)."""
    found = [d for d in docs if d["kind"] == kind]
    if kind in ("Deployment", "Service", "PodMonitor"):
        found = [d for d in found if d["metadata"]["name"].endswith("-monitor") == monitor]
    if kind == "ConfigMap":
        found = [d for d in found if not d["metadata"]["name"].endswith("-grafana-dashboard")]
    (doc,) = found
    return doc


def _validate(doc: dict[str, Any]) -> None:
    if doc["kind"] in CUSTOM_KINDS:
        # no check_schema: the CRDs' patterns are Go regexps (e.g. `^(?i)...`), which Python's
        # re refuses to compile up front; kubeconform (test_kubeconform.py) checks those
        jsonschema.Draft7Validator(crd_schema(doc["kind"], doc["apiVersion"])).validate(doc)
    else:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [
            "--set", "security.kafka.existingSecret=fraudstream-kafka",
            "--set", "security.registry.existingSecret=fraudstream-registry",
            "--set", "security.ksqldb.existingSecret=fraudstream-ksqldb",
        ],
    ],
    ids=["plain", "secured"],
)  # fmt: skip
def test_chart_lints(helm, run, values):
    res = run([helm, "lint", "--strict", *KUBE_VERSION, *values, CHART])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in res.stdout


def test_default_render_validates_and_matches_the_kustomize_base(template):
    res, docs = template()
    assert res.returncode == 0, res.stderr
    assert {d["kind"] for d in docs} == KINDS
    for doc in docs:
        _validate(doc)
        assert doc["metadata"]["name"].startswith("fraudstream-scorer")

    base = yaml.safe_load((DEPLOY / "k8s" / "base" / "kustomization.yaml").read_text())
    literals = dict(lit.split("=", 1) for lit in base["configMapGenerator"][0]["literals"])
    assert _one(docs, "ConfigMap")["data"] == literals

    base_deploy = yaml.safe_load((DEPLOY / "k8s" / "base" / "deployment.yaml").read_text())
    (want,) = base_deploy["spec"]["template"]["spec"]["containers"]
    (got,) = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    for key in ("ports", "startupProbe", "livenessProbe", "readinessProbe", "resources"):
        assert got[key] == want[key], key
    assert got["image"] == "fraudstream-scorer:0.1.0"

    groups = []
    for name in ("recording.yml", "alerts.yml"):
        groups += yaml.safe_load((DEPLOY / "prometheus" / "rules" / name).read_text())["groups"]
    assert _one(docs, "PrometheusRule")["spec"]["groups"] == groups
    (board,) = [d for d in docs if d["metadata"]["name"].endswith("-grafana-dashboard")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "fraudstream.json").read_text())
    assert json.loads(board["data"]["fraudstream.json"]) == dashboard
    scaled = _one(docs, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == _one(docs, "Deployment")["metadata"]["name"]
    assert scaled["spec"]["triggers"][0]["metadata"]["allowIdleConsumers"] == "false"


def test_the_monitor_renders_like_the_kustomize_base(template):
    res, docs = template("--set-string", "monitor.env.FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000=5")
    assert res.returncode == 0, res.stderr
    deploy = _one(docs, "Deployment", monitor=True)
    base = yaml.safe_load((DEPLOY / "k8s" / "base" / "monitor-deployment.yaml").read_text())
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
    (want,) = base["spec"]["template"]["spec"]["containers"]
    (got,) = deploy["spec"]["template"]["spec"]["containers"]
    for key in ("args", "ports", "startupProbe", "livenessProbe", "readinessProbe", "resources"):
        assert got[key] == want[key], key
    env = {e["name"]: e.get("value") for e in got["env"]}
    assert env["FRAUDSTREAM_MONITOR_PORT"] == "8002"
    assert env["FRAUDSTREAM_MONITOR_BUDGET_ALERTS_PER_1000"] == "5"
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "fraudstream-monitor"
    for kind in ("Service", "PodMonitor"):
        sel = _one(docs, kind, monitor=True)["spec"]["selector"]
        assert sel.get("matchLabels", sel).items() <= labels.items()
        scorer_sel = _one(docs, kind)["spec"]["selector"]
        assert not scorer_sel.get("matchLabels", scorer_sel).items() <= labels.items()
    res, docs = template("--set", "monitor.enabled=false")
    assert res.returncode == 0, res.stderr
    assert not [d for d in docs if d["metadata"]["name"].endswith("-monitor")]


def test_production_values_render(template, tmp_path):
    values = tmp_path / "prod.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "image": {"repository": "registry.example.com/fraudstream/scorer", "tag": "0.1.0"},
                "replicaCount": 2,
                "liveTopicPartitions": 12,
                "keda": {
                    "enabled": True,
                    "minReplicas": 2,
                    "maxReplicas": 12,
                    "lagThreshold": 5000,
                },
                "security": {"kafka": {"existingSecret": "kafka-credentials"}},
                "trainer": {"schedule": "0 */6 * * *", "since": "2d"},
                "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus"}},
            }
        )
    )
    res, docs = template("-f", values, release="prod")
    assert res.returncode == 0, res.stderr
    for doc in docs:
        _validate(doc)
    kinds = {d["kind"] for d in docs}
    assert "PersistentVolumeClaim" not in kinds  # models come from the topic
    deploy = _one(docs, "Deployment")
    assert deploy["metadata"]["name"] == "prod-fraudstream-scorer"
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kafka-credentials"]["secret"]["secretName"] == "kafka-credentials"
    assert (
        _one(docs, "TriggerAuthentication")["metadata"]["name"] == "prod-fraudstream-scorer-kafka"
    )
    cron = _one(docs, "CronJob")
    assert cron["spec"]["schedule"] == "0 */6 * * *"
    (trainer,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert trainer["args"] == ["train", "--since", "2d"]
    assert _one(docs, "ScaledObject")["spec"]["maxReplicaCount"] == 12
    assert _one(docs, "PrometheusRule")["metadata"]["labels"]["release"] == "kube-prometheus"


def test_optional_parts_can_be_switched_off(template):
    res, docs = template(
        "--set", "keda.enabled=false", "--set", "podMonitor.enabled=false",
        "--set", "prometheusRule.enabled=false", "--set", "podDisruptionBudget.enabled=false",
        "--set", "grafanaDashboard.enabled=false", "--set", "trainer.enabled=false",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert {d["kind"] for d in docs} == {"ConfigMap", "Deployment", "Service"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "replicaCount=three"], "replicaCount"),
        (["--set", "env.KAFKA_BOOTSTRAP=x"], "KAFKA_BOOTSTRAP"),
        (["--set", "env.FRAUDSTREAM_LOG_LEVEL=LOUD"], "FRAUDSTREAM_LOG_LEVEL"),
        (["--set", "keda.maxReplicas=8"], "keda.maxReplicas (8) exceeds liveTopicPartitions (4)"),
        (["--set", "keda.minReplicas=3", "--set", "keda.maxReplicas=2"], "keda.minReplicas (3)"),
        (["--set", "replicaCount=5"], "replicaCount (5) exceeds liveTopicPartitions (4)"),
        (["--set", "podMonitr.enabled=true"], "podMonitr"),
        (["--set", "env.FRAUDSTREAM_MODEL_STORE=directory"], "FRAUDSTREAM_MODEL_STORE"),
        (["--set", "security.kafka.protocol=PLAINTEXT"], "protocol"),
        (["--set", "models.existingClaim=shared"], "models"),
        (["--set-string", "monitor.env.FRAUDSTREAM_SCORER_GROUP=x"], "FRAUDSTREAM_MONITOR_"),
        (["--set", "monitor.port=0"], "/monitor/port"),
    ],
)
def test_bad_values_fail_with_a_clear_message(template, args, message):
    res, _ = template(*args)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
