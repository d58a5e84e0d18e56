"""Trainer settings (`FRAUDSTREAM_TRAINER_*`); CLI options override them per run.

The defaults are the configuration evaluated in docs/model-report (see docs/training.md);
tests shrink epochs and rows through the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from fraudstream.config import FraudstreamSettings, settings_config

__all__ = [
    "REAL_PREVALENCE",
    "ScoreKind",
    "ThresholdStrategy",
    "TrainerSettings",
]

ThresholdStrategy = Literal["fpr", "quantile", "precision", "budget"]
ScoreKind = Literal["mse", "normalized_mse", "mahalanobis", "max_mahalanobis"]

# The full Kaggle data: 284,315 normals and 492 frauds. Used to weight metrics on samples
# that over-represent frauds (docs/model-report).
REAL_PREVALENCE = 492 / (284_315 + 492)


class TrainerSettings(FraudstreamSettings):
    """Every knob of `fraudstream train`."""

    model_config = settings_config("TRAINER_")

    # model
    encoder_units: list[int] = Field(
        default=[14, 7], description="Encoder widths; the decoder mirrors them (14-7-(14)-29)."
    )
    activation: str = Field("tanh", description="Hidden activation; the output is linear.")
    ensemble: int = Field(
        1, ge=1, le=16, description="Autoencoders trained side by side; served as their mean."
    )
    hour_features: bool = Field(False, description="Add sin/cos of the hour of day from Time.")
    score: ScoreKind = Field("max_mahalanobis", description="Anomaly score (see ScoreSpec).")
    covariance: Literal["classic", "robust", "both"] = Field(
        "classic", description="mahalanobis: error covariance estimate (see trainer/scoring.py)."
    )
    # hybrid: autoencoder + supervised part (issue 17)
    hybrid: Literal["auto", "off"] = Field(
        "auto",
        description="auto: train the hybrid when the training period holds enough labelled "
        "frauds (else the plain autoencoder); off: always the plain autoencoder.",
    )
    hybrid_min_frauds: int = Field(
        20, ge=1, description="Labelled frauds the training period needs for a hybrid."
    )
    classifier_units: list[int] = Field(
        default=[16], description="Hidden widths of the supervised part (then 1 logit)."
    )
    classifier_inputs: list[Literal["features", "errors", "anomaly"]] = Field(
        default=["features", "errors", "anomaly"],
        description="Inputs of the supervised part (see model.manifest.SupervisedSpec).",
    )
    classifier_epochs: int = Field(400, ge=1, description="Supervised part: maximum epochs.")
    classifier_patience: int = Field(
        30, ge=1, description="Supervised part: early-stopping patience (validation loss)."
    )
    classifier_learning_rate: float = Field(3e-3, gt=0)
    classifier_batch_size: int = Field(128, ge=1)
    classifier_l2: float = Field(1e-3, ge=0, description="L2 penalty on the supervised kernels.")
    fraud_weight: float = Field(
        0.0,
        ge=0,
        description="Loss weight of a fraud row (0: balanced, n_normal / n_fraud in training).",
    )
    # optimisation
    epochs: int = Field(
        300, ge=1, description="Maximum epochs (a safety cap: the plateau schedule ends first)."
    )
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(
        1e-2,
        gt=0,
        description="Adam's initial rate; the plateau schedule halves it (1e-3 never converged "
        "within 300 epochs on the sample: docs/model-report).",
    )
    patience: int = Field(
        10, ge=1, description="Stop after this many epochs without a min_delta improvement."
    )
    min_delta: float = Field(
        1e-3, ge=0, lt=1, description="Relative val-loss improvement that resets the patience."
    )
    lr_patience: int = Field(
        5, ge=0, description="Halve the learning rate after this many flat epochs (0: never)."
    )
    lr_factor: float = Field(0.5, gt=0, lt=1, description="Learning-rate reduction factor.")
    seed: int = Field(42, description="Seeds NumPy, Python and TensorFlow.")
    threads: int = Field(2, ge=1, description="TensorFlow intra-op threads (shared machine).")
    steps_per_execution: int = Field(
        32, ge=1, description="Batches per compiled call: cuts Keras' per-step overhead ~4x."
    )
    # data
    val_fraction: float = Field(0.2, gt=0, lt=0.5, description="Normals (by time) to validate.")
    test_fraction: float = Field(0.2, gt=0, lt=0.5, description="Last normals (by time) to test.")
    min_normal_rows: int = Field(100, ge=10, description="Fewer training normals is an error.")
    use_unlabeled: bool = Field(False, description="Train also on CLASS=-1 rows (never evaluated).")
    max_records: int | None = Field(None, ge=1, description="Stop reading the topic after N.")
    read_idle_timeout_s: float = Field(
        15.0, gt=0, description="Give up waiting for the snapshot's end offsets after this."
    )
    # threshold
    threshold_strategy: ThresholdStrategy = "fpr"
    target_fpr: float = Field(0.01, gt=0, lt=1, description="fpr: false-positive rate on val.")
    quantile: float = Field(0.99, gt=0, lt=1, description="quantile: of validation scores.")
    target_precision: float = Field(0.5, gt=0, le=1, description="precision: on labelled val.")
    budget_per_10k: float = Field(100.0, gt=0, description="budget: alerts per 10,000 events.")
    # evaluation
    prevalence: float | None = Field(
        REAL_PREVALENCE,
        gt=0,
        lt=1,
        description="Real fraud prevalence for weighted metrics (None: no weighting).",
    )
    baselines: bool = Field(True, description="Fit Isolation Forest and PCA on the same split.")
    # outputs
    log_dir: Path | None = Field(
        Path("runs"), description="TensorBoard: one sub-directory per run (None: no logs)."
    )
    report_dir: Path | None = Field(None, description="Write metrics.json, report.md, plots.")
    announce: bool = Field(False, description="Publish the new version on the models topic.")
