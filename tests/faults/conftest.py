"""One stack for the whole fault suite (broker, registry, KSQL engine, trained model, scorer),
fresh Id blocks per test, the results table each fault adds a row to, and the broker outage
that faults 5 and 8 inject (stop, keep down, start on the same data, account for every id).

The table is written at the end of the session to `<results>/reliability.json` and `.md`
(`<results>` = FRAUDSTREAM_FAULT_RESULTS or `.fraudstream/test-results`); docs/reliability.md
is made from it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fraudstream.local.stack import ComponentStatus
from fraudstream.testing.harness import Harness
from fraudstream.testing.verify import IdLedger

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
BLOCK = 1_000_000  # each test's Ids start at a fresh multiple of this
_blocks = itertools.count(1)


@pytest.fixture(scope="session")
def fault_results() -> Iterator[list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    yield rows
    if not rows:
        return
    out = Path(os.environ.get("FRAUDSTREAM_FAULT_RESULTS", ROOT / ".fraudstream" / "test-results"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(rows, indent=2))
    cols = ["fault", "events_in", "scored", "lost", "duplicates", "recovery_s", "notes"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    (out / "reliability.md").write_text("\n".join(lines) + "\n")
    log.info("fault results in %s", out)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Infra up, users published, a first model trained on 20,000 events, scorer running,
    the watchdog restarting servers that die (no test restarts a crashed one by hand)."""
    h = Harness(
        Path(tmp_path_factory.mktemp("faults")),
        scorer_env={"FRAUDSTREAM_SCORER_RELOAD_INTERVAL_S": "0.5"},
    )
    try:
        h.start_infra()
        h.publish_users()
        train = h.events(20_000, id_offset=0, seed=21, unlabelled=0.0)
        h.produce(train)
        h.wait_count(h.settings.topic_preprocessed, len(train), timeout=300)
        h.train()
        h.start_scorer()
        h.start_watchdog(interval=2.0)  # as `fraudstream up` runs it
        yield h
    finally:
        h.stop()


@pytest.fixture
def id_block() -> int:
    """First Id of a block no other fault test uses."""
    return next(_blocks) * BLOCK


def now() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class Recovery:
    """What a broker outage cost, timed from the moment of the stop."""

    ledger: IdLedger  # every id of the test's block: lost, duplicated
    stopped_s: float  # how long the broker took to stop
    up_s: float  # from the stop until the broker served again
    caught_up_s: float  # from the stop until every id was scored
    restarted: list[str]  # the watchdog's restarts since the test began, "name (why)"
    status: dict[str, ComponentStatus]  # each component once every id was scored

    def row(self, fault: str, events_in: int, before: str = "", after: str = "") -> dict[str, Any]:
        """The results-table row; `before`/`after`: the test's own notes around the timings."""
        timings = (
            f"broker stop took {self.stopped_s:.1f}s, back {self.up_s:.1f}s after the stop; "
            f"all scored {self.caught_up_s:.1f}s after the stop; watchdog restarts: "
            f"{', '.join(self.restarted) or 'none'}"
        )
        return {
            "fault": fault,
            "events_in": events_in,
            "scored": len(set(self.ledger.seen)),
            "lost": len(self.ledger.lost),
            "duplicates": self.ledger.duplicates,
            "recovery_s": round(self.caught_up_s - self.up_s, 1),
            "notes": "; ".join(part for part in (before, timings, after) if part),
        }

    def assert_ready(self, names: Iterable[str]) -> None:
        """Each named component runs and is ready again (reconnected or restarted)."""
        for name in names:
            assert self.status[name].running, name
            assert self.status[name].ready, f"{name} not ready after the broker came back"


class BrokerOutage:
    """Stop the stack's broker under load, keep it down, start it again on the same data and
    hand it back to the supervisor (as `up` would find it); then wait for every id."""

    def __init__(self, h: Harness) -> None:
        assert h.dog is not None, "the fault stack runs a watchdog"
        self.h, self.dog = h, h.dog
        self.restarts_before = len(h.dog.history)  # before the test's load starts
        self.t_fault: float | None = None  # monotonic time of the stop
        self.stopped_s = self.up_s = 0.0

    def stop_for(self, down_s: float, start_timeout: float) -> None:
        """The outage: stop, `down_s` seconds down, start, adopt."""
        broker = self.h.pipe.broker()
        self.t_fault = t_fault = time.monotonic()
        assert broker.stop(timeout=60)
        self.stopped_s = time.monotonic() - t_fault
        time.sleep(down_s)
        broker.start(timeout=start_timeout)
        self.up_s = time.monotonic() - t_fault
        ref = broker.process()
        assert ref is not None
        self.h.sup.adopt("kafka", ref, broker.pid_file, broker.log_file, broker.bootstrap)

    def recovery(self, ids: set[int], timeout: float) -> Recovery:
        """Every id of `ids` scored (or `timeout` s), then what the outage cost."""
        assert self.t_fault is not None, "stop_for() first"
        ledger, _ = self.h.wait_scored(ids, timeout=timeout)
        caught_up_s = time.monotonic() - self.t_fault
        history = self.dog.history[self.restarts_before :]
        return Recovery(
            ledger=ledger,
            stopped_s=self.stopped_s,
            up_s=self.up_s,
            caught_up_s=caught_up_s,
            restarted=[f"{name} ({why})" for _t, name, why in history],
            status={s.name: s for s in self.h.sup.status()},
        )


@pytest.fixture
def broker_outage(stack: Harness) -> BrokerOutage:
    """Faults 5 and 8: the broker stopped under load and started again."""
    return BrokerOutage(stack)
