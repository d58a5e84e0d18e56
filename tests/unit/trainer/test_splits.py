"""The protocol's time-ordered split."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.trainer.errors import NotEnoughDataError
from fraudstream.trainer.splits import time_split


def _data(n_normal: int = 1000, n_fraud: int = 40, n_unl: int = 30):
    rng = np.random.default_rng(0)
    time = rng.uniform(0, 172_800, n_normal + n_fraud + n_unl)
    label = np.array([0] * n_normal + [1] * n_fraud + [-1] * n_unl)
    perm = rng.permutation(len(label))
    return time[perm], label[perm]


def test_normals_split_by_time_and_frauds_only_in_test() -> None:
    time, label = _data()
    s = time_split(time, label)
    assert s.sizes() == {"train": 600, "val": 200, "test": 200 + 40}
    assert (label[s.train] == 0).all() and (label[s.val] == 0).all()
    assert (label[s.test] == 1).sum() == 40
    t_norm_test = time[s.test][label[s.test] == 0]
    assert time[s.train].max() <= time[s.val].min()
    assert time[s.val].max() <= t_norm_test.min()
    assert not set(s.train) & set(s.val) and not set(s.val) & set(s.test)


def test_unlabelled_rows_train_only_and_before_validation() -> None:
    time, label = _data()
    s = time_split(time, label, use_unlabeled=True)
    unl_train = s.train[label[s.train] == -1]
    assert len(unl_train) > 0
    assert time[unl_train].max() < time[s.val].min()
    assert (label[s.val] != -1).all() and (label[s.test] != -1).all()
    assert (label[time_split(time, label).train] == 0).all()


def test_frauds_in_val_alternate() -> None:
    time, label = _data()
    s = time_split(time, label, frauds_in_val=True)
    assert (label[s.val] == 1).sum() == 20
    assert (label[s.test] == 1).sum() == 20


def test_too_few_normals() -> None:
    time, label = _data(n_normal=100)
    with pytest.raises(NotEnoughDataError, match="60 for training \\(minimum 100\\)"):
        time_split(time, label, min_normal_rows=100)


def test_labelled_split_orders_all_labelled_rows_by_time() -> None:
    from fraudstream.trainer.splits import frauds_in, labelled_time_split

    time, label = _data()
    s = labelled_time_split(time, label)
    assert s.sizes() == {"train": 624, "val": 208, "test": 208}
    # every fraud is in the period of its own time, and periods do not overlap in time
    assert time[s.train].max() <= time[s.val].min() <= time[s.val].max() <= time[s.test].min()
    counts = frauds_in(s, label)
    assert sum(counts.values()) == 40 and counts["train"] > 0 and counts["test"] > 0
    assert (label[np.concatenate([s.train, s.val, s.test])] != -1).all()
    with_unl = labelled_time_split(time, label, use_unlabeled=True)
    unl = with_unl.train[label[with_unl.train] == -1]
    assert len(unl) > 0 and time[unl].max() < time[with_unl.val].min()


def test_labelled_split_needs_enough_training_normals() -> None:
    from fraudstream.trainer.splits import labelled_time_split

    time, label = _data(n_normal=120, n_fraud=10)
    with pytest.raises(NotEnoughDataError, match="minimum 100"):
        labelled_time_split(time, label)
