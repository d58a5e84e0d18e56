"""Population stability (PSI) of each input feature and of the score, over a sliding window.

The reference is the model manifest's `drift_reference` (quantile bins of the training
population, written by the trainer). Each micro-batch is binned in one vectorized pass over a
(features x events) float32 matrix: per bin edge, one compare-and-count for every feature at
once (a bin's count is the difference of two "above the edge" counts). float32 and branch-free
compares measured 5x cheaper than a `searchsorted` per feature (binary searches of scattered
keys mispredict). The window keeps the last batches' count matrices and a running total, so a
batch costs O(events x features x bins / sample) and the PSI O(features x bins) when read.

`sample` = k bins every k-th event of the traffic (a global stride that continues across
batches, so every position of a batch takes its turn): a 20,000-event window sampled 1 in 2
still holds 10,000 rows per feature, plenty for 10-bin shares (the PSI's sampling noise is
about bins / rows = 0.001). Measured cost, with and without: docs/benchmarks.md ("Drift").

PSI = sum over bins of (live - ref) * ln(live / ref), both shares floored at 1e-4 so an
empty bin does not give infinity. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25
significant. Until the window holds `min_events` events the PSI is NaN (alerts stay quiet).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.model.manifest import DriftReference

__all__ = ["SCORE", "DriftWindow", "psi"]

SCORE = "score"
FLOOR = 1e-4


def psi(live: NDArray[np.float64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise PSI of count/share matrices `live` and `ref` (same shape; rows normalized).

    Padding bins (zero on both sides) add nothing: both shares floor to the same value."""
    a = np.maximum(live / np.maximum(live.sum(axis=-1, keepdims=True), 1e-300), FLOOR)
    e = np.maximum(ref / np.maximum(ref.sum(axis=-1, keepdims=True), 1e-300), FLOOR)
    return np.asarray(((a - e) * np.log(a / e)).sum(axis=-1), np.float64)


class DriftWindow:
    """Binned counts of the last `window` events (of traffic; every `sample`-th binned) per
    feature and for the score."""

    def __init__(
        self, reference: DriftReference, window: int, min_events: int, sample: int = 1
    ) -> None:
        known = [n for n in reference.features if n in NUMERIC_COLUMNS]
        self.names: list[str] = [*known, SCORE]
        self.columns = np.array([NUMERIC_COLUMNS.index(n) for n in known], np.intp)
        dists = [reference.features[n] for n in known] + [reference.score]
        self.n_bins = max(len(d.fractions) for d in dists)
        # edges and reference shares padded to rectangles: a padded edge is +inf (nothing is
        # above it) and its bin has share 0 on both sides
        self.edges32 = np.full((len(dists), self.n_bins - 1), np.inf, np.float32)
        self.ref = np.zeros((len(dists), self.n_bins))
        for i, d in enumerate(dists):
            self.edges32[i, : len(d.edges)] = d.edges
            self.ref[i, : len(d.fractions)] = d.fractions
        self.window = window
        self.min_events = min_events
        self.sample = max(1, sample)
        self._seen = 0  # traffic events observed so far (for the stride's phase)
        self.total = np.zeros((len(dists), self.n_bins), np.int64)
        self.events = 0
        self._batches: deque[tuple[int, NDArray[np.int64]]] = deque()

    def counts(self, numeric: NDArray[np.float64], scores: NDArray[np.float64]) -> Any:
        """Bin counts (features + score) x bins of the rows, float32 compares only.

        Bin i holds edges[i-1] < x <= edges[i], so its count is #(x > edges[i-1]) -
        #(x > edges[i]): one vectorized compare-and-count per edge over all features at
        once, no per-element search and no index array."""
        m = len(scores)
        v = np.empty((len(self.names), m), np.float32)
        v[:-1] = numeric[:, self.columns].T
        v[-1] = scores
        above = np.zeros((len(self.names), self.n_bins + 1), np.int64)
        above[:, 0] = m
        for j in range(self.n_bins - 1):
            above[:, j + 1] = np.count_nonzero(v > self.edges32[:, j : j + 1], axis=1)
        return above[:, :-1] - above[:, 1:]

    def observe(self, numeric: NDArray[np.float64], scores: NDArray[np.float64]) -> None:
        """Add one batch (rows of the decoded numeric matrix, and their scores)."""
        n = len(scores)
        if n == 0:
            return
        k = self.sample
        start = (-self._seen) % k
        self._seen += n
        counts = self.counts(numeric[start::k], scores[start::k])
        self.total += counts
        self.events += n
        self._batches.append((n, counts))
        while self._batches and self.events - self._batches[0][0] >= self.window:
            old_n, old = self._batches.popleft()
            self.total -= old
            self.events -= old_n

    def values(self) -> dict[str, float]:
        """PSI per feature name (and `score`); NaN until `min_events` events were seen."""
        if self.events < self.min_events:
            return dict.fromkeys(self.names, float("nan"))
        values = psi(self.total.astype(np.float64), self.ref).tolist()
        return dict(zip(self.names, values, strict=True))
