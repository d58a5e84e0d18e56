"""The issue's evaluation protocol over several seeds, for docs/model-report.

`python -m fraudstream.trainer.protocol --csv SAMPLE --seeds 5 --out docs/model-report`
trains one model per seed on the same time-ordered split (nothing is published), then
writes the per-seed and mean metrics of the autoencoder and both baselines, and the full
report (plots) of the first seed.
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

import typer

from fraudstream.logs import setup_logging
from fraudstream.trainer.data import read_csv
from fraudstream.trainer.pipeline import run_training
from fraudstream.trainer.report import write_report
from fraudstream.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
KEYS = ("roc_auc", "weighted_average_precision", "recall_at_fpr_0.01", "recall_at_fpr_0.001")


def run_protocol(csv: Path, seeds: list[int], out: Path | None, **overrides: Any) -> dict[str, Any]:
    """Train once per seed; return {"runs": [...], "mean": {...}, "std": {...}}."""
    data = read_csv(csv)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fraudstream-protocol-") as tmp:
        for i, seed in enumerate(seeds):
            settings = TrainerSettings(seed=seed, log_dir=Path(tmp) / "runs", **overrides)
            outcome = run_training(data, settings, Path(tmp) / "models", publish=False)
            row = {"seed": seed, "epochs_run": outcome.metrics["training"]["epochs_run"]}
            for model, m in [
                ("autoencoder", outcome.metrics["autoencoder"]),
                *outcome.metrics.get("baselines", {}).items(),
            ]:
                row[model] = {k: m[k] for k in KEYS}
            row["at_threshold"] = {
                k: outcome.metrics["at_threshold"][k]
                for k in ("precision", "weighted_precision", "recall", "fpr")
            }
            runs.append(row)
            log.info("seed %d: %s", seed, json.dumps(row["autoencoder"]))
            if i == 0 and out is not None:
                write_report(outcome, out, title=f"{csv.name}, seed {seed}")
    models = [k for k in runs[0] if isinstance(runs[0][k], dict) and "roc_auc" in runs[0][k]]
    mean = {m: {k: statistics.fmean(r[m][k] for r in runs) for k in KEYS} for m in models}
    std = {m: {k: statistics.pstdev([r[m][k] for r in runs]) for k in KEYS} for m in models}
    result = {
        "csv": str(csv),
        "seeds": seeds,
        "settings": overrides,
        "runs": runs,
        "mean": mean,
        "std": std,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "seeds.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(
    csv: Path = typer.Option(..., "--csv"),
    seeds: int = typer.Option(5, "--seeds", min=1),
    out: Path | None = typer.Option(None, "--out"),
    epochs: int = typer.Option(100, "--epochs"),
    hour_features: bool = typer.Option(False, "--hour-features/--no-hour-features"),
    score: str = typer.Option("", "--score", help="Default: the settings' score."),
    batch_size: int = typer.Option(64, "--batch-size"),
    encoder_units: str = typer.Option("", "--encoder-units", help="e.g. 32,16 (default: settings)"),
    ensemble: int = typer.Option(0, "--ensemble", help="Members (default: settings)."),
    covariance: str = typer.Option("", "--covariance", help="classic | robust | both."),
) -> None:
    setup_logging("INFO")
    extra: dict[str, Any] = {}
    if covariance:
        extra["covariance"] = covariance
    if score:
        extra["score"] = score
    if ensemble:
        extra["ensemble"] = ensemble
    if encoder_units:
        extra["encoder_units"] = [int(u) for u in encoder_units.split(",")]
    res = run_protocol(
        csv,
        list(range(seeds)),
        out,
        epochs=epochs,
        hour_features=hour_features,
        batch_size=batch_size,
        **extra,
    )
    for m, vals in res["mean"].items():
        sd = res["std"][m]
        typer.echo(f"{m:20s} " + " ".join(f"{k}={vals[k]:.3f}±{sd[k]:.3f}" for k in KEYS))


if __name__ == "__main__":
    typer.run(main)
