"""One stack for the whole fault suite (broker, registry, KSQL engine, trained model, scorer),
fresh Id blocks per test, and the results table each fault adds a row to.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.testing.harness import Harness

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
