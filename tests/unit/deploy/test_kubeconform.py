"""Every Kubernetes manifest (the kustomize overlays, the Helm chart with and without
credentials) passes kubeconform -strict against the Kubernetes schemas and the operators'
own CRD schemas (KEDA ScaledObject/TriggerAuthentication, Prometheus Operator PodMonitor/
PrometheusRule); no workload mounts a ReadWriteMany volume (models travel through Kafka);
KEDA cannot scale up before a model is loaded; credentials come from Secrets, as files."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
CHART = ROOT / "deploy" / "helm" / "fraudstream-scorer"
WORKLOADS = {"Deployment", "Job", "CronJob", "StatefulSet", "DaemonSet"}
HELM_SECURE = [
    "--set", "security.kafka.existingSecret=fraudstream-kafka",
    "--set", "security.registry.existingSecret=fraudstream-registry",
    "--set", "security.ksqldb.existingSecret=fraudstream-ksqldb",
]  # fmt: skip
SOURCES = ["base", "overlays/dev", "overlays/prod", "helm", "helm-secure"]


@pytest.fixture(scope="module")
def render(run) -> Callable[[str], str]:
    """YAML text of one source: a kustomize directory, or the chart (helm template)."""
    kubectl, kustomize, helm = (shutil.which(t) for t in ("kubectl", "kustomize", "helm"))
    cache: dict[str, str] = {}

    def _render(source: str) -> str:
        if source not in cache:
            if source.startswith("helm"):
                if helm is None:
                    pytest.skip("helm is not installed (scripts/bootstrap test installs it)")
                extra = HELM_SECURE if source == "helm-secure" else []
                argv = [helm, "template", "fraudstream-scorer", CHART, "--namespace", "fraud",
                        "--kube-version", "1.30.0", *extra]  # fmt: skip
            elif kubectl is not None:
                argv = [kubectl, "kustomize", K8S / source]
            elif kustomize is not None:
                argv = [kustomize, "build", K8S / source]
            else:
                pytest.skip("neither kubectl nor kustomize is installed")
            res = run(argv, timeout=120)
            assert res.returncode == 0, f"{source}: {res.stderr}"
            cache[source] = res.stdout
        return cache[source]

    return _render


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _pods(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        if d["kind"] in WORKLOADS:
            spec = d["spec"]["jobTemplate"]["spec"] if d["kind"] == "CronJob" else d["spec"]
            yield f"{d['kind']}/{d['metadata']['name']}", spec["template"]["spec"]


def _summary(out: str) -> dict[str, int]:
    m = re.search(
        r"Summary: (\d+) resources? found .* Valid: (\d+), Invalid: (\d+), Errors: (\d+), "
        r"Skipped: (\d+)",
        out,
    )
    assert m, out
    keys = ["found", "valid", "invalid", "errors", "skipped"]
    return dict(zip(keys, map(int, m.groups()), strict=True))


@pytest.mark.parametrize("source", SOURCES)
def test_every_resource_passes_kubeconform_with_the_crd_schemas(render, kubeconform, source):
    text = render(source)
    res = kubeconform(text)
    assert res.returncode == 0, res.stdout + res.stderr
    n = len(_docs(text))
    assert _summary(res.stdout) == {"found": n, "valid": n, "invalid": 0, "errors": 0, "skipped": 0}
    kinds = {d["kind"] for d in _docs(text)}
    assert {"ScaledObject", "PodMonitor", "PrometheusRule"} <= kinds  # the CRDs were checked
    if source in ("overlays/prod", "helm-secure"):
        assert "TriggerAuthentication" in kinds


def _break(docs: list[dict[str, Any]], kind: str, edit: Callable[[dict[str, Any]], None]) -> str:
    docs = copy.deepcopy(docs)
    edit(next(d for d in docs if d["kind"] == kind))
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize(
    ("kind", "edit", "message"),
    [
        ("Deployment", lambda d: d["spec"].update(replicas="three"), "replicas"),
        ("CronJob", lambda d: d["spec"].update(schedul="@daily"), "schedul"),
        ("ScaledObject", lambda d: d["spec"].update(maxReplicas=3), "maxReplicas"),
        ("PodMonitor", lambda d: d["spec"].update(podMetricsEndpoint=[]), "podMetricsEndpoint"),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0].pop("name"), "name"),
        (
            "TriggerAuthentication",
            lambda d: d["spec"]["secretTargetRef"][0].pop("key"),
            "key",
        ),
    ],
)
def test_kubeconform_refuses_what_the_api_server_or_an_operator_would(
    render, kubeconform, kind, edit, message
):
    docs = _docs(render("overlays/prod"))
    res = kubeconform(_break(docs, kind, edit))
    assert res.returncode != 0
    assert _summary(res.stdout)["invalid"] == 1
    assert message in res.stdout, res.stdout


@pytest.mark.parametrize("source", SOURCES)
def test_no_workload_mounts_a_read_write_many_volume(render, source):
    docs = _docs(render(source))
    claims = {
        d["metadata"]["name"]: d["spec"]["accessModes"]
        for d in docs
        if d["kind"] == "PersistentVolumeClaim"
    }
    assert not [n for n, modes in claims.items() if "ReadWriteMany" in modes]
    pods = dict(_pods(docs))
    assert {"Deployment", "Job", "CronJob"} <= {name.split("/")[0] for name in pods}
    for name, pod in pods.items():
        for vol in pod.get("volumes", []):
            if "persistentVolumeClaim" in vol:
                claim = vol["persistentVolumeClaim"]["claimName"]
                assert claim in claims, f"{name}: claim {claim} of unknown access mode"
                assert "ReadWriteMany" not in claims[claim], f"{name} mounts RWX {claim}"
            eph = vol.get("ephemeral", {}).get("volumeClaimTemplate", {}).get("spec", {})
            assert "ReadWriteMany" not in eph.get("accessModes", []), name


@pytest.mark.parametrize("source", SOURCES)
def test_models_come_from_the_topic_and_a_trainer_job_and_cronjob_publish_them(render, source):
    docs = _docs(render(source))
    (config,) = [
        d for d in docs if d["kind"] == "ConfigMap" and "grafana" not in d["metadata"]["name"]
    ]
    assert config["data"]["FRAUDSTREAM_MODEL_STORE"] == "topic"
    assert config["data"]["FRAUDSTREAM_TOPIC_MODEL_STORE"]
    pods = dict(_pods(docs))
    trainers = {n: p for n, p in pods.items() if p["containers"][0]["name"] == "trainer"}
    assert sorted(n.split("/")[0] for n in trainers) == ["CronJob", "Job"]
    for pod in trainers.values():
        (c,) = pod["containers"]
        assert c["args"][0] == "train" and c["image"].startswith("fraudstream-trainer:")
        assert c["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True
    (cron,) = [d for d in docs if d["kind"] == "CronJob"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize("source", SOURCES)
def test_keda_keeps_one_replica_until_a_model_is_loaded(render, source):
    """Scorers join the group only with a model; before the group's first commit KEDA must
    count its lag as 0 (offsetResetPolicy=latest + scaleToZeroOnInvalidOffset), not as the
    whole topic (earliest), or it would scale up pods that cannot score yet."""
    (scaled,) = [d for d in _docs(render(source)) if d["kind"] == "ScaledObject"]
    assert scaled["spec"]["minReplicaCount"] >= 1
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["offsetResetPolicy"] == "latest"
    assert trigger["metadata"]["scaleToZeroOnInvalidOffset"] == "true"


@pytest.mark.parametrize("source", ["overlays/prod", "helm-secure"])
def test_credentials_come_from_secrets_as_files(render, source):
    docs = _docs(render(source))
    (config,) = [
        d for d in docs if d["kind"] == "ConfigMap" and "grafana" not in d["metadata"]["name"]
    ]
    for name, pod in _pods(docs):
        (c,) = pod["containers"]
        env = {e["name"]: e for e in c.get("env", [])}
        settings = {**config["data"], **{k: e.get("value") for k, e in env.items()}}
        assert settings["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        for var, secret in (
            ("FRAUDSTREAM_KAFKA_SASL_USERNAME", "fraudstream-kafka"),
            ("FRAUDSTREAM_KSQL_USERNAME", "fraudstream-ksqldb"),
        ):
            ref = env[var]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret, "username"), name
        # every secret value is a file on a read-only secret volume, never an env value
        assert not [k for k in settings if re.search(r"PASSWORD$|USER_INFO$|SECRET$", k)]
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        secret_vols = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
        for var in (
            "FRAUDSTREAM_KAFKA_SASL_PASSWORD_FILE",
            "FRAUDSTREAM_KAFKA_SSL_CA_LOCATION",
            "FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO_FILE",
            "FRAUDSTREAM_KSQL_PASSWORD_FILE",
        ):
            directory = str(Path(settings[var]).parent)
            assert directory in mounts, f"{name}: {var} -> {settings[var]} is not mounted"
            assert mounts[directory]["readOnly"] is True
            assert mounts[directory]["name"] in secret_vols, f"{name}: {var} not from a Secret"
            assert secret_vols[mounts[directory]["name"]]["defaultMode"] == 0o400
    (scaled,) = [d for d in docs if d["kind"] == "ScaledObject"]
    (auth,) = [d for d in docs if d["kind"] == "TriggerAuthentication"]
    assert scaled["spec"]["triggers"][0]["authenticationRef"]["name"] == auth["metadata"]["name"]
    params = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(params) == {"sasl", "username", "password", "tls", "ca"}
    assert {r["name"] for r in params.values()} == {"fraudstream-kafka"}


@pytest.mark.parametrize("source", ["overlays/dev", "helm"])
def test_a_plaintext_cluster_needs_no_secret(render, source):
    docs = _docs(render(source))
    assert "TriggerAuthentication" not in {d["kind"] for d in docs}
    for name, pod in _pods(docs):
        assert not [v for v in pod["volumes"] if "secret" in v], name
        (c,) = pod["containers"]
        assert not [e for e in c.get("env", []) if "valueFrom" in e], name
