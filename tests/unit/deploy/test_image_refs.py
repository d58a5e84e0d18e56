"""One image name and tag everywhere: every image compose, kustomize and Helm run is one
`make images` builds (deploy/docker/<name>.Dockerfile -> fraudstream-<name>), with the one
IMAGE_TAG default (the package version), so what is built is what is deployed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy" / "docker"
WORKLOADS = {"Deployment", "Job", "CronJob", "StatefulSet", "DaemonSet"}


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _built() -> set[str]:
    """`name:tag` of every image `make images` builds by default (stand-ins excluded)."""
    names = [p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")]
    return {f"fraudstream-{n}:{_version()}" for n in names if not n.endswith("-local")}


def _pod_images(docs: list[dict[str, Any]]) -> set[str]:
    out = set()
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        spec = d["spec"]
        if d["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        pod = spec["template"]["spec"]
        out |= {c["image"] for c in pod.get("initContainers", []) + pod["containers"]}
    return out


def _render(argv: list[str]) -> list[dict[str, Any]]:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def test_build_script_tags_with_the_package_version():
    script = (DOCKER / "build-images").read_text()
    assert 'IMAGE_TAG=${IMAGE_TAG:-$("$PY" -c' in script and '["version"]' in script
    assert '-t "fraudstream-$name:$IMAGE_TAG"' in script
    assert _built() == {f"fraudstream-{n}:{_version()}" for n in ("scorer", "trainer", "tools")}


def test_compose_runs_the_built_images():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ours = {}
    for name, svc in services.items():
        m = re.fullmatch(r"(fraudstream-[a-z-]+):\$\{IMAGE_TAG:-([^}]+)\}", svc["image"])
        if m:
            ours[name] = f"{m.group(1)}:{m.group(2)}"
        else:
            assert not svc["image"].startswith("fraudstream-"), f"{name}: {svc['image']}"
    assert set(ours.values()) == _built()
    for name, svc in services.items():
        if "build" in svc:
            dockerfile = Path(svc["build"]["dockerfile"]).name.removesuffix(".Dockerfile")
            assert ours[name].startswith(f"fraudstream-{dockerfile}:"), name


@pytest.mark.parametrize("overlay", ["base", "overlays/dev", "overlays/prod"])
def test_kustomize_runs_the_built_images(overlay):
    kubectl = shutil.which("kubectl")
    kustomize = [kubectl, "kustomize"] if kubectl else [shutil.which("kustomize") or "", "build"]
    if not kustomize[0]:
        pytest.skip("neither kubectl nor kustomize is installed")
    images = _pod_images(_render([*kustomize, str(ROOT / "deploy" / "k8s" / overlay)]))
    assert images and images <= _built(), images


def test_helm_runs_the_built_image():
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.19.0)")
    chart = ROOT / "deploy" / "helm" / "fraudstream-scorer"
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"] == _version()
    argv = [helm, "template", "fraudstream-scorer", str(chart), "--kube-version", "1.30.0"]
    images = _pod_images(_render(argv))
    assert images == {f"fraudstream-{n}:{_version()}" for n in ("scorer", "trainer")}
