"""Fixtures for the deploy tests: repository paths and the external validators they run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from fraudstream.testing.prometheus import CONTRACT_METRICS

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


# Beyond the contract: the monitor's quality gauges and the scorer's drift gauge (issue 16).
QUALITY_METRICS = {
    "fraudstream_monitor_precision": "gauge",
    "fraudstream_monitor_recall": "gauge",
    "fraudstream_monitor_precision_at_k": "gauge",
    "fraudstream_monitor_precision_weighted": "gauge",
    "fraudstream_monitor_roc_auc": "gauge",
    "fraudstream_monitor_average_precision": "gauge",
    "fraudstream_monitor_label_delay_seconds": "gauge",
    "fraudstream_monitor_unlabelled": "gauge",
    "fraudstream_drift_psi": "gauge",
    "fraudstream_monitor_budget_observed_alerts_per_1000": "gauge",
    "fraudstream_monitor_budget_alerts_per_1000": "gauge",
    "fraudstream_monitor_budget_threshold": "gauge",
}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def contract_metrics() -> dict[str, str]:
    """Metric name -> type, as the scorer must export them."""
    return dict(CONTRACT_METRICS)


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it: {package})")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool", "Debian package prometheus")


@pytest.fixture(scope="session")
def run() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command with a time bound; output captured as text."""

    def _run(
        args: Sequence[str | Path], cwd: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return _run


# The Kubernetes version the manifests are validated for (kubernetes-validate ships its
# schemas), and the CRD schemas converted from the operators' CRDs (schemas/convert_crds.py).
KUBE_VERSION = "1.30.0"
CRD_SCHEMA_DIR = Path(__file__).parent / "schemas" / "crds"


def _standalone(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline `$ref`s to _definitions.json (kubeconform compiles one file per kind)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            name = ref.split("#/$defs/", 1)[1]
            if name in seen:
                raise ValueError(f"recursive schema {name}")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_standalone(defs[name], defs, (*seen, name)), **rest}
        return {k: _standalone(v, defs, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_standalone(x, defs, seen) for x in node]
    return node


@pytest.fixture(scope="session")
def kube_schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Standalone strict schemas of the built-in kinds the manifests use, made from the
    ones kubernetes-validate ships (offline; no schema is downloaded)."""
    import kubernetes_validate

    src = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBE_VERSION}-local-strict"
    )
    defs = json.loads((src / "_definitions.json").read_text())["$defs"]
    out = tmp_path_factory.mktemp("kube-schemas")
    for name in (
        "configmap-v1", "namespace-v1", "secret-v1", "service-v1", "serviceaccount-v1",
        "persistentvolumeclaim-v1", "deployment-apps-v1", "statefulset-apps-v1",
        "daemonset-apps-v1", "job-batch-v1", "cronjob-batch-v1",
        "poddisruptionbudget-policy-v1",
    ):  # fmt: skip
        schema = _standalone(json.loads((src / f"{name}.json").read_text()), defs)
        (out / f"{name}.json").write_text(json.dumps(schema))
    return out


@pytest.fixture(scope="session")
def kubeconform(
    kube_schema_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]]
) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Validate YAML text with kubeconform: -strict, the built-in schemas above, the vendored
    CRD schemas; a kind with no schema is an error (never skipped)."""
    path = shutil.which("kubeconform") or shutil.which(
        "kubeconform", path=str(Path.home() / "go" / "bin")
    )
    if path is None:
        hint = "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0 (scripts/bootstrap)"
        if os.environ.get("CI"):
            pytest.fail(f"kubeconform is not installed: {hint}")
        pytest.skip(f"kubeconform is not installed: {hint}")

    core = f"{kube_schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    crds = f"{CRD_SCHEMA_DIR}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json"

    def validate(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                path, "-strict", "-summary", "-output", "text",
                "-kubernetes-version", KUBE_VERSION,
                "-schema-location", core, "-schema-location", crds, "-",
            ],
            input=text, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    return validate
