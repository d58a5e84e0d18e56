"""The thread every persistent-query loop runs in: start, ready, stop, paced warnings, the
backoff of a paused batch and the produce of a batch's outputs, in one place for the
per-query and the shared runners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from fraudstream.kafka.delivery import InFlightBatch, backoff

log = logging.getLogger(__name__)


class LoopThread:
    """A daemon thread running `_run()` until `stop()`; `_ready` is set once it consumes."""

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
