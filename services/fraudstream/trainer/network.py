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
    """One member's dense stack, input to output: mirrored decoder, linear output."""
    hidden = [*encoder_units, *reversed(encoder_units[:-1])]
    return [LayerSpec(units=u, activation=activation) for u in hidden] + [
        LayerSpec(units=n_features, activation="linear")
    ]


def merged_specs(member: list[LayerSpec], members: int) -> list[LayerSpec]:
    """The served stack of `members` side-by-side autoencoders (hidden widths x members)."""
    return [
        LayerSpec(units=s.units * (members if i < len(member) - 1 else 1), activation=s.activation)
        for i, s in enumerate(member)
    ]


Pair = tuple[NDArray[np.float32], NDArray[np.float32]]


def merge_members(members: list[list[Pair]]) -> list[Pair]:
    """K autoencoders -> one dense stack whose output is the mean of their outputs.

    First layer: kernels side by side; middle layers: block-diagonal; last layer: kernels
    stacked and divided by K, biases averaged. Activations are element-wise, so each block
    computes exactly its member's activations.
    """
    k = len(members)
    if k == 1:
        return members[0]
    n_layers = len(members[0])
    out: list[Pair] = []
    for i in range(n_layers):
        ws = [m[i][0] for m in members]
        bs = [m[i][1] for m in members]
        if i == n_layers - 1:
            w = np.vstack(ws) / k
            b = np.mean(bs, axis=0)
        elif i == 0:
            w = np.hstack(ws)
            b = np.concatenate(bs)
        else:
            rows, cols = ws[0].shape
            w = np.zeros((rows * k, cols * k), ws[0].dtype)
            for j, wj in enumerate(ws):
                w[j * rows : (j + 1) * rows, j * cols : (j + 1) * cols] = wj
            b = np.concatenate(bs)
        out.append((w.astype(np.float32), b.astype(np.float32)))
    return out


@dataclass
class TrainResult:
    model: Any  # keras.Model serving the (mean) reconstruction
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    rows_per_second: float
    weights: list[Pair] = field(default_factory=list)
    members: int = 1


def build_model(
    n_features: int,
    layers: list[LayerSpec],
    seed: int,
    learning_rate: float,
    members: int = 1,
    steps_per_execution: int = 32,
) -> tuple[Any, Any]:
    """(training model, serving model) with seeded initialisers, MSE and Adam.

    With several members, the training model has one output per member and the loss is
    the sum of their MSEs, so members train independently in one pass over the data; the
    serving model averages their outputs.
    """
    tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(n_features,), name="features")
    outs = []
    for m in range(members):
        h = inp
        for i, spec in enumerate(layers):
            h = keras.layers.Dense(spec.units, activation=spec.activation, name=f"m{m}_dense_{i}")(
                h
            )
        outs.append(h)
    if members == 1:
        model = keras.Model(inp, outs[0], name="autoencoder")
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="mse",
            steps_per_execution=steps_per_execution,
        )
        return model, model
    train = keras.Model(inp, outs, name="autoencoder_members")
    train.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=["mse"] * members,
        steps_per_execution=steps_per_execution,
    )
    serve = keras.Model(inp, keras.layers.Average(name="mean")(outs), name="autoencoder")
    return train, serve


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


class _PlateauSchedule:
    """Relative plateau detection on val_loss: halve the learning rate after `lr_patience`
    epochs without a `min_delta` (relative) improvement, stop after `patience`, restore
    the weights of the lowest val_loss. (Keras' EarlyStopping and ReduceLROnPlateau only
    know absolute deltas, which do not carry across loss scales.)"""

    def __new__(cls, patience: int, min_delta: float, lr_patience: int, lr_factor: float) -> Any:
        import keras

        class _Cb(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.ref = float("inf")  # last val_loss that counted as an improvement
                self.lowest = float("inf")
                self.best_weights: Any = None
                self.wait = 0
                self.lr_wait = 0

            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                val = (logs or {}).get("val_loss")
                if val is None:
                    return
                if val < self.lowest:
                    self.lowest = float(val)
                    self.best_weights = self.model.get_weights()
                if val < self.ref * (1.0 - min_delta):
                    self.ref = float(val)
                    self.wait = self.lr_wait = 0
                    return
                self.wait += 1
                self.lr_wait += 1
                if self.wait >= patience:
                    self.model.stop_training = True
                elif lr_patience > 0 and self.lr_wait >= lr_patience:
                    lr = self.model.optimizer.learning_rate
                    lr.assign(float(keras.ops.convert_to_numpy(lr)) * lr_factor)
                    self.lr_wait = 0

            def on_train_end(self, logs: dict[str, float] | None = None) -> None:
                if self.best_weights is not None:
                    self.model.set_weights(self.best_weights)

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

    k = settings.ensemble
    model, serve = build_model(
        x_train.shape[1],
        layers,
        settings.seed,
        settings.learning_rate,
        members=k,
        steps_per_execution=settings.steps_per_execution,
    )
    # Early stopping decides when training ends: an improvement of val_loss smaller than
    # `min_delta` (relative) does not count; after `lr_patience` epochs without one the
    # learning rate is multiplied by `lr_factor`, after `patience` training stops, and the
    # weights of the lowest val_loss are kept. Before this, every run hit the epoch cap
    # with the loss still creeping down.
    callbacks: list[Any] = [
        _PlateauSchedule(settings.patience, settings.min_delta, settings.lr_patience,
                         settings.lr_factor),
        _Progress(settings.epochs),
    ]  # fmt: skip
    if log_dir is not None:
        callbacks.append(TensorBoardLogger(log_dir))
    xt = x_train.astype(np.float32)
    xv = x_val.astype(np.float32)
    t0 = time.monotonic()
    hist = model.fit(
        xt,
        xt if k == 1 else [xt] * k,
        validation_data=(xv, xv if k == 1 else [xv] * k),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.monotonic() - t0
    # Report the mean member MSE so curves compare across ensemble sizes.
    history = {
        name: [float(v) / (k if name in ("loss", "val_loss") else 1) for v in vals]
        for name, vals in hist.history.items()
    }
    epochs_run = len(history.get("loss", []))
    val = history.get("val_loss", [])
    best = int(np.argmin(val)) + 1 if val else epochs_run
    members: list[list[Pair]] = [
        [
            (
                model.get_layer(f"m{m}_dense_{i}").kernel.numpy().astype(np.float32),
                model.get_layer(f"m{m}_dense_{i}").bias.numpy().astype(np.float32),
            )
            for i in range(len(layers))
        ]
        for m in range(k)
    ]
    weights = merge_members(members)
    return TrainResult(
        model=serve,
        history=history,
        epochs_run=epochs_run,
        best_epoch=best,
        seconds=seconds,
        rows_per_second=len(xt) * epochs_run / max(seconds, 1e-9),
        weights=weights,
        members=k,
    )


def keras_reconstruct(model: Any, x: NDArray[np.float64], batch_size: int = 4096) -> Any:
    """Keras' own reconstruction (float32), for the parity check against NumPy."""
    return model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0)
