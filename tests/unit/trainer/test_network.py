"""The autoencoder's plateau schedule: it decides when training ends (issue 17), so its rule is
driven here epoch by epoch on a real Keras model with chosen validation losses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fraudstream.model.manifest import LayerSpec
from fraudstream.trainer.network import _PlateauSchedule, build_model

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Keras 3 on NumPy 2 __array__
]


def _scheduled(patience: int, min_delta: float, lr_patience: int) -> tuple[Any, Any]:
    model, _ = build_model(3, [LayerSpec(units=2, activation="tanh"),
                               LayerSpec(units=3, activation="linear")], seed=1,
                           learning_rate=0.01)  # fmt: skip
    cb = _PlateauSchedule(patience, min_delta, lr_patience, 0.5)
    cb.set_model(model)
    return model, cb


def _lr(model: Any) -> float:
    import keras

    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def _feed(model: Any, cb: Any, losses: list[float]) -> int:
    """Epochs run before the schedule stopped training (or all of them); each epoch's
    weights are marked by filling the first bias with the epoch number."""
    for epoch, val in enumerate(losses):
        w = model.get_weights()
        w[1][:] = epoch
        model.set_weights(w)
        cb.on_epoch_end(epoch, {"val_loss": val})
        if model.stop_training:
            cb.on_train_end()
            return epoch + 1
    cb.on_train_end()
    return len(losses)


def test_stops_after_patience_flat_epochs_and_keeps_the_lowest_loss() -> None:
    model, cb = _scheduled(patience=4, min_delta=0.01, lr_patience=0)
    # improves by 10 % twice, then creeps down by 0.1 % per epoch: flat under a 1 % rule
    losses = [1.0, 0.9, 0.81, 0.8092, 0.8084, 0.8076, 0.8068, 0.8, 0.7]
    assert _feed(model, cb, losses) == 7  # epochs 4-7 flat -> stop after the 7th
    # the lowest loss seen (epoch index 6, 0.8068) is restored, not the last counted one
    np.testing.assert_array_equal(model.get_weights()[1], np.full(2, 6.0))
    assert _lr(model) == pytest.approx(0.01)  # lr_patience 0: never reduced


def test_halves_the_learning_rate_on_a_plateau_and_an_improvement_resets_the_count() -> None:
    model, cb = _scheduled(patience=5, min_delta=0.01, lr_patience=2)
    losses = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    # flat epochs 2-3 halve the lr; the 10x-better epoch 4 resets; then 5 flat epochs stop
    assert _feed(model, cb, losses) == 9
    assert _lr(model) == pytest.approx(0.01 * 0.5**3)  # after epochs 3, 6 and 8
    np.testing.assert_array_equal(model.get_weights()[1], np.full(2, 3.0))
