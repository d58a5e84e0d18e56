"""A corrupt model version published under load is refused: the old version keeps serving with
no gap and no loss, a failed reload is counted; a good retrained version is then picked up
live (the retraining loop)."""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest

from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
N = 20_000
RATE = 1_000.0


def publish_corrupt(model_dir: Any, good: Any) -> str:
    """A copy of the serving version with NaN weights, made LATEST atomically."""
    name = good.name.split("-")[0] + "-deadbeef"
    bad = model_dir / name
    shutil.copytree(good, bad)
    with np.load(bad / "weights.npz") as z:
        arrays = {k: z[k] for k in z.files}
    first = sorted(arrays)[0]
    arrays[first] = np.full_like(arrays[first], np.nan)
    np.savez(bad / "weights.npz", **arrays)
    tmp = model_dir / "LATEST.tmp"
    tmp.write_text(name + "\n")
    tmp.replace(model_dir / "LATEST")
    return name


def test_corrupt_model_refused_then_retrained_model_served(
    stack: Harness, id_block: int, fault_results: list[dict[str, Any]]
) -> None:
    h = stack
    model_dir = h.pipe.model_dir
    good = model_dir / (model_dir / "LATEST").read_text().strip()
    before = h.metrics()
    assert before.model_version == good.name
    events = h.events(N, id_offset=id_block, seed=71)
    ids = {e["Id"] for e in events}
    not_ready: list[float] = []
    stop = threading.Event()

    def watch_ready() -> None:
        while not stop.is_set():
            try:
                code = httpx.get(f"{h.ep.metrics_url}/readyz", timeout=2).status_code
            except httpx.HTTPError:
                code = 0
            if code != 200:
                not_ready.append(time.monotonic())
            stop.wait(0.2)

    watcher = threading.Thread(target=watch_ready, daemon=True)
    watcher.start()
    thread, stats = h.produce_in_background(events, rate=RATE)
    time.sleep(3)
    bad = publish_corrupt(model_dir, good)
    deadline = time.monotonic() + 30
    while h.metrics().reloads_failed <= before.reloads_failed and time.monotonic() < deadline:
        time.sleep(0.5)
    after_bad = h.metrics()
    # Retrain while live (reads the grown training topic): a genuine new version.
    new = h.train("retrain")
    t_new = time.monotonic()
    while h.metrics().model_version != new.name and time.monotonic() - t_new < 30:
        time.sleep(0.5)
    switch_s = time.monotonic() - t_new
    thread.join(180)
    assert stats and stats[0].delivered == N and stats[0].failed == 0
    # Events after the switch: scored by the retrained version.
    extra = h.events(2_000, id_offset=id_block + N, seed=72)
    h.produce(extra)
    extra_ids = {e["Id"] for e in extra}
    ledger, _ = h.wait_scored(ids | extra_ids, timeout=240)
    stop.set()
    watcher.join(5)
    all_scores = h.read_values(h.settings.topic_scores)
    scores = [v for v in all_scores if v["id"] in ids]
    extra_versions = {v["model_version"] for v in all_scores if v["id"] in extra_ids}
    versions = {v["model_version"] for v in scores}
    ordered = sorted(v["scored_at"] for v in scores)
    gaps = np.diff(np.array([t.timestamp() if hasattr(t, "timestamp") else t for t in ordered]))
    max_gap = float(gaps.max()) if len(gaps) else 0.0
    fault_results.append(
        {
            "fault": "corrupt model version (NaN weights) published under load, then retrain",
            "events_in": N + len(extra),
            "scored": len(set(ledger.seen)),
            "lost": len(ledger.lost),
            "duplicates": ledger.duplicates,
            "recovery_s": 0,
            "notes": f"bad version refused (reloads failed "
            f"{before.reloads_failed:.0f}->{after_bad.reloads_failed:.0f}); retrained {new.name} "
            f"served {switch_s:.1f}s after LATEST; versions {sorted(versions)}; "
            f"max gap between scores {max_gap:.2f}s; not-ready probes {len(not_ready)}",
        }
    )
    assert after_bad.reloads_failed > before.reloads_failed, "corrupt version was not refused"
    assert bad not in versions, "events were scored by the corrupt version"
    assert after_bad.model_version == good.name
    assert h.metrics().model_version == new.name
    assert good.name in versions
    assert extra_versions == {new.name}
    assert not not_ready, f"scorer was not ready {len(not_ready)} times during the swap"
    assert not ledger.lost, ledger.summary()
    assert max_gap < 5.0
