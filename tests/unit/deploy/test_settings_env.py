"""Every FRAUDSTREAM_* variable that compose, the images and the Kubernetes ConfigMap set is a
real setting. pydantic-settings ignores unknown variables, so a typo would otherwise be
silently dropped and the service would run on its default."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class of the project: the modules that call `settings_config(`
    (the one settings pattern, fraudstream/config.py), imported, their BaseSettings."""
    classes: dict[str, type[BaseSettings]] = {}
    for path in sorted((SERVICES / "fraudstream").rglob("*.py")):
        if "settings_config(" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(".".join(path.relative_to(SERVICES).with_suffix("").parts))
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj is not BaseSettings:
                classes[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(classes.values())


def known_variables() -> set[str]:
    names = set()
    for cls in settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def _compose_env() -> dict[str, set[str]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {
        name: {k for k in svc.get("environment", {}) if k.startswith("FRAUDSTREAM_")}
        for name, svc in services.items()
    }


def _configmap_env() -> set[str]:
    """ConfigMap literals, and variables set in pod specs and patches (kustomize, Helm)."""
    out = set()
    for path in (ROOT / "deploy" / "k8s").rglob("kustomization.yaml"):
        doc = yaml.safe_load(path.read_text())
        for gen in doc.get("configMapGenerator", []):
            out |= {lit.split("=", 1)[0] for lit in gen.get("literals", [])}
    for path in [
        *(ROOT / "deploy" / "k8s").rglob("*.yaml"),
        *(ROOT / "deploy" / "helm").rglob("*"),
    ]:
        if path.is_file():
            out |= set(re.findall(r"name: (FRAUDSTREAM_[A-Z0-9_]+)\b", path.read_text()))
    return out


def _secure_compose_env() -> set[str]:
    doc = yaml.safe_load((ROOT / "docker-compose.secure.yml").read_text())
    return {k for k in doc["x-secure-env"] if k.startswith("FRAUDSTREAM_")}


def _dockerfile_env() -> set[str]:
    out = set()
    for path in (ROOT / "deploy" / "docker").glob("*.Dockerfile"):
        out |= set(re.findall(r"\b(FRAUDSTREAM_[A-Z0-9_]+)=", path.read_text()))
    return out


def test_known_variables_cover_the_shared_and_scorer_settings():
    known = known_variables()
    assert {
        "FRAUDSTREAM_KAFKA_BOOTSTRAP",
        "FRAUDSTREAM_SCORER_GROUP",
        "FRAUDSTREAM_TRAINER_EPOCHS",
        "FRAUDSTREAM_PRODUCER_RATE",
        "FRAUDSTREAM_MODEL_STORE",
    } <= known
    assert "FRAUDSTREAM_KAFKA_BOOTSTRAPS" not in known


@pytest.mark.parametrize(
    "source",
    ["compose", "compose-secure", "configmap", "dockerfiles"],
    ids=["compose", "compose-secure", "k8s", "docker"],
)
def test_every_variable_set_is_a_real_setting(source):
    if source == "compose":
        used = set().union(*_compose_env().values())
    elif source == "compose-secure":
        used = _secure_compose_env()
    elif source == "configmap":
        used = _configmap_env()
    else:
        used = _dockerfile_env()
    assert used, source
    unknown = used - known_variables()
    assert not unknown, f"{source} sets variables no settings class reads: {sorted(unknown)}"


def test_ports_agree_between_scorer_and_its_scrapers():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    scorer = compose["services"]["scorer"]
    port = str(scorer["environment"]["FRAUDSTREAM_METRICS_PORT"])
    # The health check lives in the image and follows FRAUDSTREAM_METRICS_PORT (default 8000).
    image = (ROOT / "deploy" / "docker" / "scorer.Dockerfile").read_text()
    assert f"FRAUDSTREAM_METRICS_PORT={port}" in image and f"EXPOSE {port}" in image
    assert "os.environ.get('FRAUDSTREAM_METRICS_PORT'" in image
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "fraudstream-scorer")
    assert {str(sd["port"]) for sd in job["dns_sd_configs"]} == {port}
