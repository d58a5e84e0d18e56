"""The supervised part's trainer: the loss it is told to use (focal loss for the variants'
benchmark, cross-entropy by default), on tiny real Keras trainings."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.trainer.supervised import ClassifierResult, keras_logit, train_classifier

pytestmark = [
    pytest.mark.timeout(900),  # real (tiny) Keras trainings on the shared machine
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Keras 3 on NumPy 2 __array__
]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, 400) > 1.2).astype(np.int64)
    return x[:300], y[:300], x[300:], y[300:]


def _fit(focal_gamma: float) -> ClassifierResult:
    xt, yt, xv, yv = _data()
    return train_classifier(
        xt, yt, xv, yv, units=[4], seed=1, epochs=3, patience=3,
        learning_rate=1e-2, batch_size=64, l2=0.0, threads=1, focal_gamma=focal_gamma,
    )  # fmt: skip


def test_focal_gamma_selects_the_focal_loss() -> None:
    import keras

    bce, focal = _fit(0.0), _fit(2.0)
    assert isinstance(bce.model.loss, keras.losses.BinaryCrossentropy)
    assert isinstance(focal.model.loss, keras.losses.BinaryFocalCrossentropy)
    assert focal.model.loss.gamma == 2.0
    # same seed and data: only the loss differs, and it changes what is learnt
    _, _, xv, yv = _data()
    assert not np.allclose(keras_logit(bce.model, xv), keras_logit(focal.model, xv))
    # both learn the rule: frauds score above normals on the validation rows
    for r in (bce, focal):
        logit = keras_logit(r.model, xv)
        assert logit[yv == 1].mean() > logit[yv == 0].mean()
