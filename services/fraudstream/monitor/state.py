"""The monitor's join of scores with labels, and its sliding windows.

Scores and labels meet by event Id in whichever order they arrive (a label normally comes
days after its score; after a monitor restart, or with a lagging scorer, it may come first).
State is bounded: scores older than `retention_ms` (the longest window plus the label horizon)
are evicted, and so are labels waiting longer than that for their score. A window covers the
events *scored* in its last `window_ms`; their labels count whenever they arrived.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from fraudstream.monitor.quality import Quality, quality

__all__ = ["LabelDelays", "ScoreRow", "WindowState"]

DAY_MS = 86_400_000


@dataclass(slots=True)
class ScoreRow:
    """One scored event: what the monitor keeps of a fraud_scores record."""

    version: str
    score: float
    alert: bool
    scored_ms: int
    label: int = -1
    label_ms: int = 0


@dataclass(frozen=True)
class LabelDelays:
    """Label delay (label record time - score time) of the window's labelled events."""

    p50_s: float
    p90_s: float
    max_s: float


class WindowState:
    """Scores joined with labels, per event Id, evicted after `retention_ms`."""

    def __init__(self, retention_ms: int) -> None:
        self.retention_ms = retention_ms
        self.rows: dict[int, ScoreRow] = {}
        self._order: deque[tuple[int, int]] = deque()  # (scored_ms, id), arrival order
        self.waiting: dict[int, tuple[int, int]] = {}  # id -> (label, label_ms) before its score
        self._waiting_order: deque[tuple[int, int]] = deque()
        self.duplicates = 0

    def add_score(self, event_id: int, row: ScoreRow) -> bool:
        """A score; at-least-once delivery may repeat one: the first is kept (False for a
        repeat)."""
        if event_id in self.rows:
            self.duplicates += 1
            return False
        early = self.waiting.pop(event_id, None)
        if early is not None:
            row.label, row.label_ms = early
        self.rows[event_id] = row
        self._order.append((row.scored_ms, event_id))
        return True

    def add_label(self, event_id: int, label: int, label_ms: int) -> None:
        """A label: joins its score now, or waits for it."""
        row = self.rows.get(event_id)
        if row is not None:
            row.label, row.label_ms = label, label_ms
            return
        self.waiting[event_id] = (label, label_ms)
        self._waiting_order.append((label_ms, event_id))

    def evict(self, now_ms: int) -> None:
        cutoff = now_ms - self.retention_ms
        while self._order and self._order[0][0] < cutoff:
            _, event_id = self._order.popleft()
            self.rows.pop(event_id, None)
        while self._waiting_order and self._waiting_order[0][0] < cutoff:
            _, event_id = self._waiting_order.popleft()
            self.waiting.pop(event_id, None)

    def versions(self) -> set[str]:
        return {r.version for r in self.rows.values()}

    def window(
        self, now_ms: int, window_ms: int, *, k: int, prevalence: float
    ) -> dict[str, tuple[Quality, LabelDelays]]:
        """Quality and label delays per model version over the events scored in the window."""
        since = now_ms - window_ms
        by_version: dict[str, list[ScoreRow]] = {}
        for r in self.rows.values():
            if r.scored_ms >= since:
                by_version.setdefault(r.version, []).append(r)
        out: dict[str, tuple[Quality, LabelDelays]] = {}
        for version, rows in by_version.items():
            score = np.fromiter((r.score for r in rows), np.float64, len(rows))
            alert = np.fromiter((r.alert for r in rows), np.bool_, len(rows))
            label = np.fromiter((r.label for r in rows), np.int64, len(rows))
            scored = np.fromiter((r.scored_ms for r in rows), np.int64, len(rows))
            labelled_at = np.fromiter((r.label_ms for r in rows), np.int64, len(rows))
            q = quality(score, alert, label, scored // DAY_MS, k=k, prevalence=prevalence)
            known = label >= 0
            delays = np.maximum(labelled_at[known] - scored[known], 0) / 1000.0
            if delays.size:
                p50, p90 = np.quantile(delays, [0.5, 0.9]).tolist()
                d = LabelDelays(p50, p90, float(delays.max()))
            else:
                d = LabelDelays(float("nan"), float("nan"), float("nan"))
            out[version] = (q, d)
        return out
