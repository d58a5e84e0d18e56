"""Restart what died, so the local stack recovers without a manual step.

Every `interval` seconds each watched component is checked: a process that exited (crash,
kill -9, OOM) is restarted with its recorded command; a process whose health probe fails
`failures` times in a row (e.g. the KSQL engine reporting a failed persistent query) is
restarted too. Restarts per component are bounded (`max_restarts` within `window_s`), after
which the watchdog stops trying and says so, instead of flapping forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

import httpx

from fraudstream.errors import LocalStackError
from fraudstream.local.secure import probe_kwargs
from fraudstream.local.stack import Supervisor

log = logging.getLogger(__name__)

HealthProbe = Callable[[], bool]


def http_probe(
    url: str, timeout: float = 3.0, login: Mapping[str, str] | None = None
) -> HealthProbe:
    """Healthy when GET url answers 2xx (`login`: CA and credentials of a --secure stack)."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=timeout, **probe_kwargs(login)).is_success
        except (httpx.HTTPError, OSError):
            return False

    return probe


def ksql_probe(
    base_url: str, timeout: float = 3.0, login: Mapping[str, str] | None = None
) -> HealthProbe:
    """ksqlDB /healthcheck: healthy when it answers and its command runner (the persistent
    queries) is healthy; the body says so even when the status code is 200."""

    def probe() -> bool:
        try:
            resp = httpx.get(f"{base_url}/healthcheck", timeout=timeout, **probe_kwargs(login))
        except (httpx.HTTPError, OSError):
            return False
        if not resp.is_success:
            return False
        try:
            body = resp.json()
        except ValueError:
            return False
        runner = (body.get("details") or {}).get("commandRunner") or {}
        return bool(body.get("isHealthy", True)) and bool(runner.get("isHealthy", True))

    return probe


class Watchdog:
    """Checks components and restarts the dead or unhealthy ones (bounded)."""

    def __init__(
        self,
        sup: Supervisor,
        probes: dict[str, HealthProbe | None],
        interval: float = 5.0,
        failures: int = 3,
        max_restarts: int = 5,
        window_s: float = 600.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.sup = sup
        self.probes = probes
        self.interval = interval
        self.failures = failures
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.on_event = on_event or (lambda m: log.warning("%s", m))
        self.restarts: dict[str, deque[float]] = defaultdict(deque)
        self.history: list[tuple[float, str, str]] = []  # (time, component, why)
        self._bad: dict[str, int] = defaultdict(int)
        self._given_up: set[str] = set()
        self._paused: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def pause(self, name: str) -> None:
        """Leave `name` alone (e.g. while someone stops it on purpose)."""
        self._paused.add(name)

    def resume(self, name: str) -> None:
        self._paused.discard(name)
        self._bad[name] = 0

    def check_once(self) -> list[str]:
        """One round; returns the components restarted."""
        restarted = []
        for name, probe in self.probes.items():
            if name in self._paused or name in self._given_up:
                continue
            rec = self.sup.record(name)
            if rec is None or rec.service is None:
                continue
            why = None
            if not self.sup.is_running(rec):
                why = "process exited"
            elif probe is not None and not probe():
                self._bad[name] += 1
                if self._bad[name] >= self.failures:
                    why = f"health probe failed {self._bad[name]} times in a row"
            else:
                self._bad[name] = 0
            if why is not None and self._restart(name, why):
                restarted.append(name)
        return restarted

    def _restart(self, name: str, why: str) -> bool:
        now = time.monotonic()
        recent = self.restarts[name]
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) >= self.max_restarts:
            self._given_up.add(name)
            self.on_event(
                f"watchdog: {name} {why}; {len(recent)} restarts in {self.window_s:.0f}s, "
                "giving up (see its log)"
            )
            return False
        self.on_event(f"watchdog: {name} {why}; restarting it")
        recent.append(now)
        self.history.append((time.time(), name, why))
        self._bad[name] = 0
        try:
            self.sup.restart(name)
        except LocalStackError as exc:
            self.on_event(f"watchdog: restarting {name} failed: {exc}")
            return False
        self.on_event(f"watchdog: {name} is back")
        return True

    def start(self) -> None:
        """Run in a daemon thread until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception:  # the watchdog must outlive any one bad round
                log.exception("watchdog round failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 120)
            self._thread = None
