"""The drift reference stored in the manifest: quantile bins of each input feature and of the
served score on the validation split (the most recent data the threshold was chosen on).

The scorer compares its sliding window of live events with these bins (population stability
index, scorer/drift.py). Bins are deciles of the reference rows; tied quantiles (a feature
with many equal values, e.g. Amount 0) merge, so a feature may have fewer bins. `Time` is
left out: it only grows, so it would always "drift".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.manifest import BinnedDistribution, DriftReference

__all__ = ["DEFAULT_BINS", "EXCLUDED", "binned", "drift_reference"]

DEFAULT_BINS = 10
EXCLUDED = frozenset({"Time"})


def binned(values: NDArray[np.float64], bins: int = DEFAULT_BINS) -> BinnedDistribution:
    """Quantile bins of `values` (non-finite values ignored)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return BinnedDistribution(edges=[], fractions=[1.0])
    edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, v, side="left"), minlength=len(edges) + 1)
    fractions = counts / counts.sum()
    return BinnedDistribution(edges=edges.tolist(), fractions=fractions.tolist())


def drift_reference(
    raw: NDArray[np.float64],
    columns: Sequence[str],
    scores: NDArray[np.float64],
    bins: int = DEFAULT_BINS,
) -> DriftReference:
    """Bins of each column of `raw` (named by `columns`, `Time` excluded) and of `scores`."""
    features = {
        name: binned(raw[:, j], bins) for j, name in enumerate(columns) if name not in EXCLUDED
    }
    return DriftReference(rows=int(raw.shape[0]), features=features, score=binned(scores, bins))
