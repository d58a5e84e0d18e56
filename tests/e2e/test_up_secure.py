"""`fraudstream up --secure`: the whole pipeline over a SASL_SSL broker and HTTPS + basic auth
registry and KSQL servers (events in, model trained, scores out), while a client without
credentials or with a wrong password is refused by each of them, and no password appears in
any log, metric or status output."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka.admin import wait_for_broker
from fraudstream.kafka.security import KafkaSecurity
from fraudstream.local.liveview import scrape
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDSTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True, text=True, timeout=timeout, env={**clean, **(env or {})},
        check=False,
    )  # fmt: skip


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr[-4000:]
    return res.stdout + res.stderr


def test_up_secure_pipeline_refuses_strangers_and_leaks_nothing(tmp_path: Path) -> None:
    data, models = tmp_path / "stack", tmp_path / "models"
    trainer_env = {
        "FRAUDSTREAM_TRAINER_EPOCHS": "10",
        "FRAUDSTREAM_TRAINER_BATCH_SIZE": "256",
        "FRAUDSTREAM_TRAINER_BASELINES": "false",
    }
    up = run(
        "up", "--secure", "--detach", "--free-ports", "--rate", "1000", "--no-prometheus",
        "--data-dir", str(data), "--model-dir", str(models), env=trainer_env,
    )  # fmt: skip
    outputs = [ok(up)]
    try:
        status = run("status", "-o", "json", "--data-dir", str(data))
        outputs.append(ok(status))
        st = json.loads(status.stdout)
        comps = {c["name"]: c for c in st["components"]}
        for name in ("kafka", "registry", "ksql", "producer", "scorer"):
            assert comps[name]["running"], name
        for name in ("registry", "ksql", "scorer"):
            assert comps[name]["ready"] is True, name
        ep, client_env = st["endpoints"], st["client_env"]
        assert ep["registry"].startswith("https://") and ep["ksql"].startswith("https://")
        assert client_env["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        outputs.append(ok(run("status", "--data-dir", str(data))))  # the table, with env

        # model trained, events in, scores out
        assert (models / "LATEST").read_text().strip()
        metrics = f"{ep['metrics']}/metrics"
        wait_until(
            lambda: scrape(metrics).scored, 180, "scores", done=lambda k: k > 1000, interval=1
        )

        ca = client_env["FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION"]
        tls = ssl.create_default_context(cafile=ca)
        password = Path(client_env["FRAUDSTREAM_KSQL_PASSWORD_FILE"]).read_text().strip()
        kafka_pw = Path(client_env["FRAUDSTREAM_KAFKA_SASL_PASSWORD_FILE"]).read_text().strip()

        # the broker: no credentials, wrong password
        with pytest.raises(KafkaUnavailableError):
            wait_for_broker(ep["kafka"], timeout=8, security=KafkaSecurity({}))
        wrong = KafkaSecurity(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": client_env["FRAUDSTREAM_KAFKA_SASL_MECHANISM"],
                "sasl.username": client_env["FRAUDSTREAM_KAFKA_SASL_USERNAME"],
                "sasl.password": kafka_pw + "-wrong",
                "ssl.ca.location": ca,
            }
        )
        with pytest.raises(KafkaUnavailableError, match="uthentication"):
            wait_for_broker(ep["kafka"], timeout=20, security=wrong)

        # the registry and the KSQL server: no credentials, wrong password, plain HTTP
        for url in (f"{ep['registry']}/subjects", f"{ep['ksql']}/info"):
            assert httpx.get(url, verify=tls, timeout=10).status_code == 401
            bad = httpx.get(url, verify=tls, auth=("fraudstream", password + "x"), timeout=10)
            assert bad.status_code == 401
            good = httpx.get(url, verify=tls, auth=("fraudstream", password), timeout=10)
            assert good.status_code == 200
            with pytest.raises(httpx.HTTPError):
                httpx.get(url.replace("https://", "http://"), timeout=5)
        statement = {"ksql": "DROP STREAM IF EXISTS nothing_here;", "streamsProperties": {}}
        refused = httpx.post(f"{ep['ksql']}/ksql", json=statement, verify=tls, timeout=10)
        assert refused.status_code == 401
        subjects = httpx.get(
            f"{ep['registry']}/subjects", verify=tls, auth=("fraudstream", password), timeout=10
        ).json()
        assert "fraud_scores-value" in subjects

        # a user's command with the env `status` printed reaches the secured stack
        env = {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": ep["kafka"],
            "FRAUDSTREAM_REGISTRY_URL": ep["registry"],
            **client_env,
        }
        outputs.append(ok(run("registry", "subjects", "-o", "json", env=env)))
        outputs.append(scrape_text := httpx.get(metrics, timeout=10).text)
        assert "fraudstream" in scrape_text
        registry_metrics = httpx.get(
            f"{ep['registry']}/metrics", verify=tls, auth=("fraudstream", password), timeout=10
        ).text
        outputs.append(registry_metrics)
    finally:
        outputs.append(ok(run("down", "--data-dir", str(data))))

    secrets = [p.read_text().strip() for p in (data / "secrets").glob("*.password")]
    assert len(secrets) >= 3  # broker's own login, the Kafka client's, the HTTP user's
    logs = [p for p in data.rglob("*.log") if p.is_file()]
    assert any(p.name == "scorer.log" for p in logs) and any(p.name == "server.log" for p in logs)
    texts = [*outputs, *(p.read_text(errors="replace") for p in logs)]
    for secret in secrets:
        leaks = [i for i, t in enumerate(texts) if secret in t]
        assert not leaks, f"a password appears in output/log #{leaks}"
