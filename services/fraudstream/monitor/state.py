"""The monitor's join of scores with labels, and its sliding windows, in compact bounded state.

Scores and labels meet by event Id in whichever order they arrive (a label normally comes
days after its score; after a monitor restart, or with a lagging scorer, it may come first).

Compact: a score is kept as one slot of parallel NumPy columns (Id, version code, score,
alert, score time, label, label time: 38 bytes) plus its Id's entry in a dict of slots
(about 100 bytes), instead of a Python object per event with boxed floats and ints and a
deque of tuples beside it; a window is computed with array masks, not a loop over every row.
benchmarks/bench_monitor_state.py measures it (docs/benchmarks.md).

Bounded, twice: scores older than `retention_ms` (the longest window plus the label horizon)
are evicted, and so are labels waiting longer than that for their score; and at most
`max_events` scores (and as many waiting labels) are held whatever the traffic. When the cap
forces out a score younger than the retention, every window that reaches back to it is
*incomplete*: `window` leaves it out of its answer and `incomplete` names it, so the monitor
exports no figure for it rather than a figure computed on part of its events (never silently
wrong). The window is whole again once its start passes the newest score forced out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fraudstream.monitor.quality import Quality, quality

__all__ = ["LabelDelays", "ScoreRow", "WindowState"]

DAY_MS = 86_400_000
_MIN_CAPACITY = 1024


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
    """Scores joined with labels, per event Id, evicted after `retention_ms` or beyond
    `max_events` (oldest read first)."""

    def __init__(self, retention_ms: int, max_events: int = 5_000_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.retention_ms = retention_ms
        self.max_events = max_events
        # Slots [head, tail) of the columns are live, in the order the scores were read; a
        # slot's absolute number (never reused) is `base + index`, so compaction only moves
        # `base` and the Id -> slot dict stays valid.
        cap = min(_MIN_CAPACITY, max_events)
        self._version = np.zeros(cap, np.int32)
        self._score = np.zeros(cap, np.float64)
        self._alert = np.zeros(cap, np.bool_)
        self._scored = np.zeros(cap, np.int64)
        self._label = np.zeros(cap, np.int8)
        self._label_ms = np.zeros(cap, np.int64)
        self._ids = np.zeros(cap, np.int64)
        self._head = self._tail = self._base = 0
        self._slot: dict[int, int] = {}  # event id -> absolute slot
        self._versions: list[str] = []
        self._codes: dict[str, int] = {}
        self.waiting: dict[int, tuple[int, int]] = {}  # id -> (label, label_ms) before its score
        self._waiting_order: deque[tuple[int, int]] = deque()
        self.duplicates = 0
        self.dropped_scores = 0  # forced out by max_events before their retention
        self.dropped_labels = 0  # waiting labels forced out by max_events
        self._dropped_until_ms: int | None = None  # newest score time forced out

    def __len__(self) -> int:
        return self._tail - self._head

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._slot

    # ------------------------------------------------------------------ input
    def add_score(self, event_id: int, row: ScoreRow) -> bool:
        """A score; at-least-once delivery may repeat one: the first is kept (False for a
        repeat)."""
        if event_id in self._slot:
            self.duplicates += 1
            return False
        if len(self) >= self.max_events:
            self._drop_oldest()
        if self._tail == len(self._score):
            self._make_room()
        i = self._tail
        code = self._codes.get(row.version)
        if code is None:
            code = self._codes[row.version] = len(self._versions)
            self._versions.append(row.version)
        early = self.waiting.pop(event_id, None)
        label, label_ms = early if early is not None else (row.label, row.label_ms)
        self._version[i] = code
        self._score[i] = row.score
        self._alert[i] = row.alert
        self._scored[i] = row.scored_ms
        self._label[i] = label
        self._label_ms[i] = label_ms
        self._ids[i] = event_id
        self._slot[event_id] = self._base + i
        self._tail += 1
        return True

    def add_label(self, event_id: int, label: int, label_ms: int) -> None:
        """A label: joins its score now, or waits for it."""
        slot = self._slot.get(event_id)
        if slot is not None:
            i = slot - self._base
            self._label[i], self._label_ms[i] = label, label_ms
            return
        if event_id not in self.waiting:
            while len(self.waiting) >= self.max_events:  # the order may hold joined ids
                _, old = self._waiting_order.popleft()
                if self.waiting.pop(old, None) is not None:
                    self.dropped_labels += 1
        self.waiting[event_id] = (label, label_ms)
        self._waiting_order.append((label_ms, event_id))

    def evict(self, now_ms: int) -> None:
        """Drop scores read before the retention's cutoff, and labels waiting longer."""
        cutoff = now_ms - self.retention_ms
        while self._head < self._tail and self._scored[self._head] < cutoff:
            self._slot.pop(int(self._ids[self._head]), None)
            self._head += 1
        while self._waiting_order and self._waiting_order[0][0] < cutoff:
            _, event_id = self._waiting_order.popleft()
            self.waiting.pop(event_id, None)

    def _drop_oldest(self) -> None:
        i = self._head
        self._slot.pop(int(self._ids[i]), None)
        scored = int(self._scored[i])
        if self._dropped_until_ms is None or scored > self._dropped_until_ms:
            self._dropped_until_ms = scored
        self.dropped_scores += 1
        self._head += 1

    def _make_room(self) -> None:
        """Move the live slots to the front, and grow if more than half full (the columns stop
        at 1.5 x max_events, so a full state compacts once per max_events / 2 scores)."""
        live = len(self)
        cap = len(self._score)
        if live > cap // 2:  # at the ceiling, compaction alone frees >= max_events / 2 slots
            cap = min(2 * cap, self.max_events + self.max_events // 2 + 1)
        for name in ("_version", "_score", "_alert", "_scored", "_label", "_label_ms", "_ids"):
            old: NDArray[np.generic] = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[:live] = old[self._head : self._tail]
            setattr(self, name, new)
        self._base += self._head
        self._head, self._tail = 0, live

    # ------------------------------------------------------------------ output
    def versions(self) -> set[str]:
        live = np.unique(self._version[self._head : self._tail])
        return {self._versions[int(c)] for c in live}

    def incomplete(self, now_ms: int, window_ms: int) -> bool:
        """True when `max_events` forced out a score this window covers."""
        return self._dropped_until_ms is not None and now_ms - window_ms <= self._dropped_until_ms

    def window(
        self, now_ms: int, window_ms: int, *, k: int, prevalence: float
    ) -> dict[str, tuple[Quality, LabelDelays]]:
        """Quality and label delays per model version over the events scored in the window;
        empty when the window is incomplete (see the module docstring)."""
        if self.incomplete(now_ms, window_ms):
            return {}
        h, t = self._head, self._tail
        sel = self._scored[h:t] >= now_ms - window_ms
        codes = self._version[h:t][sel]
        score, alert = self._score[h:t][sel], self._alert[h:t][sel]
        label = self._label[h:t][sel].astype(np.int64)
        scored, labelled_at = self._scored[h:t][sel], self._label_ms[h:t][sel]
        out: dict[str, tuple[Quality, LabelDelays]] = {}
        for code in np.unique(codes).tolist():
            m = codes == code
            lab, sc = label[m], scored[m]
            q = quality(score[m], alert[m], lab, sc // DAY_MS, k=k, prevalence=prevalence)
            known = lab >= 0
            delays = np.maximum(labelled_at[m][known] - sc[known], 0) / 1000.0
            if delays.size:
                p50, p90 = np.quantile(delays, [0.5, 0.9]).tolist()
                d = LabelDelays(p50, p90, float(delays.max()))
            else:
                d = LabelDelays(float("nan"), float("nan"), float("nan"))
            out[self._versions[code]] = (q, d)
        return out
