"""Whole-pipeline figures on one machine, through every process of the local stack:
producer -> broker -> KSQL engine (JSON -> Avro, mask, split) -> scorer -> scores.

1. burst: N events produced as fast as possible; end-to-end events/s from the first event
   produced to the last one scored, beside the producer's own rate in the same run (ratio).
2. paced: M events at R events/s; latency per event from the source record's Kafka timestamp
   to the score's `scored_at` (p50/p95/p99), i.e. the time KSQL + scorer add.

Run: python benchmarks/bench_pipeline.py [--burst 50000] [--paced 10000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from fraudstream.local.topics import topic_count
from fraudstream.testing.harness import Harness


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burst", type=int, default=50_000)
    ap.add_argument("--paced", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=1_000.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        h = Harness(Path(tmp))
        try:
            run(h, args.burst, args.paced, args.rate)
        finally:
            h.stop()


def run(h: Harness, burst: int, paced: int, rate: float) -> None:
    s = h.settings
    t = time.monotonic()
    h.start_infra()
    h.publish_users()
    train = h.events(20_000, id_offset=0, seed=1, unlabelled=0.0)
    h.produce(train)
    h.wait_count(s.topic_preprocessed, len(train), timeout=600)
    h.train()
    h.start_scorer()
    h.wait_count(s.topic_scores, len(train), timeout=600)
    print(f"stack up, model trained, first {len(train):,} scored: {time.monotonic() - t:.0f}s")

    # 1. burst
    events = h.events(burst, id_offset=1_000_000, seed=2)
    base = topic_count(h.ep.bootstrap, s.topic_scores)
    t0 = time.monotonic()
    stats = h.produce(events)
    t_prod = time.monotonic() - t0
    h.wait_count(s.topic_scores, base + burst, timeout=900)
    t_all = time.monotonic() - t0
    e2e, prod = burst / t_all, stats.delivered / t_prod
    print(f"burst {burst:,}: producer {prod:,.0f} ev/s; end to end (produced -> scored) "
          f"{e2e:,.0f} ev/s; ratio {e2e / prod:.3f}")  # fmt: skip

    # 2. paced latency
    events = h.events(paced, id_offset=2_000_000, seed=3)
    h.produce(events, rate=rate)
    ids = {e["Id"] for e in events}
    h.wait_scored(ids, timeout=600)
    produced_at: dict[int, int] = {}
    for r in h.read(s.topic_source):
        if r.value and r.value[:1] == b"{":
            i = orjson.loads(r.value).get("Id")
            if i in ids:
                produced_at[i] = r.timestamp_ms
    lat = []
    for v in h.read_values(s.topic_scores):
        if v["id"] in produced_at:
            scored = v["scored_at"]
            ms = scored.timestamp() * 1000 if hasattr(scored, "timestamp") else float(scored)
            lat.append(ms - produced_at[v["id"]])
    a = np.array(lat)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    print(f"paced {paced:,} at {rate:,.0f} ev/s: produce -> scored latency "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms (n={len(a):,})")  # fmt: skip


if __name__ == "__main__":
    main()
