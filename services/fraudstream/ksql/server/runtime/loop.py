"""The thread every persistent-query loop runs in: start, ready, stop, paced warnings and the
backoff of a paused batch, in one place for the per-query and the shared runners."""

from __future__ import annotations

import logging
import threading
import time

from fraudstream.kafka.delivery import backoff

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
