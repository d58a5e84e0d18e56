"""The monitor's join of scores with labels, and its sliding windows, in compact bounded state.

Scores and labels meet by event Id in whichever order they arrive (a label normally comes
days after its score; after a monitor restart, or with a lagging scorer, it may come first).

Compact: a score is one slot of parallel NumPy columns (Id, version code, score, alert, score
time, label, label time: 38 bytes) and one 4-byte cell of an Id index, instead of a Python
object per event; a window is computed with array masks, not a loop over every row.

Flat: the memory a steady stream needs is reached once and then reused, so the process's RSS
stops growing when the retention has filled (issue 21, the soak). The columns are a ring: a
score is written at the tail, evicted at the head, and a slot is reused without moving the
others, so no copy is ever made while the state is not full, and the ring's pages, once
touched, stay in use. The Id index is an open-addressing table of ring slots in a NumPy array
(linear probing, keys read from the Id column, deletion by backward shift: no tombstones,
nothing to rebuild under churn). The ring grows (x1.5, and the index with it, rebuilt at once)
only when it is full, never beyond `max_events`. The previous design (columns that were copied
and doubled on every compaction, up to 1.5 x max_events, and a dict of Id -> slot: ~100 bytes
per score plus two Python ints, with deleted entries piling up until the dict resized) kept
touching new pages long after the retention had filled; docs/reliability.md has the figures.

Bounded, twice: scores older than `retention_ms` (the longest window plus the label horizon)
are evicted, and so are labels waiting longer than that for their score (both counted: a
score that leaves without its label, a label whose score never came); and at most
`max_events` scores (and as many waiting labels) are held whatever the traffic. When the cap
forces out a score younger than the retention, every window that reaches back to it is
*incomplete*: `window` leaves it out of its answer and `incomplete` names it, so the monitor
exports no figure for it rather than a figure computed on part of its events (never silently
wrong). The window is whole again once its start passes the newest score forced out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.monitor.quality import Quality, quality

__all__ = ["MAX_EVENTS", "LabelDelays", "ScoreRow", "WindowState"]

DAY_MS = 86_400_000
MAX_EVENTS = 1 << 30  # ring slots are int32 in the index
_MIN_CAPACITY = 1024
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: Ids in sequence spread over the table
_M64 = (1 << 64) - 1
_COLUMNS = {
    "_ids": np.int64,
    "_version": np.int32,
    "_score": np.float64,
    "_alert": np.bool_,
    "_scored": np.int64,
    "_label": np.int8,
    "_label_ms": np.int64,
}


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

    _ids: NDArray[np.int64]
    _version: NDArray[np.int32]
    _score: NDArray[np.float64]
    _alert: NDArray[np.bool_]
    _scored: NDArray[np.int64]
    _label: NDArray[np.int8]
    _label_ms: NDArray[np.int64]
    _table: NDArray[np.int32]

    def __init__(self, retention_ms: int, max_events: int = 5_000_000) -> None:
        if not 1 <= max_events <= MAX_EVENTS:
            raise ValueError(f"max_events must be between 1 and {MAX_EVENTS}")
        self.retention_ms = retention_ms
        self.max_events = max_events
        # Ring slots [head, head + n) modulo the capacity are live, in the order read.
        self._head = self._n = 0
        self._alloc(min(_MIN_CAPACITY, max_events))
        self._versions: list[str] = []
        self._codes: dict[str, int] = {}
        self.waiting: dict[int, tuple[int, int]] = {}  # id -> (label, label_ms) before its score
        self._waiting_order: deque[tuple[int, int]] = deque()  # (label_ms, id), oldest first
        self.duplicates = 0
        self.dropped_scores = 0  # forced out by max_events before their retention
        self.dropped_labels = 0  # waiting labels forced out by max_events
        self.expired_unlabelled = 0  # scores evicted at the retention without their label
        self.expired_labels = 0  # labels evicted at the retention without their score
        self._dropped_until_ms: int | None = None  # newest score time forced out

    def __len__(self) -> int:
        return self._n

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, int) and self._probe(event_id)[1] >= 0

    @property
    def capacity(self) -> int:
        """Ring slots allocated (held scores never exceed it; it never exceeds max_events)."""
        return len(self._ids)

    def nbytes(self) -> int:
        """Bytes of the columns and the Id index (the state's size but for waiting labels)."""
        return sum(getattr(self, name).nbytes for name in _COLUMNS) + self._table.nbytes

    # ------------------------------------------------------------------ input
    def add_score(self, event_id: int, row: ScoreRow) -> bool:
        """A score; at-least-once delivery may repeat one: the first is kept (False for a
        repeat)."""
        bucket, found = self._probe(event_id)
        if found >= 0:
            self.duplicates += 1
            return False
        if self._n >= self.max_events:
            self._drop_oldest()
            bucket = self._probe(event_id)[0]  # the deletion may have shifted the run
        elif self._n == self.capacity:
            self._grow()
            bucket = self._probe(event_id)[0]
        code = self._codes.get(row.version)
        if code is None:
            code = self._codes[row.version] = len(self._versions)
            self._versions.append(row.version)
        early = self.waiting.pop(event_id, None)
        label, label_ms = early if early is not None else (row.label, row.label_ms)
        i = self._head + self._n
        if i >= self.capacity:
            i -= self.capacity
        self._m_ids[i] = event_id
        self._m_version[i] = code
        self._m_score[i] = row.score
        self._m_alert[i] = row.alert
        self._m_scored[i] = row.scored_ms
        self._m_label[i] = label
        self._m_label_ms[i] = label_ms
        self._m_table[bucket] = i
        self._n += 1
        return True

    def add_label(self, event_id: int, label: int, label_ms: int) -> None:
        """A label: joins its score now, or waits for it."""
        i = self._probe(event_id)[1]
        if i >= 0:
            self._m_label[i], self._m_label_ms[i] = label, label_ms
            return
        if event_id not in self.waiting:
            while len(self.waiting) >= self.max_events:  # the order may hold joined ids
                old_ms, old = self._waiting_order.popleft()
                if self._unwait(old, old_ms):
                    self.dropped_labels += 1
        self.waiting[event_id] = (label, label_ms)
        self._waiting_order.append((label_ms, event_id))
        if len(self._waiting_order) > 2 * len(self.waiting) + _MIN_CAPACITY:
            # entries of labels that have joined since: compact, so the order stays bounded
            # by the waiting labels, not by every label that ever waited in the retention
            live = sorted((ms, eid) for eid, (_, ms) in self.waiting.items())
            self._waiting_order = deque(live)

    def evict(self, now_ms: int) -> None:
        """Drop scores read before the retention's cutoff, and labels waiting longer."""
        cutoff = now_ms - self.retention_ms
        scored, label = self._m_scored, self._m_label
        while self._n and scored[self._head] < cutoff:
            if label[self._head] < 0:
                self.expired_unlabelled += 1
            self._pop_head()
        while self._waiting_order and self._waiting_order[0][0] < cutoff:
            ms, event_id = self._waiting_order.popleft()
            if self._unwait(event_id, ms):
                self.expired_labels += 1

    def _unwait(self, event_id: int, label_ms: int) -> bool:
        """Forget a waiting label if this order entry is its latest (a label repeated later
        waits from its latest time)."""
        w = self.waiting.get(event_id)
        if w is None or w[1] > label_ms:
            return False
        del self.waiting[event_id]
        return True

    def _drop_oldest(self) -> None:
        scored = int(self._m_scored[self._head])
        if self._dropped_until_ms is None or scored > self._dropped_until_ms:
            self._dropped_until_ms = scored
        self.dropped_scores += 1
        self._pop_head()

    # ------------------------------------------------------------------ ring and index
    def _alloc(self, capacity: int) -> None:
        """Columns of `capacity` slots and an empty index for them (load factor <= 1/2).
        Written through at once (np.full, not np.zeros, whose large arrays the kernel maps
        lazily): the RSS they add comes now, not page by page during the ring's first lap."""
        for name, dtype in _COLUMNS.items():
            setattr(self, name, np.full(capacity, 0, dtype))
        bits = (2 * capacity - 1).bit_length()
        self._table = np.full(1 << bits, -1, np.int32)  # bucket -> ring slot, -1 empty
        self._mask = (1 << bits) - 1
        self._shift = 64 - bits
        self._views()

    def _views(self) -> None:
        # memoryviews: scalar reads and writes from Python cost about half NumPy's indexing
        self._m_ids = self._ids.data
        self._m_version = self._version.data
        self._m_score = self._score.data.cast("B").cast("d")
        self._m_alert = self._alert.data.cast("B").cast("?")
        self._m_scored = self._scored.data
        self._m_label = self._label.data
        self._m_label_ms = self._label_ms.data
        self._m_table = self._table.data

    def _hash(self, event_id: int) -> int:
        return ((event_id * _GOLDEN) & _M64) >> self._shift

    def _probe(self, event_id: int) -> tuple[int, int]:
        """(bucket, ring slot) of `event_id`, or (the empty bucket that ends its run, -1)."""
        table, ids, mask = self._m_table, self._m_ids, self._mask
        b = ((event_id * _GOLDEN) & _M64) >> self._shift
        while True:
            i: int = table[b]
            if i < 0 or ids[i] == event_id:
                return b, i
            b = (b + 1) & mask

    def _pop_head(self) -> None:
        """Remove the oldest score: its index cell, then close the gap (backward shift)."""
        table, ids, mask, shift = self._m_table, self._m_ids, self._mask, self._shift
        h = self._head
        b = ((ids[h] * _GOLDEN) & _M64) >> shift
        while table[b] != h:
            b = (b + 1) & mask
        hole = j = b
        while True:
            j = (j + 1) & mask
            i = table[j]
            if i < 0:
                break
            home = ((ids[i] * _GOLDEN) & _M64) >> shift
            # the entry at j may move back to the hole unless its home lies in (hole, j]
            if (hole < home <= j) if hole <= j else (home > hole or home <= j):
                continue
            table[hole] = i
            hole = j
        table[hole] = -1
        self._head = h + 1 if h + 1 < self.capacity else 0
        self._n -= 1

    def _grow(self) -> None:
        """The ring is full and below max_events: x1.5 (in order from slot 0), index rebuilt."""
        cap = min(self.max_events, max(self.capacity + 1, self.capacity * 3 // 2))
        live = {name: self._column(name) for name in _COLUMNS}
        self._alloc(cap)
        for name, values in live.items():
            getattr(self, name)[: len(values)] = values
        self._head = 0
        self._index_all()

    def _column(self, name: str) -> NDArray[Any]:
        """A column's live slots in the order read (a copy)."""
        col: NDArray[Any] = getattr(self, name)
        return np.concatenate([col[a:b] for a, b in self._runs()])

    def _runs(self) -> list[tuple[int, int]]:
        """The live slots as at most two ranges of the ring, oldest first."""
        end = self._head + self._n
        if end <= self.capacity:
            return [(self._head, end)]
        return [(self._head, self.capacity), (0, end - self.capacity)]

    def _index_all(self) -> None:
        """Insert every live slot into the (empty) index at once: each round places, per
        free bucket, one of the Ids probing it; the others move one bucket on."""
        slots = np.concatenate([np.arange(a, b) for a, b in self._runs()])
        bucket = self._hash_many(self._ids[slots])
        todo = np.arange(len(slots))
        table = self._table
        while len(todo):
            free = todo[table[bucket[todo]] < 0]
            _, first = np.unique(bucket[free], return_index=True)
            won = free[first]
            table[bucket[won]] = slots[won]
            todo = todo[table[bucket[todo]] != slots[todo]]
            bucket[todo] = (bucket[todo] + 1) & self._mask

    def _hash_many(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """`_hash` of every Id (uint64 arithmetic wraps as `& _M64` does)."""
        h = ids.astype(np.uint64) * np.uint64(_GOLDEN) >> np.uint64(self._shift)
        return h.astype(np.int64)

    # ------------------------------------------------------------------ output
    def versions(self) -> set[str]:
        live = np.unique(self._column("_version"))
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
        # The window's slots as a mask per live run (1 byte a slot, not an 8-byte index), each
        # column copied once; with one model version its arrays are used as they are (a
        # refresh's working memory is what a pod's limit must allow for: docs/reliability.md).
        start = now_ms - window_ms
        runs = [(a, b, self._scored[a:b] >= start) for a, b in self._runs()]
        codes = _take(self._version, runs)
        score, alert, label = (_take(c, runs) for c in (self._score, self._alert, self._label))
        scored, labelled_at = _take(self._scored, runs), _take(self._label_ms, runs)
        del runs
        present = np.flatnonzero(np.bincount(codes, minlength=1)).tolist()
        out: dict[str, tuple[Quality, LabelDelays]] = {}
        for code in present:
            m = slice(None) if len(present) == 1 else codes == code
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


def _take(col: NDArray[Any], runs: list[tuple[int, int, NDArray[np.bool_]]]) -> NDArray[Any]:
    """The slots of `col` that the (start, end, mask) runs select, oldest first (a copy)."""
    parts = [col[a:b][sel] for a, b, sel in runs]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
