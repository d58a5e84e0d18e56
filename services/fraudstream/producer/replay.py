"""Publish raw events as JSON to the source topic: rate-controlled, idempotent, accounted.

Delivery accounting without a Python callback per message: the producer asks librdkafka for
error reports only (`delivery.report.only.error`), so every message that is neither reported
failed nor still queued after the final flush was acknowledged by the broker (acks=all,
idempotent). That keeps the hot loop at dict -> orjson -> produce.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fraudstream.kafka import producer_config
from fraudstream.producer.errors import SourceError
from fraudstream.producer.ratelimit import TokenBucket

log = logging.getLogger(__name__)

Event = Mapping[str, Any]
EventSource = Iterable[Event] | Callable[[int], Iterable[Event]]
Record = tuple[str | bytes, bytes]  # (key, value) already encoded
RecordSource = Iterable[Record] | Callable[[int], Iterable[Record]]
MAX_ERRORS_KEPT = 10
QUEUE_MAX_KBYTES = 64 * 1024
DEFAULT_COMPRESSION = "lz4"


class ReplayStats(BaseModel):
    """The outcome of a replay.

    `failed` = delivery failures reported by the broker + events still unconfirmed after the
    final flush + (for `replay`) events that could not be encoded and were never sent.
    """

    topic: str
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    passes: int = 0
    interrupted: bool = False
    errors: list[str] = Field(default_factory=list, description="First failure reasons.")

    @property
    def rate(self) -> float:
        """Delivered events per second of wall time."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Every event was delivered (none failed, none invalid)."""
        return self.failed == 0 and self.delivered == self.produced

    def summary(self) -> str:
        """The end-of-run line."""
        state = " (interrupted)" if self.interrupted else ""
        return (
            f"replay{state}: {self.produced} produced, {self.delivered} delivered, "
            f"{self.failed} failed to {self.topic} in {self.elapsed_s:.2f}s "
            f"({self.rate:,.0f} events/s, {self.passes} pass(es))"
            + (f"; first error: {self.errors[0]}" if self.errors else "")
        )


def _passes(events: Any, loop: bool) -> Iterator[Iterable[Any]]:
    """The iterables to publish one after the other (one, or endlessly many when looping)."""
    if callable(events):
        k = 0
        while True:
            yield events(k)
            k += 1
            if not loop:
                return
    if loop and iter(events) is events:
        raise SourceError(
            "loop needs a re-iterable source (a list, or a callable pass -> events), "
            "not a one-shot iterator"
        )
    while True:
        yield events
        if not loop:
            return


class _Progress:
    """Rich progress bar on a terminal, else a log line every `every_s` seconds."""

    def __init__(self, enabled: bool, total: int | None, topic: str, every_s: float = 5.0):
        self.enabled = enabled
        self.every_s = every_s
        self._next_log = time.monotonic() + every_s
        self._bar: Progress | None = None
        self._task: Any = None
        if enabled:
            self._bar = Progress(
                TextColumn(f"[bold]→ {topic}"),
                BarColumn(),
                TextColumn("{task.completed:,} produced"),
                TextColumn("[green]{task.fields[delivered]:,} delivered"),
                TextColumn("[red]{task.fields[failed]:,} failed"),
                TextColumn("{task.fields[rate]:,.0f} ev/s"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task("replay", total=total, delivered=0, failed=0, rate=0)
            self._bar.start()

    def update(self, produced: int, delivered: int, failed: int, elapsed: float) -> None:
        rate = delivered / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.update(
                self._task, completed=produced, delivered=delivered, failed=failed, rate=rate
            )
        elif time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self.every_s
            log.info(
                "replay: %d produced, %d delivered, %d failed, %.0f events/s",
                produced, delivered, failed, rate,
            )  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _poll_mask(rate: float) -> int:
    """Bit mask for `produced & mask == 0`: poll and refresh progress about 10-100x a second."""
    if rate <= 0 or rate >= 20_000:
        return 1023
    if rate >= 1_000:
        return 63
    return 0


def replay(
    events: EventSource,
    *,
    bootstrap: str,
    topic: str,
    rate: float = 0.0,
    limit: int | None = None,
    loop: bool = False,
    progress: bool = False,
    burst: float = 0.0,
    flush_timeout: float = 60.0,
    producer_overrides: Mapping[str, Any] | None = None,
    total_hint: int | None = None,
    key_field: str = "User",
) -> ReplayStats:
    """Publish raw-event dicts as JSON (key = `key_field`) to `topic`; account every delivery.

    `events`: an iterable of raw-event dicts, or a callable `pass_index -> iterable` (with
    `loop` the callable is asked for pass 0, 1, 2, ... so it can shift Ids and times; a
    list is simply re-iterated). `rate` > 0: token bucket at that many events/s (`burst` =
    capacity); 0 = as fast as possible. `limit`: stop after that many events in total (across
    passes). Ctrl-C stops producing, flushes what was sent and returns with `interrupted=True`.
    """
    dumps = orjson.dumps
    invalid: list[str] = []  # events that cannot be encoded: counted as failed, not sent

    def encode(batch: Iterable[Event]) -> Iterator[Record]:
        for ev in batch:
            try:
                yield ev[key_field], dumps(ev)
            except (KeyError, TypeError, orjson.JSONEncodeError) as exc:
                what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                invalid.append(f"invalid event (Id {_event_id(ev)}): {what}")

    if callable(events):
        factory = events
        source: RecordSource = lambda k: encode(factory(k))  # noqa: E731
    else:
        if loop and iter(events) is events:
            raise SourceError("loop needs a re-iterable source, not a one-shot iterator")
        seq = events
        source = lambda k: encode(seq)  # noqa: E731
        if not loop:
            source = encode(seq)
    stats = replay_records(
        source,
        bootstrap=bootstrap,
        topic=topic,
        rate=rate,
        limit=limit,
        loop=loop,
        progress=progress,
        burst=burst,
        flush_timeout=flush_timeout,
        producer_overrides=producer_overrides,
        total_hint=total_hint,
    )
    if invalid:
        stats.failed += len(invalid)
        stats.errors = (invalid[:MAX_ERRORS_KEPT] + stats.errors)[:MAX_ERRORS_KEPT]
    return stats


def _event_id(ev: Any) -> str:
    try:
        return repr(ev.get("Id"))
    except AttributeError:
        return "?"


def replay_records(
    records: RecordSource,
    *,
    bootstrap: str,
    topic: str,
    rate: float = 0.0,
    limit: int | None = None,
    loop: bool = False,
    progress: bool = False,
    burst: float = 0.0,
    flush_timeout: float = 60.0,
    producer_overrides: Mapping[str, Any] | None = None,
    total_hint: int | None = None,
) -> ReplayStats:
    """`replay` for records already encoded as (key, JSON value); the fast path."""
    if limit is not None and limit < 0:
        raise SourceError(f"limit must be >= 0 (got {limit})")
    if loop and not callable(records) and iter(records) is records:
        raise SourceError("loop needs a re-iterable source, not a one-shot iterator")
    overrides: dict[str, Any] = {
        "delivery.report.only.error": True,
        "linger.ms": 20,
        "log_level": 3,
        # Bound the client-side queue (librdkafka's default is 1 GB): when the broker lags,
        # produce() backs off instead of buffering the whole file in memory.
        "queue.buffering.max.kbytes": QUEUE_MAX_KBYTES,
        # Never give up on an event (librdkafka's default drops it after 300 s): while the
        # broker is down the bounded queue fills and produce() backs off, nothing is lost.
        "message.timeout.ms": 0,
        # lz4: ~1.7x fewer bytes than none and the fastest on a quiet machine; "none" costs
        # less producer CPU (both measured in docs/benchmarks.md).
        "compression.type": DEFAULT_COMPRESSION,
    }
    overrides.update(producer_overrides or {})
    conf = producer_config(bootstrap)
    conf.update(overrides)
    errors: list[str] = []
    failed = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal failed
        if err is not None:
            failed += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(str(err))

    conf["on_delivery"] = on_delivery
    producer = Producer(conf)
    stats = ReplayStats(topic=topic)
    bucket = TokenBucket(rate, burst) if rate > 0 else None
    total = limit if limit is not None else total_hint
    bar = _Progress(progress, total, topic)
    produce = producer.produce
    poll = producer.poll
    check_every = _poll_mask(rate)
    produced = 0
    t0 = time.monotonic()
    try:
        for batch in _passes(records, loop):
            if limit is not None and produced >= limit:
                break
            stats.passes += 1
            before = produced
            for key, value in batch:
                if limit is not None and produced >= limit:
                    break
                if bucket is not None:
                    bucket.take()
                while True:
                    try:
                        produce(topic, value, key)
                        break
                    except BufferError:
                        poll(0.05)  # local queue full: let deliveries drain it
                produced += 1
                if produced & check_every == 0:
                    poll(0)
                    bar.update(
                        produced,
                        produced - len(producer) - failed,
                        failed,
                        time.monotonic() - t0,
                    )
            if produced == before:
                break  # an empty pass: looping would spin forever
    except KeyboardInterrupt:
        stats.interrupted = True
        log.warning("interrupted: flushing what was produced")
    except KafkaException as exc:
        stats.interrupted = True
        errors.append(f"produce failed: {exc}")
    finally:
        left = producer.flush(flush_timeout)
        producer.poll(0)
        stats.elapsed_s = time.monotonic() - t0
        stats.produced = produced
        stats.failed = failed + left
        stats.delivered = produced - stats.failed
        stats.errors = errors[:MAX_ERRORS_KEPT]
        if left:
            stats.errors.append(f"{left} events unconfirmed after {flush_timeout:.0f}s flush")
        bar.update(produced, stats.delivered, stats.failed, stats.elapsed_s)
        bar.close()
    return stats
