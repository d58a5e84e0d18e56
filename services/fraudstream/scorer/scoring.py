"""Score one decoded batch with the serving model and encode its score records (NumPy only).

Rows whose score is not finite become dead letters (`invalid_value`); the rest get their
score, anomaly flag and the top-k features explaining it, encoded in one call per batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.scorer.reload import ServingModel
from fraudstream.serde.ksql_records import RecordBatch


@dataclass
class Scored:
    """A scored batch: per scorable row its score, anomaly flag, encoded body and key."""

    batch: RecordBatch
    scores: NDArray[np.float64]
    anomalous: NDArray[np.bool_]
    bodies: list[bytes]
    keys: list[bytes]
    # Kafka record timestamps (epoch ms, NaN when absent) of the scored rows: event latency.
    record_ms: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    # The challenger's score records (shadow: never alerts), keys aligned; empty without one.
    shadow_bodies: list[bytes] = field(default_factory=list)
    shadow_keys: list[bytes] = field(default_factory=list)

    @property
    def outputs(self) -> int:
        """Records this batch produces: scores, alerts, dead letters and shadow scores."""
        return (
            len(self.bodies)
            + int(self.anomalous.sum())
            + len(self.batch.dead)
            + len(self.shadow_bodies)
        )


def score_batch(batch: RecordBatch, model: ServingModel, top_k: int, score_prefix: bytes) -> Scored:
    """Score `batch` (mutates it: non-finite rows move to its dead letters)."""
    n = len(batch)
    if n == 0:
        return Scored(batch, np.empty(0), np.zeros(0, np.bool_), [], [])
    scores, fe = model.score(batch.numeric)
    finite = np.isfinite(scores)
    if not bool(finite.all()):
        batch.keep(np.asarray(finite, np.bool_), "invalid_value", ["non-finite score"] * n)
        scores, fe = scores[finite], fe[finite]
    top, share = _explain(fe, top_k)
    anomalous = np.asarray(scores > model.threshold, np.bool_)
    bodies: list[bytes] = model.writer.encode_batch(
        batch.ids, batch.users, batch.numeric[:, -1], scores, anomalous, batch.labels,
        batch.event_ms, int(time.time() * 1000), top, share, score_prefix,
    )  # fmt: skip
    keys = [b"%d" % i for i in batch.ids]
    return Scored(batch, np.asarray(scores, np.float64), anomalous, bodies, keys)


def score_shadow(scored: Scored, challenger: ServingModel, top_k: int, score_prefix: bytes) -> None:
    """Score the batch's scorable rows with the challenger too (after `score_batch`): its
    records go to `scored.shadow_bodies`. A row the challenger cannot score (non-finite) gets
    no shadow record and is not dead-lettered: the champion's result is what counts."""
    batch = scored.batch
    if len(batch) == 0:
        return
    scores, fe = challenger.score(batch.numeric)
    ok = np.isfinite(scores)
    if not bool(ok.all()):
        scores, fe = scores[ok], fe[ok]
    top, share = _explain(fe, top_k)
    anomalous = np.asarray(scores > challenger.threshold, np.bool_)
    ids = _take(batch.ids, ok)
    scored.shadow_bodies = challenger.writer.encode_batch(
        ids, _take(batch.users, ok), batch.numeric[ok, -1], scores, anomalous,
        _take(batch.labels, ok), _take(batch.event_ms, ok), int(time.time() * 1000), top, share,
        score_prefix,
    )  # fmt: skip
    scored.shadow_keys = [b"%d" % i for i in ids]


def _take(values: Any, ok: NDArray[np.bool_]) -> Any:
    """`values` at the rows of `ok` (a list or an array, as the batch holds them)."""
    if bool(ok.all()):
        return values
    if isinstance(values, np.ndarray):
        return values[ok]
    return [v for v, keep in zip(values, ok.tolist(), strict=True) if keep]


def _explain(fe: Any, top_k: int) -> tuple[Any, Any]:
    """The k features with the largest errors per row (largest first) and their shares."""
    k = min(top_k, fe.shape[1])
    rows = np.arange(fe.shape[0])[:, None]  # plain indexing: take_along_axis costs ~10 us a call
    if k < fe.shape[1]:
        top = np.argpartition(-fe, k - 1, axis=1)[:, :k]
        # order the k largest (argpartition leaves them unordered)
        top = top[rows, np.argsort(-fe[rows, top], axis=1, kind="stable")]
    else:
        top = np.argsort(-fe, axis=1, kind="stable")
    total = fe.sum(axis=1, keepdims=True)
    share = fe[rows, top] / np.where(total > 0, total, 1.0)
    return top, share


__all__ = ["Scored", "score_batch", "score_shadow"]
