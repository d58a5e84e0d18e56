"""Which model serves, and hot reload: watch the model store (a `models/` directory's
LATEST, or the compacted model topic), load in the background, validate, and publish for
the scoring loop to pick up between batches.

A version that fails to load or validate is refused (a log line and
`fraudstream_model_reloads_total{result="failed"}` per attempt) and the serving model stays;
the failure may be transient (a read error), so the version is tried again with
exponential backoff (interval x 2^failures, at most MAX_RETRY_S). With nothing serving yet
(a fresh scorer), a refused candidate is passed over for the next one the store offers (the
topic store: the next newest version), so one bad record cannot keep a scorer from starting.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fraudstream.errors import FraudstreamError
from fraudstream.model import DirectoryModelStore, ModelStore, NumpyModel
from fraudstream.model.lifecycle import challenger
from fraudstream.scorer.encode import ScoreWriter
from fraudstream.scorer.errors import ModelRejectedError
from fraudstream.serde.ksql_records import NUMERIC_COLUMNS

log = logging.getLogger(__name__)

Matrix = NDArray[np.float64]
_UPPER_NUMERIC = [c.upper() for c in NUMERIC_COLUMNS]


@dataclass(frozen=True)
class ServingModel:
    """A validated model plus what the hot path needs precomputed for it."""

    model: NumpyModel
    version: str
    threshold: float
    input_idx: NDArray[np.intp]  # columns of the decoded numeric matrix, raw_inputs order
    writer: ScoreWriter
    score_is_mean: bool  # score == row mean of feature_errors (one forward pass suffices)

    def score(self, numeric: Matrix) -> tuple[Matrix, Matrix]:
        """(scores, per-feature errors) for decoded numeric rows."""
        x = numeric[:, self.input_idx]
        fe = self.model.feature_errors(x)
        scores = fe.mean(axis=1) if self.score_is_mean else self.model.score(x)
        return np.asarray(scores, np.float64), fe


def canned_batch(n: int = 64, seed: int = 7) -> NDArray[np.float64]:
    """Deterministic plausible events (NUMERIC_COLUMNS order) for validating a new model."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(NUMERIC_COLUMNS)), np.float64)
    x[:, 0] = rng.uniform(0, 172_800, n)  # Time: two days of seconds
    x[:, 1:-1] = rng.normal(0.0, 1.5, (n, len(NUMERIC_COLUMNS) - 2))
    x[:, -1] = rng.lognormal(3.0, 1.5, n)  # Amount
    return x


def prepare(model: NumpyModel, top_k: int = 3) -> ServingModel:
    """Validate `model` for serving; ModelRejectedError says why it cannot serve."""
    missing = [c for c in model.raw_inputs if c.upper() not in _UPPER_NUMERIC]
    if missing:
        raise ModelRejectedError(
            f"model {model.version} needs inputs {missing} that events do not carry "
            f"(available: {', '.join(NUMERIC_COLUMNS)})"
        )
    idx = np.asarray([_UPPER_NUMERIC.index(c.upper()) for c in model.raw_inputs], np.intp)
    batch = canned_batch()[:, idx]
    try:
        fe = model.feature_errors(batch)
        scores = model.score(batch)
    except FraudstreamError as exc:
        raise ModelRejectedError(f"model {model.version} fails on a canned batch: {exc}") from exc
    if fe.shape != (batch.shape[0], len(model.features)):
        raise ModelRejectedError(
            f"model {model.version}: feature_errors shape {fe.shape}, "
            f"expected {(batch.shape[0], len(model.features))}"
        )
    if not (np.isfinite(scores).all() and np.isfinite(fe).all()):
        raise ModelRejectedError(f"model {model.version} gives non-finite scores on a canned batch")
    score_is_mean = bool(np.allclose(fe.mean(axis=1), scores, rtol=1e-12, atol=1e-12))
    return ServingModel(
        model=model,
        version=model.version,
        threshold=float(model.threshold),
        input_idx=idx,
        writer=ScoreWriter(model.threshold, model.version, model.features),
        score_is_mean=score_is_mean,
    )


def with_threshold(serving: ServingModel, threshold: float) -> ServingModel:
    """`serving` alerting at `threshold` instead (a set-threshold override): a new object,
    so the loop swaps it between batches like a new version."""
    return dataclasses.replace(
        serving,
        threshold=float(threshold),
        writer=ScoreWriter(threshold, serving.version, serving.model.features),
    )


MAX_RETRY_S = 300.0  # longest wait before a failed version is tried again


class ModelWatcher:
    """Polls the model store; `current` is the serving model (None until a valid one)."""

    def __init__(
        self,
        store: ModelStore | Path,
        interval_s: float = 1.0,
        top_k: int = 3,
        on_result: Callable[[str, bool, str], None] | None = None,
    ) -> None:
        self.store: ModelStore = (
            DirectoryModelStore(store) if isinstance(store, (str, Path)) else store
        )
        self.interval_s = interval_s
        self.top_k = top_k
        self.current: ServingModel | None = None
        # the version marked candidate, scored in shadow beside `current` (never alerts)
        self.challenger: ServingModel | None = None
        self._refused_challengers: set[str] = set()
        self._on_result = on_result
        # version -> (failed loads, monotonic time of the next attempt): a failure may be
        # transient (a read error while the file is copied), so it is retried with backoff
        self._refused: dict[str, tuple[int, float]] = {}
        self._last_wait_msg = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Load the store's preferred version if it is new, and follow the challenger; True if
        the serving model (or the challenger) changed."""
        changed = self._check_champion()
        return self._follow_challenger() or changed

    def _check_champion(self) -> bool:
        where = self.store.location
        try:
            candidates = self.store.candidates()
        except FraudstreamError as exc:
            self._waiting(f"model store {where} is unusable: {exc}")
            return False
        if not candidates:
            self._waiting(f"no model published in {where} yet; waiting")
            return False
        if self.current is not None and self.current.version == candidates[0]:
            return self._follow_threshold()
        # Serving already: only the preferred version may replace it. Nothing serving: the
        # first candidate that loads.
        for version in candidates if self.current is None else candidates[:1]:
            if self._try(version):
                return True
        return False

    def _try(self, version: str) -> bool:
        failures, retry_at = self._refused.get(version, (0, 0.0))
        if time.monotonic() < retry_at:
            return False
        try:
            serving = prepare(self.store.load(version), self.top_k)
        except FraudstreamError as exc:
            backoff = min(self.interval_s * 2**failures, MAX_RETRY_S)
            self._refused[version] = (failures + 1, time.monotonic() + backoff)
            keep = self.current.version if self.current else "none"
            log.error("model %s refused: %s (still serving: %s)", version, exc, keep)
            self._report(version, False, str(exc))
            return False
        old = self.current.version if self.current else None
        self.current = self._with_override(serving)
        self._refused.pop(version, None)
        log.info("model %s loaded (threshold %.6g); was %s", version, serving.threshold, old)
        self._report(version, True, "")
        return True

    def _override(self, version: str) -> float | None:
        """The store's threshold override for `version` (`fraudstream models set-threshold`);
        None when there is none or the store has no lifecycle (then the manifest's holds)."""
        get = getattr(self.store, "threshold_override", None)
        if get is None:
            return None
        try:
            value = get(version)
        except FraudstreamError as exc:
            log.warning(
                "threshold override of %s unreadable, keeping the current: %s", version, exc
            )
            raise
        return None if value is None else float(value)

    def _with_override(self, serving: ServingModel) -> ServingModel:
        try:
            value = self._override(serving.version)
        except FraudstreamError:
            return serving
        return serving if value is None else with_threshold(serving, value)

    def _follow_threshold(self) -> bool:
        """Apply a changed threshold override to the serving model; True if it changed."""
        current = self.current
        assert current is not None
        try:
            value = self._override(current.version)
        except FraudstreamError:
            return False
        target = float(current.model.threshold) if value is None else value
        if target == current.threshold:
            return False
        self.current = with_threshold(current, target)
        log.info("model %s: threshold %.6g -> %.6g", current.version, current.threshold, target)
        self._report(current.version, True, "")
        return True

    def _follow_challenger(self) -> bool:
        """Load the version marked candidate (`fraudstream models promote --candidate`) as
        `challenger`, or drop it once unmarked; True if it changed. A challenger that fails
        to load is logged and not served (the champion is never affected)."""
        history = getattr(self.store, "history", None)
        if history is None:
            return False
        try:
            wanted = challenger(history())
        except FraudstreamError as exc:
            log.warning("lifecycle history unreadable, challenger unchanged: %s", exc)
            return False
        if self.current is not None and wanted == self.current.version:
            wanted = None  # promoted since: it is the champion now
        have = self.challenger.version if self.challenger is not None else None
        if wanted == have or (wanted is not None and wanted in self._refused_challengers):
            return False
        if wanted is None:
            log.info("challenger %s no longer served", have)
            self.challenger = None
            return True
        try:
            self.challenger = self._with_override(prepare(self.store.load(wanted), self.top_k))
        except FraudstreamError as exc:
            self._refused_challengers.add(wanted)
            log.error("challenger %s refused: %s", wanted, exc)
            return False
        log.info("challenger %s loaded (threshold %.6g)", wanted, self.challenger.threshold)
        return True

    def _waiting(self, msg: str) -> None:
        if self.current is None and msg != self._last_wait_msg:
            log.warning("%s", msg)
        self._last_wait_msg = msg

    def _report(self, version: str, ok: bool, why: str) -> None:
        if self._on_result is not None:
            self._on_result(version, ok, why)

    def start(self) -> None:
        """Check now, then keep checking in a daemon thread."""
        self.check()
        self._thread = threading.Thread(target=self._loop, name="model-watcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Check the store now instead of at the next interval (a model was announced)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.check()
            except Exception:  # never let the watcher die: log and keep watching
                log.exception("model watcher check failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()
