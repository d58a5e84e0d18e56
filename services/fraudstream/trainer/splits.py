"""The time-ordered split of the issue's protocol.

Normals are sorted by Time: the first part trains, the next validates (early stopping and
the threshold), the last part tests. Frauds are never trained on; by default they all go
to the test set (the protocol). The `precision` threshold needs labelled frauds in the
validation set, so `frauds_in_val` moves every other fraud (in time order) there.
Unlabelled rows (-1) may join training, never validation or test.

`labelled_time_split` is the protocol for models that learn from labels (issue 17): all
labelled rows, normals and frauds, ordered by Time; the first 60 % of them train, the next
20 % validate, the last 20 % test, so each fraud falls in the period of its own time and
the model is always judged on transactions later than any it learnt from.
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


def labelled_time_split(
    time: NDArray[np.float64],
    label: NDArray[np.int64],
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    use_unlabeled: bool = False,
    min_normal_rows: int = 100,
) -> Split:
    """Row indices of train / validation / test over all labelled rows by Time.

    Training holds the first `1 - val - test` share of the labelled rows (normals and
    frauds), then validation, then test. Unlabelled rows join training (before the
    validation period) only with `use_unlabeled`.
    """
    rows = np.flatnonzero(label != -1)
    rows = rows[np.argsort(time[rows], kind="stable")]
    n = len(rows)
    n_train = round(n * (1.0 - val_fraction - test_fraction))
    n_val = round(n * val_fraction)
    train = rows[:n_train]
    val = rows[n_train : n_train + n_val]
    test = rows[n_train + n_val :]
    n_normal = int((label[train] == 0).sum())
    if n_normal < min_normal_rows or len(val) < 1 or len(test) < 1:
        raise NotEnoughDataError(
            f"{n} labelled rows give {n_normal} normal rows for training (minimum "
            f"{min_normal_rows}), {len(val)} for validation and {len(test)} for testing"
        )
    if use_unlabeled:
        unl = np.flatnonzero(label == -1)
        train = np.concatenate([train, unl[time[unl] < time[val[0]]]])
    return Split(train=np.sort(train), val=np.sort(val), test=np.sort(test))


def frauds_in(split: Split, label: NDArray[np.int64]) -> dict[str, int]:
    """Labelled frauds per period (decides whether a hybrid can be trained)."""
    return {
        name: int((label[idx] == 1).sum())
        for name, idx in (("train", split.train), ("val", split.val), ("test", split.test))
    }
