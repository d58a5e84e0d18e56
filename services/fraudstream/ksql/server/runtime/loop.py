"""The thread every persistent-query loop runs in: start, ready, stop, paced warnings, the
backoff of a paused batch, the consume loop with its commit points and the produce of a
batch's outputs, in one place for the per-query and the shared runners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from fraudstream.errors import TransientError
from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.kafka.delivery import DeliveryLedger, InFlightBatch, backoff
from fraudstream.kafka.errors import DeliveryFailedError

log = logging.getLogger(__name__)


def run_records(
    process: Callable[[Any], list[Any]],
    recs: Sequence[Any],
    outs: list[Any],
    on_error: Callable[[dict[str, Any]], None],
) -> None:
    """Each record through a query's `process`, its outputs appended to `outs` in order.

    A TransientError (registry or broker down) propagates: the runner pauses the batch. Any
    other exception breaks the engine's contract (it reports bad records itself): it is
    reported as a RECORD_PROCESSING_ERROR of that record and the batch goes on."""
    for rec in recs:
        try:
            outs.extend(process(rec))
        except TransientError:
            raise
        except Exception as exc:
            on_error(
                {
                    "type": "RECORD_PROCESSING_ERROR",
                    "message": f"{type(exc).__name__}: {exc}",
                    "topic": rec.topic,
                    "partition": rec.partition,
                    "offset": rec.offset,
                }
            )


def query_producer(bootstrap: str) -> Producer:
    """The producer of a query loop. Delivery reports only for failures: no Python callback
    per successful record; the ledger takes a batch as acknowledged once the producer's
    queue is empty without an error reported for it."""
    conf = producer_config(bootstrap, linger_ms=10)
    conf["delivery.report.only.error"] = True
    return Producer(conf)


def query_consumer_config(bootstrap: str, group_id: str) -> dict[str, Any]:
    """The consumer settings of a query loop: large fetches, and a crashed server's
    membership expiring in 10 s (default 45 s), so a restarted one gets the partitions back
    quickly; a clean stop leaves at once."""
    return consumer_config(
        bootstrap,
        group_id,
        fetch_max_bytes=52_428_800,
        queued_min_messages=100_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
    )


class LoopThread:
    """A daemon thread running `_run()` until `stop()`; `_ready` is set once it consumes."""

    batch_size = 5000
    poll_timeout = 0.2
    commit_interval = 1.0

    def __init__(self, name: str, label: str) -> None:
        self._label = label  # who the warnings are about: "query X", "shared runtime G"
        self._last_warning = 0.0
        self._paused = False  # the last batch hit a transient failure: read it again
        self._attempt = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once the consumer subscribed (tables bootstrapped)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _pause(self) -> None:
        """Wait before reading the paused batch again (0.5 s doubling, at most 10 s)."""
        self._stop.wait(backoff(self._attempt, cap=10.0))
        self._attempt += 1

    def _warn(self, message: str) -> None:
        """Log at most one warning every 10 s (an outage is not a log flood)."""
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            log.warning("%s: %s", self._label, message)
            self._last_warning = now

    def _ledger(
        self, consumer: Consumer, producer: Producer, **callbacks: Any
    ) -> DeliveryLedger[Any]:
        """The loop's delivery ledger. Batches are acknowledged at commit points (every
        `commit_interval` s, or when idle): the broker's acks overlap with processing the
        next batches. No ledger limit or timeout fires before librdkafka's own message
        timeout (300 s). `callbacks`: on_rewind / on_complete."""
        return DeliveryLedger(
            consumer,
            producer,
            acks="errors",
            delivery_timeout_s=300.0,
            commit_interval_s=self.commit_interval,
            max_inflight_events=10**9,
            max_inflight_batches=10**9,
            **callbacks,
        )

    def _consume_loop(
        self,
        consumer: Consumer,
        producer: Producer,
        ledger: DeliveryLedger[Any],
        on_batch: Callable[[list[Message]], None],
        commit: Callable[[], str | None],
    ) -> bool:
        """Consume and process batches until stopped, with a commit point every
        `commit_interval` s (or when idle, as `_idle_commit_due` says); False when stopped
        while the broker was unreachable (nothing committed)."""
        last_commit = time.monotonic()
        while not self._stop.is_set():
            try:
                msgs = consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
            except KafkaException as exc:  # broker gone for a while: wait, never die
                self._warn(f"consume failed: {exc}")
                self._stop.wait(0.5)  # a stop ends the wait
                continue
            if msgs:
                on_batch(msgs)
                if self._paused:
                    self._pause()
                    continue
                if time.monotonic() - last_commit < self.commit_interval:
                    continue
            elif not ledger.inflight:
                producer.poll(0)
                if not self._idle_commit_due(ledger, last_commit):
                    continue
            committed = self._commit_point(ledger, commit)
            if committed is None:
                return False
            if committed:
                last_commit = time.monotonic()
        return True

    def _idle_commit_due(self, ledger: DeliveryLedger[Any], last_commit: float) -> bool:
        """Whether an idle loop with nothing in flight commits now."""
        return bool(ledger.uncommitted)

    def _commit_point(
        self, ledger: DeliveryLedger[Any], commit: Callable[[], str | None]
    ) -> bool | None:
        """Wait for every output's ack, then commit (`commit()`: None or why it failed).

        None: stopped before the broker answered; False: a delivery failed (the ledger
        rewound to the failed batch, which is read again); True: committed."""
        try:
            while not ledger.wait(1.0):
                if self._stop.is_set():
                    return None
        except DeliveryFailedError as exc:
            self._delivery_failed(exc)
            self._stop.wait(0.5)
            return False
        failed = commit()
        if failed is not None:  # the next commit covers these offsets
            self._warn(f"commit failed: {failed}")
        return True

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        raise NotImplementedError

    def _good(self, msgs: list[Message]) -> list[Message]:
        """The records of a consumed batch (errors warned about, partition ends dropped)."""
        good: list[Message] = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                self._warn(f"consume error: {err}")
        return good

    def _produce_outputs(
        self, outs: Sequence[Any], batch: InFlightBatch[Any], producer: Producer
    ) -> int:
        """Produce a processed batch's outputs with the batch's delivery callback; the count
        produced. An output not produced before a stop is recorded in `batch.errors`, so the
        batch is never stored as done."""
        produce = producer.produce
        ack = batch.ack
        produced = 0
        for out in outs:
            if not out.headers:  # the fast path: one C call per output
                try:
                    produce(
                        out.topic, out.value, out.key, timestamp=out.timestamp or 0,
                        on_delivery=ack,
                    )  # fmt: skip
                    produced += 1
                    continue
                except BufferError:
                    pass
            if self._produce_slow(producer, out, batch):
                produced += 1
            else:  # stopped with the local queue full: the batch must not be stored
                batch.errors.append(f"{out.topic}: not produced before stop")
        return produced

    def _produce_slow(self, producer: Producer, out: Any, batch: InFlightBatch[Any]) -> bool:
        """Records with headers, or a full local queue (wait and retry); False if stopped
        while the local queue stayed full (the record was not produced)."""
        headers = list(out.headers) if out.headers else None
        while True:
            try:
                producer.produce(
                    out.topic, out.value, out.key, timestamp=int(out.timestamp or 0),
                    headers=headers, on_delivery=batch.ack,
                )  # fmt: skip
                return True
            except BufferError:
                if self._stop.is_set():
                    return False
                producer.poll(0.05)
