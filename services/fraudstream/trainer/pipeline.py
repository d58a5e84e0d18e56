"""One training run: split, scale, fit, score, threshold, evaluate, save, publish.

Scores used for the threshold and the evaluation come from `NumpyModel`, the exact code
the scorer serves with; Keras' own reconstruction is only used to check parity. Nothing
touches `models/LATEST` until the artifact is complete on disk.
"""

from __future__ import annotations

import itertools
import logging
import platform
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model import (
    ModelManifest,
    NumpyModel,
    ScoreSpec,
    make_version,
    save_model,
    write_latest,
)
from fraudstream.trainer import card, evaluate
from fraudstream.trainer.data import Dataset
from fraudstream.trainer.errors import TrainerError
from fraudstream.trainer.features import feature_spec, fit_preprocessing, raw_inputs_matrix
from fraudstream.trainer.network import (
    keras_reconstruct,
    layer_specs,
    merged_specs,
    train_autoencoder,
)
from fraudstream.trainer.scoring import fit_score
from fraudstream.trainer.settings import TrainerSettings
from fraudstream.trainer.splits import time_split
from fraudstream.trainer.threshold import choose_threshold

log = logging.getLogger(__name__)

# Keras (float32) and NumPy (float64) scores must agree to this relative tolerance.
PARITY_RTOL = 1e-5


@dataclass
class TrainOutcome:
    version: str
    path: Path
    manifest: ModelManifest
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    test_scores: dict[str, np.ndarray] = field(default_factory=dict)
    test_labels: np.ndarray | None = None
    val_scores: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    log_dir: Path | None = None


def run_training(
    data: Dataset,
    settings: TrainerSettings,
    model_dir: Path,
    publish: bool = True,
) -> TrainOutcome:
    """Train on `data`, write `model_dir/<version>/`, and point LATEST at it if `publish`."""
    t_start = time.monotonic()
    log.info("data: %s", data.summary())
    if data.skipped:
        log.warning(
            "skipped %d rows: %s",
            sum(data.skipped.values()),
            ", ".join(f"{k}={v}" for k, v in sorted(data.skipped.items())),
        )
    split = time_split(
        data.time,
        data.label,
        val_fraction=settings.val_fraction,
        test_fraction=settings.test_fraction,
        use_unlabeled=settings.use_unlabeled,
        frauds_in_val=settings.threshold_strategy == "precision",
        min_normal_rows=settings.min_normal_rows,
    )
    log.info("split (time-ordered): %s", split.sizes())
    raw = data.raw
    pre = fit_preprocessing(raw[split.train], settings.hour_features)
    features, _, _ = feature_spec(settings.hour_features)
    member_layers = layer_specs(len(features), settings.encoder_units, settings.activation)
    layers = merged_specs(member_layers, settings.ensemble)

    # A placeholder manifest gives us the serving code path (NumpyModel) for preprocessing.
    base = dict(
        version="19700101T000000Z-00000000",
        features=features,
        preprocessing=pre,
        layers=layers,
        threshold=0.0,
        threshold_strategy=settings.threshold_strategy,
    )
    probe = ModelManifest(**base)
    raw_inputs = probe.raw_inputs
    x_train = _preprocess(probe, raw, split.train, raw_inputs)
    x_val = _preprocess(probe, raw, split.val, raw_inputs)

    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-seed{settings.seed}"
    log_dir = settings.log_dir / run_id if settings.log_dir else None
    log.info(
        "training %s%s on %d rows (%d features), up to %d epochs; TensorBoard: %s",
        f"{settings.ensemble} x " if settings.ensemble > 1 else "",
        "-".join(str(s.units) for s in member_layers),
        len(x_train),
        len(features),
        settings.epochs,
        log_dir,
    )
    result = train_autoencoder(x_train, x_val, member_layers, settings, log_dir)
    log.info(
        "trained %d epochs (best %d) in %.1fs, %.0f rows/s",
        result.epochs_run,
        result.best_epoch,
        result.seconds,
        result.rows_per_second,
    )

    plain = NumpyModel(ModelManifest(**base), result.weights)
    train_err = x_train - plain.reconstruct(x_train)
    val_normal = x_val[data.label[split.val] == 0]
    score_spec = fit_score(
        settings.score,
        train_err,
        settings.covariance,
        settings.seed,
        val_errors=val_normal - plain.reconstruct(val_normal),
    )
    scored = NumpyModel(
        ModelManifest(**{**base, "score": score_spec}),
        result.weights,
    )

    val_scores = scored.score(raw_inputs_matrix(raw[split.val], raw_inputs))
    val_labels = data.label[split.val]
    test_raw = raw_inputs_matrix(raw[split.test], raw_inputs)
    test_scores = scored.score(test_raw)
    test_labels = data.label[split.test]
    parity = _parity(scored, result.model, test_raw)

    weight_val = evaluate.normal_weight(val_labels, settings.prevalence)
    threshold, params = choose_threshold(settings, val_scores, val_labels, weight_val)
    log.info("threshold (%s %s): %.6g", settings.threshold_strategy, params, threshold)

    weight = evaluate.normal_weight(test_labels, settings.prevalence)
    metrics = _evaluate(
        settings, x_train, raw, split.test, raw_inputs, probe, test_scores, test_labels, weight
    )
    metrics["at_threshold"] = evaluate.threshold_metrics(
        test_scores, test_labels, threshold, weight
    )
    metrics["validation"] = {
        "fpr_at_threshold": float((val_scores[val_labels == 0] > threshold).mean()),
        "rows": len(split.val),
    }
    metrics["parity_max_rel_diff"] = parity
    metrics["split"] = split.sizes()
    metrics["normal_weight"] = weight
    metrics["training"] = {
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
        "rows_per_second": result.rows_per_second,
        "final_loss": result.history["loss"][-1],
        "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
    }

    summary = _summary(metrics)
    training = _training_info(settings, data, split.sizes(), result, time.monotonic() - t_start)
    payload = {
        **{k: v for k, v in base.items() if k != "version"},
        "preprocessing": pre.model_dump(),
        "layers": [s.model_dump() for s in layers],
        "score": score_spec.model_dump(),
        "threshold": threshold,
        "lineage": data.lineage,
    }
    version = make_version(result.weights, payload)
    manifest = ModelManifest(
        version=version,
        features=features,
        preprocessing=pre,
        layers=layers,
        threshold=threshold,
        threshold_strategy=settings.threshold_strategy,
        threshold_params=params,
        score=score_spec,
        metrics=summary,
        input_schema_fingerprint=data.schema_fingerprint,
        lineage=data.lineage,
        training=training,
    )
    metrics["version"] = version
    path = _save(model_dir, manifest, result, metrics)
    if publish:
        write_latest(model_dir, version)
        log.info("published %s (models/LATEST updated)", version)
    return TrainOutcome(
        version=version,
        path=path,
        manifest=manifest,
        metrics=metrics,
        history=result.history,
        test_scores={"autoencoder": test_scores, **metrics.pop("_baseline_scores", {})},
        test_labels=test_labels,
        val_scores=val_scores,
        val_labels=val_labels,
        log_dir=log_dir,
    )


def _preprocess(
    probe: ModelManifest, raw: np.ndarray, idx: np.ndarray, raw_inputs: list[str]
) -> np.ndarray:
    return NumpyModel(probe, _identity_weights(probe)).preprocess(
        raw_inputs_matrix(raw[idx], raw_inputs)
    )


def _identity_weights(m: ModelManifest) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights of the right shapes (values unused: only preprocess() is called)."""
    dims = [len(m.features), *(s.units for s in m.layers)]
    return [(np.zeros((i, o)), np.zeros(o)) for i, o in itertools.pairwise(dims)]


def _parity(model: NumpyModel, keras_model: Any, raw_inputs: np.ndarray) -> float:
    """Max relative difference between Keras' and NumPy's scores (error above tolerance)."""
    x = model.preprocess(raw_inputs)
    k_scores = model.errors_from_reconstruction(x, keras_reconstruct(keras_model, x)).mean(axis=1)
    n_scores = model.errors_from_reconstruction(x, model.reconstruct(x)).mean(axis=1)
    diff = float(np.max(np.abs(k_scores - n_scores) / np.maximum(1.0, np.abs(n_scores))))
    if diff > PARITY_RTOL:
        raise TrainerError(
            f"NumPy and Keras scores differ by {diff:.2e} (> {PARITY_RTOL:g}): not saving"
        )
    return diff


def _evaluate(
    settings: TrainerSettings,
    x_train: np.ndarray,
    raw: np.ndarray,
    test_idx: np.ndarray,
    raw_inputs: list[str],
    probe: ModelManifest,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
    weight: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "test": {"rows": len(test_labels), "frauds": int((test_labels == 1).sum())}
    }
    if (test_labels == 1).sum() == 0:
        log.warning("the test split has no frauds: ranking metrics are undefined")
        out["autoencoder"] = {}
        return out
    out["autoencoder"] = evaluate.ranking_metrics(test_scores, test_labels, weight)
    if settings.baselines:
        x_test = _preprocess(probe, raw, test_idx, raw_inputs)
        base = evaluate.baseline_scores(x_train, x_test, settings.seed)
        out["baselines"] = {
            k: evaluate.ranking_metrics(v, test_labels, weight) for k, v in base.items()
        }
        out["_baseline_scores"] = base
    return out


def _summary(metrics: dict[str, Any]) -> dict[str, float | int | None]:
    ae = metrics.get("autoencoder", {})
    at = metrics.get("at_threshold", {})
    keys = ("roc_auc", "average_precision", "weighted_average_precision")
    out: dict[str, float | int | None] = {f"test_{k}": ae.get(k) for k in keys}
    out["test_recall_at_fpr_0.01"] = ae.get("recall_at_fpr_0.01")
    out["test_recall_at_fpr_0.001"] = ae.get("recall_at_fpr_0.001")
    out["test_precision_at_threshold"] = at.get("precision")
    out["test_recall_at_threshold"] = at.get("recall")
    out["test_fpr_at_threshold"] = at.get("fpr")
    return out


def _training_info(
    settings: TrainerSettings,
    data: Dataset,
    sizes: dict[str, int],
    result: Any,
    seconds: float,
) -> dict[str, Any]:
    import keras
    import sklearn

    from fraudstream.trainer.tf_runtime import tensorflow

    return {
        "seed": settings.seed,
        "epochs_max": settings.epochs,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "patience": settings.patience,
        "encoder_units": settings.encoder_units,
        "ensemble": settings.ensemble,
        "score": settings.score,
        "covariance": settings.covariance,
        "activation": settings.activation,
        "hour_features": settings.hour_features,
        "use_unlabeled": settings.use_unlabeled,
        "rows": len(data),
        "split": sizes,
        "skipped": dict(data.skipped),
        "train_seconds": round(result.seconds, 3),
        "total_seconds": round(seconds, 3),
        "tensorflow": tensorflow().__version__,
        "keras": keras.__version__,
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _save(model_dir: Path, manifest: ModelManifest, result: Any, metrics: dict[str, Any]) -> Path:
    import json

    clean = {k: v for k, v in metrics.items() if not k.startswith("_")}
    with tempfile.TemporaryDirectory(prefix="fraudstream-keras-") as tmp:
        keras_path = Path(tmp) / "model.keras"
        result.model.save(keras_path)
        return save_model(
            model_dir,
            manifest,
            result.weights,
            keras_path=keras_path,
            extra_files={
                "metrics.json": json.dumps(clean, indent=2, default=float) + "\n",
                "README.md": card.model_card(manifest, clean),
            },
        )


__all__ = ["ScoreSpec", "TrainOutcome", "run_training"]
