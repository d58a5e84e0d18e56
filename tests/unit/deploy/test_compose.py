"""docker-compose.yml: valid for the Compose Specification and for Debian's docker-compose 1.29,
with the services, health checks, start order and scaling rules the stack relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"

SERVICES = {
    "kafka",
    "schema-registry",
    "ksqldb-server",
    "ksqldb-cli",
    "ksql-init",
    "producer",
    "trainer",
    "scorer",
    "prometheus",
    "grafana",
    "retrain",
    "tools",
}
ONE_SHOT = {"ksql-init", "trainer", "retrain"}
MANUAL = {"retrain", "tools"}  # profile "manual": `docker compose run --rm <name> ...` only


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def check_jsonschema() -> str:
    path = shutil.which("check-jsonschema")
    if path is None:
        pytest.skip("check-jsonschema is not installed (pip: check-jsonschema, in .[dev])")
    return path


@pytest.fixture(scope="module")
def docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.skip("docker-compose is not installed (CI installs Debian package docker-compose)")
    return path


def test_compose_spec_schema(check_jsonschema, run):
    res = run([check_jsonschema, "--builtin-schema", "vendor.compose-spec", COMPOSE])
    assert res.returncode == 0, res.stdout + res.stderr


def test_docker_compose_config(docker_compose, run):
    res = run([docker_compose, "-f", COMPOSE, "config"], cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    rendered = yaml.safe_load(res.stdout)
    assert set(rendered["services"]) == SERVICES
    scorer = rendered["services"]["scorer"]
    assert scorer["depends_on"]["ksql-init"]["condition"] == "service_completed_successfully"


def test_invalid_compose_is_rejected(check_jsonschema, docker_compose, run, tmp_path):
    doc = _compose()
    doc["services"]["kafka"]["healthcheck"]["interval"] = {"every": "10s"}
    doc["services"]["scorer"]["depends_on"]["ksql-init"]["condition"] = "service_finished"
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(doc))
    res = run([check_jsonschema, "--builtin-schema", "vendor.compose-spec", bad])
    assert res.returncode != 0
    res = run([docker_compose, "-f", bad, "config"], cwd=tmp_path)
    assert res.returncode != 0
    assert "interval" in res.stderr or "condition" in res.stderr or "service_finished" in res.stderr


def test_all_services_present():
    assert set(_compose()["services"]) == SERVICES


def test_images_are_pinned():
    for name, svc in _compose()["services"].items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        if "build" not in svc:
            assert any(ch.isdigit() for ch in tag), f"{name}: {image!r} needs a version tag"


def test_scorer_is_scalable():
    scorer = _compose()["services"]["scorer"]
    assert "container_name" not in scorer
    assert "ports" not in scorer, "a fixed host port would stop --scale scorer=3"
    assert "8000" in [str(p) for p in scorer["expose"]]
    assert "models:/models:ro" in scorer["volumes"]
    env = scorer["environment"]
    assert env["FRAUDSTREAM_BIND_HOST"] == "0.0.0.0"


def test_long_running_services_have_healthchecks():
    """In the file, or (our images) the Dockerfile's HEALTHCHECK, which compose then uses."""
    for name, svc in _compose()["services"].items():
        if name in ONE_SHOT or name in MANUAL or name in {"producer", "ksqldb-cli"}:
            continue
        if "healthcheck" not in svc:
            dockerfile = ROOT / svc["build"]["dockerfile"]
            assert "\nHEALTHCHECK " in dockerfile.read_text(), name
            continue
        assert svc["healthcheck"]["test"][0] == "CMD", name


def test_start_order_uses_health_and_completion_conditions():
    services = _compose()["services"]
    conditions = {
        (name, dep): spec["condition"]
        for name, svc in services.items()
        for dep, spec in svc.get("depends_on", {}).items()
    }
    for (name, dep), cond in conditions.items():
        assert dep in services, f"{name} depends on unknown {dep}"
        if dep in ONE_SHOT:
            assert cond == "service_completed_successfully", (name, dep)
        elif "healthcheck" in services[dep]:
            assert cond == "service_healthy", (name, dep)
    assert conditions[("schema-registry", "kafka")] == "service_healthy"
    assert conditions[("ksql-init", "ksqldb-server")] == "service_healthy"
    assert conditions[("producer", "ksql-init")] == "service_completed_successfully"


def test_fraudstream_services_are_configured_by_prefixed_env():
    services = _compose()["services"]
    for name in ("ksql-init", "producer", "trainer", "scorer", "retrain", "tools"):
        env = services[name]["environment"]
        assert env["FRAUDSTREAM_KAFKA_BOOTSTRAP"] == "kafka:29092", name
        assert env["FRAUDSTREAM_REGISTRY_URL"] == "http://schema-registry:8081", name
        assert all(k.startswith("FRAUDSTREAM_") for k in env), name
    assert services["ksql-init"]["command"] == ["ksql", "apply", "/ksql"]
    assert "models:/models" in services["trainer"]["volumes"]


def test_host_ports_bind_loopback_only():
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_build_contexts_and_mounts_exist():
    for name, svc in _compose()["services"].items():
        if "build" in svc:
            assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name}: mount source {src} missing"


def test_manual_services_only_run_on_request():
    services = _compose()["services"]
    for name in MANUAL:
        assert services[name]["profiles"] == ["manual"], name
        assert services[name]["restart"] == "no", name
    assert services["retrain"]["command"] == ["train"]
    assert "models:/models" in services["retrain"]["volumes"]


def test_trainer_keeps_an_existing_model():
    """`up` again must not publish a new model: the trainer exits 0 when LATEST exists."""
    trainer = _compose()["services"]["trainer"]
    (script,) = trainer["command"]
    assert trainer["entrypoint"] == ["/bin/sh", "-c"]
    assert script.startswith("if [ -s /models/LATEST ]; then") and "exit 0" in script
    assert script.rstrip().endswith("exec fraudstream train")


def test_kafka_keeps_its_data_in_a_volume_and_ksql_heap_is_bounded():
    services = _compose()["services"]
    kafka = services["kafka"]
    assert f"kafka-data:{kafka['environment']['KAFKA_LOG_DIRS']}" in kafka["volumes"]
    assert "kafka-data" in _compose()["volumes"]
    assert "-Xmx1g" in services["ksqldb-server"]["environment"]["KSQL_HEAP_OPTS"]
