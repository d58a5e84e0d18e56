"""Delayed labels: hold each event's label back and publish it later to its own topic.

In production the label of a card transaction (fraud or not) arrives days after the event,
through chargebacks and investigations. With `--labels delayed` the producer sends the live
event with `Class` null and publishes `{"Id", "Class", "LabelTime"}` (JSON, key = the event
Id) to the labels topic once the label's delay has passed. The delay is drawn per event from a
`LabelDelay` distribution: seconds for demos, days to mimic reality. KSQL joins the labels back
to their events for training (ksql/06_labels.sql); the monitor joins them to the scores.

The held labels live in a heap ordered by due time; `publish_due` is called from the replay
loop as events are pulled, so no extra thread is needed. Labels still pending when the run
ends are published as they fall due for up to `drain_s` seconds; whatever is left is counted
as pending (never published early: an early label would lie about the delay).
"""

from __future__ import annotations

import heapq
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel

from fraudstream.kafka import producer_config
from fraudstream.producer.errors import SourceError

__all__ = ["DelayedLabels", "LabelDelay", "LabelStats", "label_record", "parse_duration_s"]

log = logging.getLogger(__name__)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h|d)?\s*$")


def parse_duration_s(text: str) -> float:
    """'250ms', '5', '5s', '2m', '1.5h', '3d' -> seconds (a bare number is seconds)."""
    m = _DURATION.match(text)
    if m is None:
        raise SourceError(f"{text!r} is not a duration (e.g. 500ms, 5s, 2m, 1.5h, 3d)")
    return float(m[1]) * _UNITS[m[2] or "s"]


@dataclass(frozen=True)
class LabelDelay:
    """How long a label waits after its event: `fixed:D`, `uniform:A,B` or `exp:MEAN`
    (durations as `parse_duration_s` reads them, e.g. `exp:10s`, `uniform:1d,30d`)."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> LabelDelay:
        kind, sep, args = spec.partition(":")
        kind = kind.strip().lower()
        parts = [p for p in args.split(",")] if sep else []
        try:
            if kind == "fixed" and len(parts) == 1:
                return cls("fixed", parse_duration_s(parts[0]))
            if kind == "exp" and len(parts) == 1:
                return cls("exp", parse_duration_s(parts[0]))
            if kind == "uniform" and len(parts) == 2:
                lo, hi = parse_duration_s(parts[0]), parse_duration_s(parts[1])
                if hi < lo:
                    raise SourceError(f"uniform delay needs A <= B (got {spec!r})")
                return cls("uniform", lo, hi)
        except SourceError as exc:
            raise SourceError(f"label delay {spec!r}: {exc}") from None
        raise SourceError(
            f"label delay {spec!r}: expected fixed:D, uniform:A,B or exp:MEAN (e.g. exp:10s)"
        )

    def sample(self, rng: np.random.Generator, n: int) -> Any:
        """n delays in seconds (a NumPy array)."""
        if self.kind == "fixed":
            return np.full(n, self.a)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, n)
        return rng.exponential(self.a, n)

    def __str__(self) -> str:
        if self.kind == "uniform":
            return f"uniform:{self.a:g}s,{self.b:g}s"
        return f"{self.kind}:{self.a:g}s"


class LabelStats(BaseModel):
    """What happened to the labels of one run."""

    topic: str
    held: int = 0
    published: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = []


def label_record(event_id: int, label: int, at_s: float) -> tuple[bytes, bytes]:
    """(key, value) of one label: key = the event Id, value = {"Id", "Class", "LabelTime"}."""
    when = datetime.fromtimestamp(at_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return b"%d" % event_id, orjson.dumps({"Id": event_id, "Class": label, "LabelTime": when})


class DelayedLabels:
    """Holds labels back and publishes them to `topic` once due."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        delay: LabelDelay,
        seed: int = 0,
        share: float = 1.0,
        drain_s: float = 60.0,
        producer_overrides: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.delay = delay
        self.share = share
        self.drain_s = drain_s
        self.clock = clock
        self.stats = LabelStats(topic=topic)
        self._rng = np.random.default_rng(seed)
        self._delays: list[float] = []
        self._heap: list[tuple[float, int, int]] = []  # (due, event id, label)
        conf = producer_config(bootstrap)
        conf.update(producer_overrides or {})
        conf["on_delivery"] = self._delivered
        self._producer = Producer(conf)

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.stats.delivered += 1
            return
        self.stats.failed += 1
        if len(self.stats.errors) < 10:
            self.stats.errors.append(str(err))

    def _next_delay(self) -> float:
        if not self._delays:
            self._delays = self.delay.sample(self._rng, 1024).tolist()
            self._delays.reverse()
        return self._delays.pop()

    def hold(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The event to publish now (Class null); its label is scheduled when it has one.

        With `share` < 1 some labels never arrive (as in production, where most normal
        transactions are never confirmed); those events stay unlabelled for good.
        """
        out = dict(event)
        label = out.get("Class")
        out["Class"] = None
        if label is not None and (self.share >= 1.0 or self._rng.random() < self.share):
            due = self.clock() + self._next_delay()
            heapq.heappush(self._heap, (due, int(out["Id"]), int(label)))
            self.stats.held += 1
        return out

    def publish_due(self) -> int:
        """Publish every label whose time has come; returns how many."""
        now = self.clock()
        n = 0
        while self._heap and self._heap[0][0] <= now:
            _due, event_id, label = heapq.heappop(self._heap)
            key, value = label_record(event_id, label, now)
            while True:
                try:
                    self._producer.produce(self.topic, value, key)
                    break
                except BufferError:
                    self._producer.poll(0.05)
            n += 1
        if n:
            self.stats.published += n
            self._producer.poll(0)
        return n

    @property
    def pending(self) -> int:
        return len(self._heap)

    def wrap(self, events: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """The events with their labels held back, publishing due labels as they go."""
        for ev in events:
            yield self.hold(ev)
            if self._heap and self._heap[0][0] <= self.clock():
                self.publish_due()

    def close(self, flush_timeout: float = 30.0) -> LabelStats:
        """Publish the rest as they fall due (up to `drain_s`), flush, and account."""
        deadline = time.monotonic() + self.drain_s
        while self._heap and time.monotonic() < deadline:
            self.publish_due()
            wait = self._heap[0][0] - self.clock() if self._heap else 0.0
            time.sleep(min(max(wait, 0.0), 0.2, max(deadline - time.monotonic(), 0.0)))
        left = self._producer.flush(flush_timeout)
        self.stats.failed += left
        self.stats.pending = len(self._heap)
        if self.stats.pending:
            log.warning(
                "%d labels still pending after %.0fs (not published)",
                self.stats.pending,
                self.drain_s,
            )
        return self.stats

    def summary(self) -> str:
        s = self.stats
        return (
            f"labels ({self.delay}): {s.held} held, {s.published} published, "
            f"{s.delivered} delivered, {s.failed} failed, {s.pending} pending to {s.topic}"
        )
