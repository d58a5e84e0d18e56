"""The README's first command as a user runs it: `fraudstream up --detach` brings the whole
pipeline up (data from the shared sample, or synthetic), `status` shows every component ready,
scores flow, Prometheus scrapes the scorer, `fraudstream train` while live publishes a version
the scorer switches to without a gap, and `fraudstream down` leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fraudstream.local.liveview import scrape
from fraudstream.local.topics import topic_count
from fraudstream.testing.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, stdout_only: bool = False
) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert res.returncode == 0, f"fraudstream {' '.join(args)} failed:\n{res.stderr[-3000:]}"
    return res.stdout if stdout_only else res.stdout + res.stderr  # -o json: data on stdout


def test_up_status_retrain_down(tmp_path: Path) -> None:
    data, models = tmp_path / "stack", tmp_path / "models"
    trainer_env = {
        "FRAUDSTREAM_TRAINER_EPOCHS": "20",
        "FRAUDSTREAM_TRAINER_BATCH_SIZE": "256",
        "FRAUDSTREAM_TRAINER_BASELINES": "false",
    }
    cli(
        "up", "--detach", "--free-ports", "--rate", "1000",
        "--data-dir", str(data), "--model-dir", str(models),
        env=trainer_env, timeout=700,
    )  # fmt: skip
    try:
        st = json.loads(cli("status", "-o", "json", "--data-dir", str(data), stdout_only=True))
        comps = {c["name"]: c for c in st["components"]}
        for name in ("kafka", "registry", "ksql", "producer", "scorer"):
            assert comps[name]["running"], name
        for name in ("registry", "ksql", "scorer"):
            assert comps[name]["ready"] is True, name
        ep = st["endpoints"]
        first = (models / "LATEST").read_text().strip()
        metrics = f"{ep['metrics']}/metrics"
        wait_until(
            lambda: scrape(metrics).scored, 120, "scores", done=lambda k: k > 1000, interval=1
        )
        assert scrape(metrics).model_version == first
        if "prometheus" in comps:
            q = f"{ep['prometheus']}/api/v1/query"

            def scraped() -> bool:
                r = httpx.get(q, params={"query": 'up{job="fraudstream-scorer"}'}, timeout=5)
                res = r.json()["data"]["result"]
                return bool(res) and res[0]["value"][1] == "1"

            wait_until(scraped, 60, "Prometheus to scrape the scorer", interval=1)
        # retrain while live, as a user would with the env `status` prints
        env = {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": ep["kafka"],
            "FRAUDSTREAM_REGISTRY_URL": ep["registry"],
            "FRAUDSTREAM_MODEL_DIR": ep["model_dir"],
            "FRAUDSTREAM_TRAINER_LOG_DIR": str(tmp_path / "tb"),
            **trainer_env,
        }
        cli("train", env=env)
        second = (models / "LATEST").read_text().strip()
        assert second != first
        before = scrape(metrics).scored
        wait_until(
            lambda: scrape(metrics).model_version,
            60,
            "the scorer to switch",
            done=lambda v: v == second,
            interval=1,
        )
        m = scrape(metrics)
        assert m.reloads_ok >= 1 and m.reloads_failed == 0
        wait_until(
            lambda: scrape(metrics).scored,
            60,
            "scores after the switch",
            done=lambda k: k > before + 500,
            interval=1,
        )
        # The scorer keeps scoring: read the counter first, then the topic must hold as many.
        scored = scrape(metrics).scored
        wait_until(
            lambda: topic_count(ep["kafka"], "fraud_scores"),
            60,
            f"{scored} scores in the topic",
            done=lambda k: k >= scored,
            interval=1,
        )
    finally:
        out = cli("down", "--data-dir", str(data))
    for name in ("scorer", "ksql", "registry", "kafka"):
        assert f"{name}: stopped" in out
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "status", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 1
