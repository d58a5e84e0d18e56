"""The dense Keras autoencoder and its training loop (early stopping on validation).

Architecture: encoder widths then their mirror, e.g. 29-14-7-14-29 for `[14, 7]` (the
seed's 30-14-7-7-(14)-30 shape with one bottleneck layer), hidden activation `tanh`, and
a **linear** output layer: the seed's ReLU output could not produce negative
standardized values, so half of every input was unreconstructable.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.manifest import LayerSpec
from fraudstream.trainer.settings import TrainerSettings
from fraudstream.trainer.tensorboard import TensorBoardLogger
from fraudstream.trainer.tf_runtime import tensorflow

log = logging.getLogger(__name__)


def layer_specs(n_features: int, encoder_units: list[int], activation: str) -> list[LayerSpec]:
    """The dense stack input-to-output, mirrored decoder, linear output."""
    hidden = [*encoder_units, *reversed(encoder_units[:-1])]
    return [LayerSpec(units=u, activation=activation) for u in hidden] + [
        LayerSpec(units=n_features, activation="linear")
    ]


@dataclass
class TrainResult:
    model: Any  # keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    rows_per_second: float
    weights: list[tuple[NDArray[np.float32], NDArray[np.float32]]] = field(default_factory=list)


def build_model(n_features: int, layers: list[LayerSpec], seed: int, learning_rate: float) -> Any:
    """A compiled Keras functional model (MSE, Adam) with seeded initialisers."""
    tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(n_features,), name="features")
    h = inp
    for i, spec in enumerate(layers):
        h = keras.layers.Dense(spec.units, activation=spec.activation, name=f"dense_{i}")(h)
    model = keras.Model(inp, h, name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


class _Progress:
    """A Keras callback that logs one line per epoch (or every few on long runs)."""

    def __new__(cls, total: int) -> Any:
        import keras

        class _Cb(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.t0 = time.monotonic()

            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                logs = logs or {}
                every = max(1, total // 20)
                if epoch % every == 0 or epoch + 1 == total:
                    log.info(
                        "epoch %d/%d loss=%.5f val_loss=%.5f (%.1fs)",
                        epoch + 1,
                        total,
                        logs.get("loss", float("nan")),
                        logs.get("val_loss", float("nan")),
                        time.monotonic() - self.t0,
                    )

        return _Cb()


def train_autoencoder(
    x_train: NDArray[np.float64],
    x_val: NDArray[np.float64],
    layers: list[LayerSpec],
    settings: TrainerSettings,
    log_dir: Path | None,
) -> TrainResult:
    """Fit on normal rows only; early stopping restores the best validation epoch."""
    tensorflow(settings.threads)
    import keras

    model = build_model(x_train.shape[1], layers, settings.seed, settings.learning_rate)
    callbacks: list[Any] = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True
        ),
        _Progress(settings.epochs),
    ]
    if log_dir is not None:
        callbacks.append(TensorBoardLogger(log_dir))
    xt = x_train.astype(np.float32)
    xv = x_val.astype(np.float32)
    t0 = time.monotonic()
    hist = model.fit(
        xt,
        xt,
        validation_data=(xv, xv),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.monotonic() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    epochs_run = len(history.get("loss", []))
    val = history.get("val_loss", [])
    best = int(np.argmin(val)) + 1 if val else epochs_run
    weights = [
        (layer.kernel.numpy().astype(np.float32), layer.bias.numpy().astype(np.float32))
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    ]
    return TrainResult(
        model=model,
        history=history,
        epochs_run=epochs_run,
        best_epoch=best,
        seconds=seconds,
        rows_per_second=len(xt) * epochs_run / max(seconds, 1e-9),
        weights=weights,
    )


def keras_reconstruct(model: Any, x: NDArray[np.float64], batch_size: int = 4096) -> Any:
    """Keras' own reconstruction (float32), for the parity check against NumPy."""
    return model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0)
