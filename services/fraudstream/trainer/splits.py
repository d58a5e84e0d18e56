"""The time-ordered split of the issue's protocol.

Normals are sorted by Time: the first part trains, the next validates (early stopping and
the threshold), the last part tests. Frauds are never trained on; by default they all go
to the test set (the protocol). The `precision` threshold needs labelled frauds in the
validation set, so `frauds_in_val` moves every other fraud (in time order) there.
Unlabelled rows (-1) may join training, never validation or test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fraudstream.trainer.errors import NotEnoughDataError

Index = NDArray[np.intp]


@dataclass(frozen=True)
class Split:
    train: Index
    val: Index
    test: Index

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def time_split(
    time: NDArray[np.float64],
    label: NDArray[np.int64],
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    use_unlabeled: bool = False,
    frauds_in_val: bool = False,
    min_normal_rows: int = 100,
) -> Split:
    """Row indices of train / validation / test (see the module docstring)."""
    normals = np.flatnonzero(label == 0)
    normals = normals[np.argsort(time[normals], kind="stable")]
    n = len(normals)
    n_train = round(n * (1.0 - val_fraction - test_fraction))
    n_val = round(n * val_fraction)
    if n_train < min_normal_rows or n_val < 1 or n - n_train - n_val < 1:
        raise NotEnoughDataError(
            f"{n} normal rows give {n_train} for training (minimum {min_normal_rows}), "
            f"{n_val} for validation and {n - n_train - n_val} for testing"
        )
    train = normals[:n_train]
    val = normals[n_train : n_train + n_val]
    test = normals[n_train + n_val :]
    if use_unlabeled:
        unl = np.flatnonzero(label == -1)
        cutoff = time[val[0]]
        train = np.concatenate([train, unl[time[unl] < cutoff]])
    frauds = np.flatnonzero(label == 1)
    frauds = frauds[np.argsort(time[frauds], kind="stable")]
    if frauds_in_val:
        val = np.concatenate([val, frauds[0::2]])
        test = np.concatenate([test, frauds[1::2]])
    else:
        test = np.concatenate([test, frauds])
    return Split(train=np.sort(train), val=np.sort(val), test=np.sort(test))
