"""Helpers for trainer unit tests: small Kaggle-format CSVs and datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fraudstream.events import CSV_COLUMNS
from fraudstream.testing.datasets import synthetic_dataset
from fraudstream.trainer.data import Dataset


@pytest.fixture
def dataset() -> Callable[..., Dataset]:
    return synthetic_dataset


def write_csv(path: Path, ds: Dataset, quote_class: bool = True) -> Path:
    lines = [",".join(CSV_COLUMNS)]
    for row, label in zip(ds.raw, ds.label, strict=True):  # raw: Time, V1..V28, Amount
        v = [repr(float(x)) for x in row[1:]]
        cls = f'"{label}"' if quote_class else str(label)
        lines.append(",".join([f"{row[0]:.1f}", *v, cls]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[..., Path]:
    def make(ds: Dataset | None = None, name: str = "cc.csv") -> Path:
        return write_csv(tmp_path / name, ds if ds is not None else synthetic_dataset(400))

    return make
