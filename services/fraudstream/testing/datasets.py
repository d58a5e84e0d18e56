"""Synthetic training sets for tests and benchmarks (the producer's generator as a Dataset)."""

from __future__ import annotations

import numpy as np

from fraudstream.producer.synthetic import generate_arrays
from fraudstream.trainer.data import LABEL_COLUMN, RAW_COLUMNS, Dataset, fingerprint

assert RAW_COLUMNS[0] == "Time", "generate_arrays gives V1..V28, Amount and Time apart"

__all__ = ["synthetic_dataset"]


def synthetic_dataset(n: int, seed: int = 42, fraud_rate: float = 0.05) -> Dataset:
    """A Dataset from the producer's synthetic generator (tests and benchmarks)."""
    x, t, y = generate_arrays(n, seed=seed, fraud_rate=fraud_rate)
    return Dataset(
        raw=np.column_stack([np.asarray(t, np.float64), x]),  # Time, V1..V28, Amount
        label=np.asarray(y, np.int64),
        lineage={"source": "synthetic", "rows": n, "seed": seed, "fraud_rate": fraud_rate},
        schema_fingerprint=fingerprint([*RAW_COLUMNS, LABEL_COLUMN]),
    )
