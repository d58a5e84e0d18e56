"""docker-compose.yml: valid for the Compose Specification and for Debian's docker-compose 1.29,
with the services, health checks, start order and scaling rules the stack relies on."""

from __future__ import annotations

import re
import shutil
import sys
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
    "monitor",
    "prometheus",
    "grafana",
    "grafana-secret",
    "retrain",
    "tools",
}
ONE_SHOT = {"ksql-init", "trainer", "retrain", "grafana-secret"}
MANUAL = {"retrain", "tools"}  # profile "manual": `docker compose run --rm <name> ...` only


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def check_jsonschema() -> str:
    # the test interpreter's own venv first: the test command runs .venv/bin/python without
    # activating the venv, so its scripts are not on PATH
    path = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    path = path or shutil.which("check-jsonschema")
    assert path, "check-jsonschema is not installed (pip: check-jsonschema, in .[dev])"
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
    for name in ("ksql-init", "producer", "trainer", "scorer", "monitor", "retrain", "tools"):
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


SECURE = ROOT / "docker-compose.secure.yml"
SECURE_ENV = {
    "FRAUDSTREAM_KAFKA_BOOTSTRAP": "broker:9093",
    "FRAUDSTREAM_REGISTRY_URL": "https://registry:8081",
    "FRAUDSTREAM_KSQL_URL": "https://ksqldb:8088",
    "FRAUDSTREAM_KAFKA_SASL_USERNAME": "fraudstream",
    "FRAUDSTREAM_KSQL_USERNAME": "fraudstream",
}


def test_grafana_admin_password_is_generated_or_given_never_a_default():
    services = _compose()["services"]
    grafana, init = services["grafana"], services["grafana-secret"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env  # no admin/admin, no password in env
    secret_file = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    mount = next(v for v in grafana["volumes"] if v.startswith("grafana-secret:"))
    assert secret_file.startswith(mount.split(":")[1] + "/") and mount.endswith(":ro")
    assert grafana["depends_on"]["grafana-secret"]["condition"] == "service_completed_successfully"
    assert init["image"] == grafana["image"]  # no other image to pull
    script = init["entrypoint"][2]
    assert "/dev/urandom" in script and "chmod 0400" in script
    assert "admin" not in script.replace("admin_password", "")


def test_grafana_secret_script_generates_once_and_keeps_it(tmp_path, run):
    """The init script, run by sh as compose runs it ($$ unescaped, the volume a temp dir)."""
    script = _compose()["services"]["grafana-secret"]["entrypoint"][2]
    script = (
        script.replace("$$", "$")
        .replace("/secrets/", f"{tmp_path}/")
        .replace("chown 472 $f && ", "")
    )
    env_first = run(["sh", "-c", script, "grafana-secret"])
    assert env_first.returncode == 0, env_first.stderr
    first = (tmp_path / "admin_password").read_text()
    assert len(first) == 24 and first.isalnum()
    assert (tmp_path / "admin_password").stat().st_mode & 0o777 == 0o400
    assert run(["sh", "-c", script, "grafana-secret"]).returncode == 0
    shown = run(["sh", "-c", script, "grafana-secret", "show"])
    assert shown.stdout.strip() == first == (tmp_path / "admin_password").read_text()


def test_prometheus_lifecycle_api_is_off():
    command = _compose()["services"]["prometheus"]["command"]
    assert not [a for a in command if "lifecycle" in a or "admin-api" in a]


def test_secure_override_validates_and_passes_secrets_as_files(docker_compose, run, monkeypatch):
    for k, v in SECURE_ENV.items():
        monkeypatch.setenv(k, v)
    res = run([docker_compose, "-f", COMPOSE, "-f", SECURE, "config"], cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    merged = yaml.safe_load(res.stdout)
    secrets = merged["secrets"]
    for name in ("ksql-init", "producer", "trainer", "scorer", "monitor", "retrain", "tools"):
        svc = merged["services"][name]
        env = svc["environment"]
        assert env["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["FRAUDSTREAM_KAFKA_BOOTSTRAP"] == "broker:9093", name
        assert not [k for k in env if re.search(r"PASSWORD$|USER_INFO$", k)], name
        mounted = {
            f"/run/secrets/{s if isinstance(s, str) else s['source']}" for s in svc["secrets"]
        }
        for var in [k for k in env if k.endswith("_FILE") or k.endswith("_LOCATION")]:
            assert env[var] in mounted, (name, var)
    for spec in secrets.values():
        path = Path(spec["file"])
        assert path.parent == ROOT / "secrets", path
    assert "/secrets/" in (ROOT / ".gitignore").read_text().splitlines()


def test_secure_override_demands_the_cluster_it_points_at(docker_compose, run, monkeypatch):
    for k in SECURE_ENV:
        monkeypatch.delenv(k, raising=False)
    res = run([docker_compose, "-f", COMPOSE, "-f", SECURE, "config"], cwd=ROOT)
    assert res.returncode != 0
    assert "bootstrap servers" in res.stderr or "FRAUDSTREAM_" in res.stderr, res.stderr
