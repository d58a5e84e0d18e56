"""Whole-pipeline figures on one machine, through every process of the local stack:
producer -> broker -> KSQL engine (JSON -> Avro, mask, split) -> scorer -> scores.

1. burst: N events produced as fast as possible; end-to-end events/s from the first event
   produced to the last one scored, beside the producer's own rate in the same run (ratio).
2. paced: M events at R events/s; latency per event from the source record's Kafka timestamp
   to the score's `scored_at` (p50/p95/p99), i.e. the time KSQL + scorer add.

Beside the wall rates, the burst prints each process's CPU time per event (user + system,
from /proc, over the burst): on a loaded machine the wall rate says little, the CPU per
event says where the cost is and what one core could carry.

Run: python benchmarks/bench_pipeline.py [--burst 50000] [--paced 10000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import logging
import os
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a process's threads, summed by kind: librdkafka's own threads
    (named `rdk:...`: fetch, decompress, compress, send) and the rest (Python's threads,
    the interpreter's and the HTTP server's)."""
    out = {"librdkafka threads": 0.0, "Python threads": 0.0}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:  # the thread ended
            continue
        fields = tail.split()
        ticks = int(fields[11]) + int(fields[12])  # utime stime
        kind = (
            "librdkafka threads" if head.split("(", 1)[1].startswith("rdk:") else "Python threads"
        )
        out[kind] += ticks / os.sysconf("SC_CLK_TCK")
    return out


def ksql_pid(h: Harness) -> int | None:
    return next((rec.pid for rec in h.sup.active() if rec.name == "ksql"), None)


def process_cpu(h: Harness) -> dict[str, float]:
    """CPU seconds so far of every process of the stack, and of this one (the producer)."""
    out = {"producer (this process)": cpu_seconds(os.getpid())}
    for rec in h.sup.active():
        try:
            out[rec.name] = cpu_seconds(rec.pid)
        except OSError:
            continue
    return out


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
    cpu0 = process_cpu(h)
    kpid = ksql_pid(h)
    threads0 = thread_cpu(kpid) if kpid else {}
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    stats = h.produce(events)
    t_prod = time.monotonic() - t0
    h.wait_count(s.topic_scores, base + burst, timeout=900)
    t_all = time.monotonic() - t0
    cpu1 = process_cpu(h)
    threads1 = thread_cpu(kpid) if kpid else {}
    load1 = os.getloadavg()[0]
    e2e, prod = burst / t_all, stats.delivered / t_prod
    print(f"burst {burst:,}: producer {prod:,.0f} ev/s; end to end (produced -> scored) "
          f"{e2e:,.0f} ev/s; ratio {e2e / prod:.3f}")  # fmt: skip
    print(f"  load average (1 min) {load0:.1f} before, {load1:.1f} after; CPU per source event:")
    total = 0.0
    for name in cpu1:
        if name in cpu0:
            us = (cpu1[name] - cpu0[name]) / burst * 1e6
            total += us
            per_cpu_s = burst / max(cpu1[name] - cpu0[name], 1e-9)
            print(f"    {name:26s} {us:8.1f} us  ({per_cpu_s:,.0f} events/CPU-s)")
    print(f"    {'all processes':26s} {total:8.1f} us")
    for kind, after in threads1.items():  # threads that ended during the burst are missing
        us = (after - threads0.get(kind, 0.0)) / burst * 1e6
        print(f"      ksql: {kind:20s} {us:8.1f} us")

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
