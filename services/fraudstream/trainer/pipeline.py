"""One training run: split, scale, fit, score, threshold, evaluate, save, publish.

Scores used for the threshold and the evaluation come from `NumpyModel`, the exact code
the scorer serves with; Keras' own outputs are only used to check parity. Nothing
touches `models/LATEST` until the artifact is complete on disk.

With enough labelled frauds in the training period (`hybrid=auto`), the run trains the
hybrid of issue 17 on the labelled time split (all rows by Time, 60/20/20): the
autoencoder on the training period's normals exactly as before, then the supervised part
over the training period's rows (normals and frauds); the hybrid is served. Otherwise
(cold start: no or too few labelled frauds) it is the plain autoencoder of the
normals-only split, unchanged.
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
    HYBRID_FORMAT_VERSION,
    LayerSpec,
    ModelManifest,
    NumpyModel,
    ScoreSpec,
    SupervisedSpec,
    hybrid_score,
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
from fraudstream.trainer.reference import drift_reference
from fraudstream.trainer.scoring import fit_score
from fraudstream.trainer.settings import TrainerSettings
from fraudstream.trainer.splits import Split, frauds_in, labelled_time_split, time_split
from fraudstream.trainer.supervised import (
    ClassifierResult,
    keras_logit,
    standardize_stats,
    train_classifier,
)
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
    served: str = "autoencoder"  # key of the served model in test_scores / metrics
    # Validation scores of every model (served, autoencoder alone, baselines): the
    # protocol chooses each model's own threshold on them.
    val_model_scores: dict[str, np.ndarray] = field(default_factory=dict)


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
    split, hybrid = choose_split(data, settings)
    log.info(
        "split (time-ordered%s): %s; frauds %s",
        ", all labelled rows" if hybrid else ", normals",
        split.sizes(),
        frauds_in(split, data.label),
    )
    raw = data.raw
    label = data.label
    # The autoencoder learns normal behaviour: never from frauds.
    ae_train = split.train[label[split.train] != 1]
    ae_val = split.val[label[split.val] == 0] if hybrid else split.val
    pre = fit_preprocessing(raw[ae_train], settings.hour_features)
    features, _, _ = feature_spec(settings.hour_features)
    member_layers = layer_specs(len(features), settings.encoder_units, settings.activation)
    layers = merged_specs(member_layers, settings.ensemble)

    # A placeholder manifest gives us the serving code path (NumpyModel) for preprocessing.
    base: dict[str, Any] = dict(
        version="19700101T000000Z-00000000",
        features=features,
        preprocessing=pre,
        layers=layers,
        threshold=0.0,
        threshold_strategy=settings.threshold_strategy,
    )
    probe = ModelManifest(**base)
    raw_inputs = probe.raw_inputs
    x_train = _preprocess(probe, raw, ae_train, raw_inputs)
    x_val = _preprocess(probe, raw, ae_val, raw_inputs)

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
    val_normal = x_val[label[ae_val] == 0]
    score_spec = fit_score(
        settings.score,
        train_err,
        settings.covariance,
        settings.seed,
        val_errors=val_normal - plain.reconstruct(val_normal),
    )
    base["score"] = score_spec
    scored = NumpyModel(ModelManifest(**base), result.weights)

    test_raw = raw_inputs_matrix(raw[split.test], raw_inputs)
    test_labels = label[split.test]
    val_labels = label[split.val]
    clf: ClassifierResult | None = None
    sup_spec: SupervisedSpec | None = None
    served = scored
    if hybrid:
        sup_spec, clf = _fit_supervised(
            scored, result.weights, settings, raw, label, split, raw_inputs
        )
        base["supervised"] = sup_spec
        base["format_version"] = HYBRID_FORMAT_VERSION
        served = NumpyModel(ModelManifest(**base), result.weights, clf.weights)

    val_scores = served.score(raw_inputs_matrix(raw[split.val], raw_inputs))
    test_scores = served.score(test_raw)
    parity = _parity(scored, result.model, test_raw)
    if clf is not None:
        parity = max(parity, _parity_hybrid(served, result.model, clf.model, test_raw))

    weight_val = evaluate.normal_weight(val_labels, settings.prevalence)
    threshold, params = choose_threshold(settings, val_scores, val_labels, weight_val)
    log.info("threshold (%s %s): %.6g", settings.threshold_strategy, params, threshold)

    weight = evaluate.normal_weight(test_labels, settings.prevalence)
    val_raw = raw_inputs_matrix(raw[split.val], raw_inputs)
    scores = {"autoencoder": scored.score(test_raw) if hybrid else test_scores}
    val_all = {"autoencoder": scored.score(val_raw) if hybrid else val_scores}
    if hybrid:
        scores = {"hybrid": test_scores, **scores}
        val_all = {"hybrid": val_scores, **val_all}
    base_test: dict[str, np.ndarray] = {}
    if settings.baselines and (test_labels == 1).any():
        ident = NumpyModel(probe, _identity_weights(probe))
        x_test, x_val_all = ident.preprocess(test_raw), ident.preprocess(val_raw)
        for name, f in evaluate.fit_baselines(x_train, settings.seed).items():
            base_test[name], val_all[name] = f(x_test), f(x_val_all)
        if hybrid:
            base_test["supervised_only"], val_all["supervised_only"] = _supervised_only(
                settings, raw, label, split, ident, raw_inputs, (test_raw, val_raw)
            )
    metrics = _evaluate(scores, base_test, test_labels, weight)
    metrics["served"] = "hybrid" if hybrid else "autoencoder"
    metrics["at_threshold"] = evaluate.threshold_metrics(
        test_scores, test_labels, threshold, weight
    )
    metrics["validation"] = {
        "fpr_at_threshold": float((val_scores[val_labels == 0] > threshold).mean()),
        "rows": len(split.val),
    }
    metrics["parity_max_rel_diff"] = parity
    metrics["split"] = split.sizes()
    metrics["frauds"] = frauds_in(split, label)
    metrics["normal_weight"] = weight
    metrics["training"] = {
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
        "rows_per_second": result.rows_per_second,
        "final_loss": result.history["loss"][-1],
        "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
    }
    if clf is not None:
        metrics["training"]["classifier"] = _classifier_info(clf, settings)

    summary = _summary(metrics)
    training = _training_info(settings, data, split.sizes(), result, time.monotonic() - t_start)
    if clf is not None:
        training["classifier"] = metrics["training"]["classifier"]
    payload = {
        **{k: v for k, v in base.items() if k not in ("version", "supervised")},
        "preprocessing": pre.model_dump(),
        "layers": [s.model_dump() for s in layers],
        "score": score_spec.model_dump(),
        "threshold": threshold,
        "lineage": data.lineage,
    }
    if sup_spec is not None:
        payload["supervised"] = sup_spec.model_dump()
    hashed = [*result.weights, *(clf.weights if clf is not None else [])]
    version = make_version(hashed, payload)
    manifest = ModelManifest(
        drift_reference=drift_reference(val_raw, raw_inputs, val_scores),
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
        **(
            {"supervised": sup_spec, "format_version": HYBRID_FORMAT_VERSION}
            if sup_spec is not None
            else {}
        ),
    )
    metrics["version"] = version
    path = _save(model_dir, manifest, result, metrics, clf)
    if publish:
        write_latest(model_dir, version)
        log.info("published %s (models/LATEST updated)", version)
    return TrainOutcome(
        version=version,
        path=path,
        manifest=manifest,
        metrics=metrics,
        history=result.history,
        test_scores={**scores, **base_test},
        test_labels=test_labels,
        val_scores=val_scores,
        val_labels=val_labels,
        log_dir=log_dir,
        served=metrics["served"],
        val_model_scores=val_all,
    )


def choose_split(data: Dataset, settings: TrainerSettings) -> tuple[Split, bool]:
    """(split, hybrid?): the labelled time split when a hybrid can be trained, else the
    normals-only split of the plain autoencoder (cold start, unchanged)."""
    if settings.hybrid == "auto" and int((data.label == 1).sum()) >= settings.hybrid_min_frauds:
        split = labelled_time_split(
            data.time,
            data.label,
            val_fraction=settings.val_fraction,
            test_fraction=settings.test_fraction,
            use_unlabeled=settings.use_unlabeled,
            min_normal_rows=settings.min_normal_rows,
        )
        counts = frauds_in(split, data.label)
        if counts["train"] >= settings.hybrid_min_frauds and counts["val"] >= 1:
            return split, True
        log.info(
            "labelled frauds by period %s: fewer than %d in training or none in validation; "
            "training the plain autoencoder",
            counts,
            settings.hybrid_min_frauds,
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
    return split, False


def _supervised_raw(
    model: NumpyModel, raw: np.ndarray, idx: np.ndarray, raw_inputs: list[str]
) -> np.ndarray:
    """The supervised part's unstandardized inputs for rows `idx` (serving code path)."""
    x = model.preprocess(raw_inputs_matrix(raw[idx], raw_inputs))
    return model.supervised_inputs(x, model.reconstruct(x))


def _fit_supervised(
    scored: NumpyModel,
    ae_weights: list[Any],
    settings: TrainerSettings,
    raw: np.ndarray,
    label: np.ndarray,
    split: Split,
    raw_inputs: list[str],
    inputs: list[Any] | None = None,
) -> tuple[SupervisedSpec, ClassifierResult]:
    """Train the supervised part on the labelled training rows; early stopping on validation."""
    blocks = list(inputs or settings.classifier_inputs)
    n = len(scored.features)
    width = sum(1 if b == "anomaly" else n for b in blocks)
    # An identity spec turns NumpyModel.supervised_inputs into the raw (unscaled) blocks.
    identity = SupervisedSpec(
        inputs=blocks,
        input_mean=[0.0] * width,
        input_std=[1.0] * width,
        reference=[0.0] * width,
        layers=[LayerSpec(units=1, activation="linear")],
    )
    probe = NumpyModel(
        scored.manifest.model_copy(
            update={"supervised": identity, "format_version": HYBRID_FORMAT_VERSION}
        ),
        ae_weights,
        [(np.zeros((width, 1)), np.zeros(1))],
    )
    tr = split.train[label[split.train] != -1]
    va = split.val[label[split.val] != -1]
    z_tr = _supervised_raw(probe, raw, tr, raw_inputs)
    z_va = _supervised_raw(probe, raw, va, raw_inputs)
    mean, std = standardize_stats(z_tr)
    normal_ref = ((z_tr[label[tr] == 0] - mean) / std).mean(axis=0)
    clf = _fit_classifier(settings, (z_tr - mean) / std, label[tr], (z_va - mean) / std, label[va])
    spec = SupervisedSpec(
        inputs=blocks,
        input_mean=mean.tolist(),
        input_std=std.tolist(),
        reference=normal_ref.tolist(),
        layers=clf.layers,
    )
    return spec, clf


def _fit_classifier(
    settings: TrainerSettings,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_va: np.ndarray,
    y_va: np.ndarray,
) -> ClassifierResult:
    """The classifier head with the run's settings: one recipe for the hybrid and its baseline."""
    return train_classifier(
        x_tr,
        y_tr,
        x_va,
        y_va,
        units=settings.classifier_units,
        seed=settings.seed,
        epochs=settings.classifier_epochs,
        patience=settings.classifier_patience,
        learning_rate=settings.classifier_learning_rate,
        batch_size=settings.classifier_batch_size,
        l2=settings.classifier_l2,
        fraud_weight=settings.fraud_weight,
        threads=settings.threads,
        steps_per_execution=settings.steps_per_execution,
    )


def _supervised_only(
    settings: TrainerSettings,
    raw: np.ndarray,
    label: np.ndarray,
    split: Split,
    ident: NumpyModel,
    raw_inputs: list[str],
    evaluate_on: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, ...]:
    """The baseline: the same classifier on the standardized raw features alone; its
    logits for each raw-input matrix in `evaluate_on`."""
    tr = split.train[label[split.train] != -1]
    va = split.val[label[split.val] != -1]
    z_tr = ident.preprocess(raw_inputs_matrix(raw[tr], raw_inputs))
    z_va = ident.preprocess(raw_inputs_matrix(raw[va], raw_inputs))
    mean, std = standardize_stats(z_tr)
    clf = _fit_classifier(settings, (z_tr - mean) / std, label[tr], (z_va - mean) / std, label[va])
    return tuple(
        np.asarray(keras_logit(clf.model, (ident.preprocess(m) - mean) / std), np.float64)
        for m in evaluate_on
    )


def _classifier_info(clf: ClassifierResult, settings: TrainerSettings) -> dict[str, Any]:
    return {
        "units": settings.classifier_units,
        "inputs": list(settings.classifier_inputs),
        "epochs_max": settings.classifier_epochs,
        "epochs_run": clf.epochs_run,
        "best_epoch": clf.best_epoch,
        "seconds": round(clf.seconds, 3),
        "fraud_weight": clf.fraud_weight,
        "best_val_loss": min(clf.history.get("val_loss", [float("nan")])),
    }


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


def _parity_hybrid(
    model: NumpyModel, keras_ae: Any, keras_clf: Any, raw_inputs: np.ndarray
) -> float:
    """Max relative difference between the hybrid scored by Keras (both networks) and by
    NumPy (error above tolerance)."""
    x = model.preprocess(raw_inputs)
    z = model.supervised_inputs(x, keras_reconstruct(keras_ae, x))
    k_scores = hybrid_score(keras_logit(keras_clf, z))
    n_scores = model.score(raw_inputs)
    diff = float(np.max(np.abs(k_scores - n_scores) / np.maximum(1.0, np.abs(n_scores))))
    if diff > PARITY_RTOL:
        raise TrainerError(
            f"NumPy and Keras hybrid scores differ by {diff:.2e} (> {PARITY_RTOL:g}): not saving"
        )
    return diff


def _evaluate(
    scores: dict[str, np.ndarray],
    baselines: dict[str, np.ndarray],
    test_labels: np.ndarray,
    weight: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "test": {"rows": len(test_labels), "frauds": int((test_labels == 1).sum())}
    }
    if (test_labels == 1).sum() == 0:
        log.warning("the test split has no frauds: ranking metrics are undefined")
        for name in scores:
            out[name] = {}
        return out
    for name, s in scores.items():
        out[name] = evaluate.ranking_metrics(s, test_labels, weight)
    if baselines:
        out["baselines"] = {
            k: evaluate.ranking_metrics(v, test_labels, weight) for k, v in baselines.items()
        }
    return out


def _summary(metrics: dict[str, Any]) -> dict[str, float | int | None]:
    ae = metrics.get(metrics.get("served", "autoencoder"), {})
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


def _save(
    model_dir: Path,
    manifest: ModelManifest,
    result: Any,
    metrics: dict[str, Any],
    clf: ClassifierResult | None = None,
) -> Path:
    import json

    clean = {k: v for k, v in metrics.items() if not k.startswith("_")}
    with tempfile.TemporaryDirectory(prefix="fraudstream-keras-") as tmp:
        keras_path = Path(tmp) / "model.keras"
        result.model.save(keras_path)
        clf_path = None
        if clf is not None:
            clf_path = Path(tmp) / "classifier.keras"
            clf.model.save(clf_path)
        return save_model(
            model_dir,
            manifest,
            result.weights,
            keras_path=keras_path,
            extra_files={
                "metrics.json": json.dumps(clean, indent=2, default=float) + "\n",
                "README.md": card.model_card(manifest, clean),
            },
            supervised_weights=clf.weights if clf is not None else None,
            classifier_keras_path=clf_path,
        )


__all__ = ["ScoreSpec", "TrainOutcome", "choose_split", "run_training"]
