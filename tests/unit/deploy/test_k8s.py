"""Kubernetes manifests: every overlay renders with `kubectl kustomize`, the built-in kinds
validate (kubernetes-validate, strict), the CRDs (KEDA ScaledObject, PodMonitor) validate
against the operators' own CRD schemas (vendored, schemas/crds; kubeconform runs too, in
test_kubeconform.py), and the pieces agree with each other (selectors, probes, the
ConfigMap, the lag trigger, never more replicas than partitions). Broken overlays fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
KUBE_VERSION = "1.30.0"
OVERLAYS = ["base", "overlays/dev", "overlays/prod"]

CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "PodMonitor", "PrometheusRule"}


def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The schema of a custom resource's CRD (vendored by schemas/convert_crds.py)."""
    name = f"{kind}_{api_version.rsplit('/', 1)[-1]}".lower()
    return dict(
        json.loads((Path(__file__).parent / "schemas" / "crds" / f"{name}.json").read_text())
    )


@pytest.fixture(scope="module")
def kustomize() -> list[str]:
    """`kubectl kustomize` (kubectl >= 1.27 bundles kustomize v5), else `kustomize build`."""
    if path := shutil.which("kubectl"):
        res = subprocess.run(
            [path, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        kustomize_version = json.loads(res.stdout or "{}").get("kustomizeVersion", "")
        if kustomize_version.startswith("v5"):
            return [path, "kustomize"]
    if path := shutil.which("kustomize"):
        return [path, "build"]
    pytest.skip(
        "neither kubectl with kustomize v5 nor kustomize is installed "
        "(go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0)"
    )


@pytest.fixture(scope="module")
def rendered(kustomize, run) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in OVERLAYS:
        res = run([*kustomize, K8S / name])
        assert res.returncode == 0, f"{name}: {res.stderr}"
        out[name] = [d for d in yaml.safe_load_all(res.stdout) if d]
    return out


def _one(docs: list[dict[str, Any]], kind: str, app: str = "scorer") -> dict[str, Any]:
    """The one resource of a kind (the scorer's settings, for ConfigMap; ksql-apply, Job;
    the scorer's Deployment, Service and PodMonitor, or with app="monitor" the monitor's)."""
    found = [d for d in docs if d["kind"] == kind]
    if kind in ("Deployment", "Service", "PodMonitor"):
        found = [d for d in found if d["metadata"]["name"] == f"fraudstream-{app}"]
    if kind == "ConfigMap":
        found = [d for d in found if "grafana" not in d["metadata"]["name"]]
    if kind == "Job":
        found = [d for d in found if d["metadata"]["name"] == "fraudstream-ksql-apply"]
    (doc,) = found
    return doc


def validate(doc: dict[str, Any]) -> None:
    """Built-in kinds against the Kubernetes OpenAPI schema, custom resources against the
    schema of their CRD (unknown keys are errors: a typo such as `maxReplicas` would
    otherwise be ignored by the operator without a word)."""
    if doc["kind"] in CUSTOM_KINDS:
        # no check_schema: the CRDs' patterns are Go regexps (e.g. `^(?i)...`), which Python's
        # re refuses to compile up front; kubeconform (test_kubeconform.py) checks those
        jsonschema.Draft7Validator(crd_schema(doc["kind"], doc["apiVersion"])).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates(rendered, overlay):
    docs = rendered[overlay]
    kinds = sorted(d["kind"] for d in docs)
    # Overlays bring their Namespace, so `kubectl apply -k` works on an empty cluster.
    assert kinds == sorted(
        ([] if overlay == "base" else ["Namespace"])
        + (["TriggerAuthentication"] if overlay == "overlays/prod" else [])
        + [
            "ConfigMap",
            "ConfigMap",
            "CronJob",
            "Deployment",
            "Deployment",
            "Job",
            "Job",
            "PodDisruptionBudget",
            "PodMonitor",
            "PodMonitor",
            "PrometheusRule",
            "ScaledObject",
            "Service",
            "Service",
        ]
    )
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pieces_agree(rendered, overlay):
    docs = rendered[overlay]
    deploy = _one(docs, "Deployment")
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    for kind in ("PodDisruptionBudget", "PodMonitor"):
        assert _one(docs, kind)["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert _one(docs, "Service")["spec"]["selector"].items() <= pod_labels.items()

    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    config = _one(docs, "ConfigMap")
    assert container["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    env = config["data"]
    assert all(k.startswith("FRAUDSTREAM_") for k in env)
    assert ports["metrics"] == int(env["FRAUDSTREAM_METRICS_PORT"])
    assert env["FRAUDSTREAM_BIND_HOST"] == "0.0.0.0"

    probes = {
        k: container[k]["httpGet"] for k in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert all(p["port"] == "metrics" for p in probes.values())
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][part])
    assert deploy["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True

    (endpoint,) = _one(docs, "PodMonitor")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert _one(docs, "PodMonitor")["spec"]["jobLabel"] in pod_labels
    assert pod_labels[_one(docs, "PodMonitor")["spec"]["jobLabel"]] == "fraudstream-scorer"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_monitor_is_one_replica_scraped_as_fraudstream_monitor(rendered, overlay):
    docs = rendered[overlay]
    deploy = _one(docs, "Deployment", "monitor")
    spec = deploy["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"  # one policy at once
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    scorer_labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "PodMonitor", "Service"):  # the scorer's never match
        sel = _one(docs, kind)["spec"]["selector"]
        sel = sel.get("matchLabels", sel)
        assert not sel.items() <= pod_labels.items() and sel.items() <= scorer_labels.items()
    assert _one(docs, "Service", "monitor")["spec"]["selector"].items() <= pod_labels.items()
    monitor = _one(docs, "PodMonitor", "monitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pod_labels[monitor["jobLabel"]] == "fraudstream-monitor"  # the rules' job name

    (c,) = spec["template"]["spec"]["containers"]
    assert c["args"] == ["monitor"]
    assert (
        c["image"] == _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    env = {e["name"]: e.get("value") for e in c["env"]}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == int(env["FRAUDSTREAM_MONITOR_PORT"]) == 8002
    config = _one(docs, "ConfigMap")
    assert c["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    assert config["data"]["FRAUDSTREAM_BIND_HOST"] == "0.0.0.0"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    if overlay == "overlays/prod":  # the secure component reaches the monitor too
        assert "FRAUDSTREAM_KAFKA_SASL_USERNAME" in env
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert "/etc/fraudstream/kafka" in mounts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_follows_the_lag_and_never_exceeds_partitions(rendered, overlay):
    docs = rendered[overlay]
    scaled = _one(docs, "ScaledObject")
    env = _one(docs, "ConfigMap")["data"]
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == _one(docs, "Deployment")["metadata"]["name"]
    partitions = int(scaled["metadata"]["annotations"]["fraudstream.io/live-topic-partitions"])
    assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] <= partitions
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["allowIdleConsumers"] == "false"
    assert meta["topic"] == env["FRAUDSTREAM_TOPIC_LIVE"]
    assert meta["consumerGroup"] == env["FRAUDSTREAM_SCORER_GROUP"]
    assert meta["bootstrapServers"] == env["FRAUDSTREAM_KAFKA_BOOTSTRAP"]
    assert int(meta["lagThreshold"]) > 0


def test_overlays_differ_where_they_should(rendered):
    dev, prod = rendered["overlays/dev"], rendered["overlays/prod"]
    assert _one(dev, "Deployment")["metadata"]["namespace"] == "fraudstream-dev"
    assert _one(dev, "Namespace")["metadata"]["name"] == "fraudstream-dev"
    assert _one(prod, "Namespace")["metadata"]["name"] == "fraudstream"
    for docs in (dev, prod):
        namespaced = [d for d in docs if d["kind"] != "Namespace"]
        ns = _one(docs, "Namespace")["metadata"]["name"]
        assert {d["metadata"]["namespace"] for d in namespaced} == {ns}
    assert _one(prod, "Deployment")["metadata"]["namespace"] == "fraudstream"
    assert _one(dev, "ConfigMap")["data"]["FRAUDSTREAM_LOG_LEVEL"] == "DEBUG"
    image = _one(prod, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":0.1.0")
    assert _one(prod, "ScaledObject")["spec"]["maxReplicaCount"] == 12


def _overlay(tmp_path: Path, patch: str) -> Path:
    (tmp_path / "kustomization.yaml").write_text(
        f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {os.path.relpath(K8S / "base", tmp_path)}
patches:
  - target:
      kind: Deployment
      name: fraudstream-scorer
    patch: |-
{patch}
"""
    )
    return tmp_path


def test_invalid_value_in_an_overlay_fails_validation(kustomize, run, tmp_path):
    overlay = _overlay(
        tmp_path,
        "      - op: replace\n        path: /spec/replicas\n        value: three",
    )
    res = run([*kustomize, overlay])
    assert res.returncode == 0, res.stderr
    deploy = _one(list(yaml.safe_load_all(res.stdout)), "Deployment")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deploy)


def test_misspelt_crd_field_fails_validation(rendered):
    scaled = dict(_one(rendered["base"], "ScaledObject"))
    scaled["spec"] = {**scaled["spec"], "maxReplicas": 3}
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_patch_of_a_missing_path_fails_to_render(kustomize, run, tmp_path):
    overlay = _overlay(
        tmp_path,
        "      - op: replace\n        path: /spec/template/spec/containers/3/image\n"
        "        value: x",
    )
    res = run([*kustomize, overlay])
    assert res.returncode != 0
    assert "missing path: /spec/template/spec/containers/3/image" in res.stderr


def test_prometheus_rule_is_in_sync_with_the_promtool_tested_rules(rendered, run):
    """base/prometheusrule.yaml is generated from deploy/prometheus/rules (sync.py)."""
    res = run([sys.executable, K8S / "sync.py", "--check"])
    assert res.returncode == 0, res.stderr
    groups = []
    for name in ("recording.yml", "alerts.yml"):
        groups += yaml.safe_load((K8S.parent / "prometheus" / "rules" / name).read_text())["groups"]
    for overlay in OVERLAYS:
        assert _one(rendered[overlay], "PrometheusRule")["spec"]["groups"] == groups


def test_stale_prometheus_rule_is_detected(tmp_path, run):
    """The sync check fails when the generated file differs from the rules."""
    for part in ("k8s", "prometheus", "helm", "grafana"):
        shutil.copytree(K8S.parent / part, tmp_path / part)
    check = [sys.executable, tmp_path / "k8s" / "sync.py", "--check"]
    assert run(check).returncode == 0
    rules = tmp_path / "prometheus" / "rules" / "alerts.yml"
    rules.write_text(rules.read_text().replace("> 0.25", "> 0.5"))
    res = run(check)
    assert res.returncode == 1
    assert "out of date" in res.stderr


def test_grafana_dashboard_configmap_is_the_dashboard(rendered):
    dashboard = json.loads((K8S.parent / "grafana" / "dashboards" / "fraudstream.json").read_text())
    for overlay in OVERLAYS:
        (cm,) = [
            d
            for d in rendered[overlay]
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "fraudstream-grafana-dashboard"
        ]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"]["fraudstream.json"]) == dashboard
