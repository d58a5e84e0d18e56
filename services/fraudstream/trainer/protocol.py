"""The evaluation protocols over several seeds, for docs/model-report.

`python -m fraudstream.trainer.protocol --csv SAMPLE --seeds 5 --out docs/model-report`
trains one model per seed on the same time-ordered split (nothing is published), then
writes the per-seed and mean metrics of the autoencoder and both baselines, and the full
report (plots) of the first seed. That is the first protocol (issue 10): normals split by
time, every fraud in the test set, so it fits unsupervised models only.

`run_labelled_protocol` is the protocol for label-using models (issue 17): all labelled
rows by Time, 60 % train / 20 % validation / 20 % test, each fraud in the period of its
own time. It reports, on the test period, the hybrid, the autoencoder alone, a
supervised-only classifier on the raw features and PCA (and the Isolation Forest), each
with its own threshold chosen on validation, as seed means with stratified bootstrap
intervals over the test rows (`scripts/hybrid_protocol.py` runs both protocols).
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer

from fraudstream.logs import setup_logging
from fraudstream.trainer import bootstrap, evaluate
from fraudstream.trainer.data import read_csv
from fraudstream.trainer.pipeline import TrainOutcome, run_training
from fraudstream.trainer.report import write_report
from fraudstream.trainer.settings import TrainerSettings
from fraudstream.trainer.threshold import choose_threshold

log = logging.getLogger(__name__)
KEYS = ("roc_auc", "weighted_average_precision", "recall_at_fpr_0.01", "recall_at_fpr_0.001")
# The labelled protocol's models, served model first.
MODELS = ("hybrid", "autoencoder", "supervised_only", "pca_reconstruction", "isolation_forest")
LABELLED_KEYS = (*KEYS, "weighted_precision_at_threshold")
BOOTSTRAP_SEED = 20261204


def _map(fn: Any, args: list[tuple[Any, ...]], jobs: int) -> list[Any]:
    """Run `fn(*a)` for each `a`, in `jobs` spawned processes when jobs > 1 (seeds are
    independent; TensorFlow is not fork-safe, hence spawn)."""
    if jobs <= 1 or len(args) <= 1:
        return [fn(*a) for a in args]
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(min(jobs, len(args))) as pool:
        return pool.starmap(fn, args)


def first_protocol_seed(
    csv: Path, seed: int, overrides: dict[str, Any], report_dir: Path | None
) -> dict[str, Any]:
    """One seed of the first protocol: metrics of the autoencoder and the baselines."""
    setup_logging("INFO")
    data = read_csv(csv)
    with tempfile.TemporaryDirectory(prefix="fraudstream-protocol-") as tmp:
        settings = TrainerSettings(seed=seed, log_dir=Path(tmp) / "runs", **overrides)
        outcome = run_training(data, settings, Path(tmp) / "models", publish=False)
        tr = outcome.metrics["training"]
        row: dict[str, Any] = {
            "seed": seed,
            "epochs_run": tr["epochs_run"],
            "best_epoch": tr["best_epoch"],
            "train_seconds": round(tr["seconds"], 1),
        }
        for model, m in [
            ("autoencoder", outcome.metrics["autoencoder"]),
            *outcome.metrics.get("baselines", {}).items(),
        ]:
            row[model] = {k: m[k] for k in KEYS}
        row["at_threshold"] = {
            k: outcome.metrics["at_threshold"][k]
            for k in ("precision", "weighted_precision", "recall", "fpr")
        }
        log.info("seed %d: %s", seed, json.dumps(row["autoencoder"]))
        if report_dir is not None:
            write_report(outcome, report_dir, title=f"{csv.name}, seed {seed}")
    return row


def run_protocol(
    csv: Path, seeds: list[int], out: Path | None, jobs: int = 1, **overrides: Any
) -> dict[str, Any]:
    """Train once per seed; return {"runs": [...], "mean": {...}, "std": {...}}."""
    runs: list[dict[str, Any]] = _map(
        first_protocol_seed,
        [(csv, seed, overrides, out if i == 0 else None) for i, seed in enumerate(seeds)],
        jobs,
    )
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


def labelled_run(outcome: TrainOutcome, settings: TrainerSettings) -> dict[str, Any]:
    """Point metrics of every model on the test period, each at its own validation
    threshold (the settings' strategy), plus training epochs and times."""
    assert outcome.test_labels is not None and outcome.val_labels is not None
    labels = outcome.test_labels
    weight = float(outcome.metrics["normal_weight"])
    weight_val = evaluate.normal_weight(outcome.val_labels, settings.prevalence)
    tr = outcome.metrics["training"]
    clf = tr.get("classifier", {})
    row: dict[str, Any] = {
        "seed": settings.seed,
        "epochs_run": tr["epochs_run"],
        "best_epoch": tr["best_epoch"],
        "train_seconds": round(tr["seconds"], 1),
        "classifier_epochs_run": clf.get("epochs_run"),
        "classifier_best_epoch": clf.get("best_epoch"),
        "classifier_seconds": clf.get("seconds"),
        "thresholds": {},
    }
    for name in MODELS:
        scores = outcome.test_scores[name]
        thr, _ = choose_threshold(
            settings, outcome.val_model_scores[name], outcome.val_labels, weight_val
        )
        m = evaluate.ranking_metrics(scores, labels, weight)
        at = evaluate.threshold_metrics(scores, labels, thr, weight)
        row[name] = {k: m[k] for k in KEYS}
        row[name]["weighted_precision_at_threshold"] = at["weighted_precision"]
        row[name]["recall_at_threshold"] = at["recall"]
        row[name]["fpr_at_threshold"] = at["fpr"]
        row["thresholds"][name] = thr
    return row


def labelled_seed(
    csv: Path, seed: int, overrides: dict[str, Any], report_dir: Path | None
) -> dict[str, Any]:
    """One seed of the labelled protocol: its metrics row and every model's test scores."""
    setup_logging("INFO")
    data = read_csv(csv)
    settings = TrainerSettings(seed=seed, log_dir=None, **overrides)
    with tempfile.TemporaryDirectory(prefix="fraudstream-protocol-") as tmp:
        outcome = run_training(data, settings, Path(tmp) / "models", publish=False)
        if outcome.served != "hybrid":
            raise RuntimeError(f"seed {seed}: no hybrid was trained ({outcome.metrics['frauds']})")
        assert outcome.test_labels is not None
        row = labelled_run(outcome, settings)
        row["frauds"] = outcome.metrics["frauds"]
        row["split"] = outcome.metrics["split"]
        log.info(
            "seed %d: %s",
            seed,
            {m: round(row[m]["weighted_average_precision"], 3) for m in MODELS},
        )
        if report_dir is not None:
            write_report(outcome, report_dir, title=f"{csv.name}, seed {seed}")
    return {
        "row": row,
        "scores": {m: outcome.test_scores[m] for m in MODELS},
        "labels": outcome.test_labels,
        "weight": float(outcome.metrics["normal_weight"]),
    }


def _labelled_seed_to_disk(
    csv: Path, seed: int, overrides: dict[str, Any], report_dir: Path | None, parts: Path
) -> int:
    """Run one seed and keep its result in `parts/` (a long protocol survives a stop)."""
    res = labelled_seed(csv, seed, overrides, report_dir)
    parts.mkdir(parents=True, exist_ok=True)
    np.savez(
        parts / f"seed{seed}.npz",
        labels=res["labels"],
        weight=res["weight"],
        **{f"score_{m}": res["scores"][m] for m in MODELS},
    )
    (parts / f"seed{seed}.json").write_text(json.dumps(res["row"], default=float) + "\n")
    return seed


def load_parts(parts: Path) -> list[dict[str, Any]]:
    """The per-seed results written by `_labelled_seed_to_disk`, by seed."""
    out = []
    for js in sorted(parts.glob("seed*.json"), key=lambda p: int(p.stem[4:])):
        row = json.loads(js.read_text())
        with np.load(js.with_suffix(".npz")) as npz:
            out.append(
                {
                    "row": row,
                    "labels": npz["labels"],
                    "weight": float(npz["weight"]),
                    "scores": {m: npz[f"score_{m}"] for m in MODELS},
                }
            )
    return out


def run_labelled_protocol(
    csv: Path,
    seeds: list[int],
    out: Path | None,
    n_boot: int = 1000,
    jobs: int = 1,
    parts: Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The label-using protocol (module docstring): per-seed metrics, seed means and std,
    bootstrap intervals of the seed means, and paired hybrid-vs-baseline differences.

    With `parts`, each seed's result is written there as it completes, seeds already there
    are not trained again, and the summary covers every seed found there."""
    if parts is None:
        results = _map(
            labelled_seed,
            [
                (csv, seed, overrides, out / "time-split" if out is not None and i == 0 else None)
                for i, seed in enumerate(seeds)
            ],
            jobs,
        )
    else:
        done = {r["row"]["seed"] for r in load_parts(parts)}
        todo = [
            (csv, s, overrides, out / "time-split" if out is not None and i == 0 else None, parts)
            for i, s in enumerate(seeds)
            if s not in done
        ]
        _map(_labelled_seed_to_disk, todo, jobs)
        results = load_parts(parts)
    return summarize_labelled(csv, results, out, n_boot, overrides)


def summarize_labelled(
    csv: Path,
    results: list[dict[str, Any]],
    out: Path | None,
    n_boot: int,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """Seed means, std, bootstrap intervals and paired differences of per-seed results."""
    seeds = [r["row"]["seed"] for r in results]
    runs = [r["row"] for r in results]
    # The test rows do not depend on the seed: every seed and model shares the resamples.
    counts = bootstrap.resample_counts(results[0]["labels"], n_boot, BOOTSTRAP_SEED)
    boots = [
        {
            m: bootstrap.metrics_from_counts(
                r["scores"][m], r["labels"], counts, r["weight"], r["row"]["thresholds"][m]
            )
            for m in MODELS
        }
        for r in results
    ]
    mean = {m: {k: statistics.fmean(r[m][k] for r in runs) for k in LABELLED_KEYS} for m in MODELS}
    std = {
        m: {k: statistics.pstdev([r[m][k] for r in runs]) for k in LABELLED_KEYS} for m in MODELS
    }
    paired = {
        f"hybrid-{b}": {
            k: bootstrap.paired_difference(boots, "hybrid", b, k) for k in LABELLED_KEYS
        }
        for b in ("autoencoder", "supervised_only", "pca_reconstruction")
    }
    result = {
        "protocol": "labelled time split 60/20/20 (issue 17)",
        "csv": str(csv),
        "seeds": seeds,
        "settings": {k: v for k, v in overrides.items()},
        "bootstrap": {"resamples": n_boot, "seed": BOOTSTRAP_SEED, "stratified": True},
        "runs": runs,
        "mean": mean,
        "std": std,
        "interval95": bootstrap.seed_mean_intervals(boots),
        "paired95": paired,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "hybrid-seeds.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


def main(
    csv: Path = typer.Option(..., "--csv"),
    seeds: int = typer.Option(5, "--seeds", min=1),
    out: Path | None = typer.Option(None, "--out"),
    epochs: int = typer.Option(300, "--epochs"),
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
