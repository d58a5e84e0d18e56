"""The supervised part of the hybrid: a small dense classifier that outputs a fraud logit.

Why a dense stack (not trees): NumPy serves it with the same matrix products as the
autoencoder (parity to float rounding, no extra runtime), and DeepLIFT's rescale rule
attributes its logit exactly to the inputs, which keeps the per-event explanation. Frauds
are rare even in the sample, so each fraud row weighs `n_normal / n_fraud` in the loss
(or `fraud_weight`); early stopping watches the equally weighted validation loss.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.manifest import LayerSpec
from fraudstream.trainer.errors import TrainerError
from fraudstream.trainer.tf_runtime import tensorflow

log = logging.getLogger(__name__)

Pair = tuple[NDArray[np.float32], NDArray[np.float32]]


@dataclass
class ClassifierResult:
    model: Any  # keras.Model: standardized z -> logit
    layers: list[LayerSpec]
    weights: list[Pair]
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    fraud_weight: float


def classifier_specs(units: list[int]) -> list[LayerSpec]:
    """Hidden tanh layers, then one linear unit (the logit)."""
    return [LayerSpec(units=u, activation="tanh") for u in units] + [
        LayerSpec(units=1, activation="linear")
    ]


def standardize_stats(
    z: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and std (constant columns get std 1) of the training rows' inputs."""
    mean = z.mean(axis=0)
    std = z.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def train_classifier(
    z_train: NDArray[np.float64],
    y_train: NDArray[np.int64],
    z_val: NDArray[np.float64],
    y_val: NDArray[np.int64],
    *,
    units: list[int],
    seed: int,
    epochs: int,
    patience: int,
    learning_rate: float,
    batch_size: int,
    l2: float,
    fraud_weight: float = 0.0,
    threads: int = 2,
    steps_per_execution: int = 32,
    focal_gamma: float = 0.0,
) -> ClassifierResult:
    """Fit the classifier on standardized inputs; the best validation epoch is kept.

    `focal_gamma` > 0 replaces the cross-entropy by the focal loss (down-weights rows the
    network already gets right; the class weights stay)."""
    n_fraud = int((y_train == 1).sum())
    n_normal = int((y_train == 0).sum())
    if n_fraud == 0 or n_normal == 0:
        raise TrainerError(
            f"the supervised part needs frauds and normals in training ({n_fraud} / {n_normal})"
        )
    w_fraud = fraud_weight if fraud_weight > 0 else n_normal / n_fraud
    tensorflow(threads)
    import keras

    keras.utils.set_random_seed(seed)
    specs = classifier_specs(units)
    inp = keras.Input(shape=(z_train.shape[1],), name="z")
    h = inp
    for i, spec in enumerate(specs):
        h = keras.layers.Dense(
            spec.units,
            activation=spec.activation,
            kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
            name=f"clf_dense_{i}",
        )(h)
    model = keras.Model(inp, h, name="classifier")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=(
            keras.losses.BinaryFocalCrossentropy(gamma=focal_gamma, from_logits=True)
            if focal_gamma > 0
            else keras.losses.BinaryCrossentropy(from_logits=True)
        ),
        steps_per_execution=steps_per_execution,
    )

    def weights_of(y: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.where(y == 1, w_fraud, 1.0).astype(np.float32)

    yt = (y_train == 1).astype(np.float32)[:, None]
    yv = (y_val == 1).astype(np.float32)[:, None]
    t0 = time.monotonic()
    hist = model.fit(
        z_train.astype(np.float32),
        yt,
        sample_weight=weights_of(y_train),
        validation_data=(z_val.astype(np.float32), yv, weights_of(y_val)),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        ],
    )
    seconds = time.monotonic() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    val = history.get("val_loss", [])
    epochs_run = len(history.get("loss", []))
    best = int(np.argmin(val)) + 1 if val else epochs_run
    weights: list[Pair] = [
        (
            model.get_layer(f"clf_dense_{i}").kernel.numpy().astype(np.float32),
            model.get_layer(f"clf_dense_{i}").bias.numpy().astype(np.float32),
        )
        for i in range(len(specs))
    ]
    log.info(
        "supervised part %s: %d epochs (best %d) in %.1fs, fraud weight %.1f",
        "-".join(str(s.units) for s in specs),
        epochs_run,
        best,
        seconds,
        w_fraud,
    )
    return ClassifierResult(
        model=model,
        layers=specs,
        weights=weights,
        history=history,
        epochs_run=epochs_run,
        best_epoch=best,
        seconds=seconds,
        fraud_weight=w_fraud,
    )


def keras_logit(model: Any, z: NDArray[np.float64], batch_size: int = 4096) -> Any:
    """Keras' own logit (float32), for the parity check against NumPy."""
    return model.predict(z.astype(np.float32), batch_size=batch_size, verbose=0)[:, 0]


__all__ = [
    "ClassifierResult",
    "classifier_specs",
    "keras_logit",
    "standardize_stats",
    "train_classifier",
]
