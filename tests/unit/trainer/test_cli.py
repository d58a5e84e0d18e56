"""`fraudstream train --csv`: a full run with a report, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.model import load_model, resolve_latest
from fraudstream.testing.datasets import synthetic_dataset

pytestmark = pytest.mark.timeout(900)  # a shared, loaded machine: training is slow


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", "train", *args],
        capture_output=True,
        text=True,
        timeout=800,
        env={**os.environ, **(env or {})},
    )


def test_train_csv_with_report(csv_file, tmp_path: Path) -> None:
    path = csv_file(synthetic_dataset(1200, seed=9, fraud_rate=0.05))
    res = _run(
        "--csv", str(path), "--epochs", "3", "--seed", "1",
        "--model-dir", str(tmp_path / "m"), "--log-dir", str(tmp_path / "runs"),
        "--report-dir", str(tmp_path / "rep"), "--threshold-strategy", "quantile",
        env={"FRAUDSTREAM_TRAINER_CLASSIFIER_EPOCHS": "5"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "hybrid" in res.stdout and "test ROC-AUC" in res.stdout
    model = load_model(tmp_path / "m")
    assert model.is_hybrid  # 60 labelled frauds: the default trains the hybrid
    assert model.manifest.threshold_strategy == "quantile"
    assert model.manifest.lineage["path"] == str(path)
    assert model.manifest.training["seed"] == 1
    rep = tmp_path / "rep"
    for name in ("metrics.json", "report.md", "roc.png", "pr.png", "score_hist.png", "loss.png"):
        assert (rep / name).stat().st_size > 500, name
    assert (rep / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((rep / "metrics.json").read_text())
    assert metrics["version"] == model.version
    report = (rep / "report.md").read_text()
    assert "isolation_forest" in report and "supervised_only" in report and "hybrid" in report


def test_missing_csv_is_one_clear_line(tmp_path: Path) -> None:
    res = _run("--csv", str(tmp_path / "none.csv"), "--model-dir", str(tmp_path / "m"))
    assert res.returncode == 1
    assert (
        res.stderr.strip().splitlines()[-1]
        == f"error: CSV file {tmp_path / 'none.csv'} does not exist"
    )
    assert resolve_latest(tmp_path / "m") is None


def test_bad_strategy_is_a_config_error(csv_file, tmp_path: Path) -> None:
    res = _run("--csv", str(csv_file()), "--threshold-strategy", "bogus")
    assert res.returncode == 2
    assert "FRAUDSTREAM_TRAINER_THRESHOLD_STRATEGY" in res.stderr


def test_too_few_normals(tmp_path: Path, csv_file) -> None:
    path = csv_file(synthetic_dataset(80, seed=1))
    res = _run("--csv", str(path), "--model-dir", str(tmp_path / "m"), "--log-dir", str(tmp_path))
    assert res.returncode == 1
    assert "for training (minimum 100)" in res.stderr
    assert not (tmp_path / "m" / "LATEST").exists()
