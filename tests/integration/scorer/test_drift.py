"""Drift on a real broker: the scorer's PSI gauges stay quiet on traffic like the training
population, and a feature shifted in the producer (`fraudstream produce --shift V4=3`) raises
its PSI above the alert level (0.25) while every other feature stays below."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.model import NumpyModel
from fraudstream.model.store import save_model, write_latest
from fraudstream.producer.synthetic import generate_arrays
from fraudstream.testing.scorer import pca_model
from fraudstream.testing.wait import wait_until
from fraudstream.trainer.reference import drift_reference

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ALERT = 0.25  # FraudstreamFeatureDrift's level (deploy/prometheus/rules/alerts.yml)
_PSI = re.compile(r'^fraudstream_drift_psi\{feature="([^"]+)"\} (\S+)$')


def _psi(url: str) -> tuple[dict[str, float], float]:
    text = httpx.get(url, timeout=5).text
    values = {m[1]: float(m[2]) for ln in text.splitlines() if (m := _PSI.match(ln))}
    events = next(float(ln.split()[-1]) for ln in text.splitlines()
                  if ln.startswith("fraudstream_drift_window_events "))  # fmt: skip
    return values, events


def _produce(bootstrap: str, topic: str, tmp_path: Path, seed: int, first_id: int,
             *extra: str) -> None:  # fmt: skip
    env = {**os.environ, "FRAUDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
           "FRAUDSTREAM_DATA_DIR": str(tmp_path / "state")}  # fmt: skip
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "produce", "--no-progress", "--synthetic", "5000",
         "--seed", str(seed), "--first-id", str(first_id), "--no-users", "--topic", topic,
         "--start", "now", *extra],
        env=env, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_a_shifted_feature_raises_its_psi_and_only_its(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    model_dir: Path,
    run_scorer: Callable[..., Any],
    tmp_path: Path,
) -> None:
    x, _time, _y = generate_arrays(20_000, seed=3)
    manifest, weights = pca_model(x)
    scores = NumpyModel(manifest, weights).score(x)
    ref = drift_reference(x, FEATURE_COLUMNS, scores)
    manifest = manifest.model_copy(update={"drift_reference": ref})
    save_model(model_dir, manifest, weights)
    write_latest(model_dir, manifest.version)

    source = topic_factory("src", partitions=2)
    rs = run_scorer(input_format="json", topic=source, drift_window=5000, drift_min_events=2000,
                    lag_interval_s=0.5)  # fmt: skip
    rs.wait_ready()
    url = rs.url("/metrics")

    _produce(kafka_bootstrap, source, tmp_path, 11, 0)
    quiet, _ = wait_until(
        lambda: _psi(url),
        90,
        "PSI over a full drift window",
        done=lambda r: bool(r[0]) and r[1] >= 5000,
        interval=0.5,
    ).value
    assert set(quiet) == {*FEATURE_COLUMNS, "score"}
    assert max(quiet.values()) < 0.1, quiet

    _produce(kafka_bootstrap, source, tmp_path, 12, 5000, "--shift", "V4=3")
    wait_until(
        lambda: (rs.scorer.totals.scored, _psi(url)),
        90,
        "10,000 scored and V4's PSI over the alert level",
        done=lambda r: r[0] >= 10_000 and r[1][0].get("V4", 0) > ALERT,
        interval=0.5,
    )
    time.sleep(1.0)  # one more export after the last batch
    drifted, events = _psi(url)
    assert events == 5000 and rs.scorer.totals.scored == 10_000
    assert drifted["V4"] > ALERT, drifted
    # every other feature stays below (the score may move: V4 feeds the model)
    others = {k: v for k, v in drifted.items() if k not in ("V4", "score")}
    assert max(others.values()) < ALERT, others
