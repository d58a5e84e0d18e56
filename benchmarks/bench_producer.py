"""Event source throughput and memory, measured in one run against one local broker.

  1. generation only (no Kafka): synthetic records (key + JSON bytes) per second;
  2. produce only: pre-encoded records -> broker (the producer/broker ceiling);
  3. synthetic end to end, one process: generate + encode + produce (the issue's target,
     >= 100,000 events/s) with lz4 (the replayer's default) and without compression (less
     producer CPU), and the dict path (generate_events -> orjson -> produce);
  4. CSV replay memory (runs first): a 284,807-row CSV made by resampling the real sample
     (sorted by Time, like the full data set), replayed by `fraudstream produce --csv` in a
     child process; peak RSS of that process (target < 300 MB) and its events/s.

Every rate is printed with the process CPU seconds it took, because on a shared machine wall
time also measures the neighbours; the ratios between lines come from this one run.

    python benchmarks/bench_producer.py [--events 500000] [--csv-rows 284807]

Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, else starts the project's local broker.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchkit import broker
from fraudstream.events import CSV_COLUMNS
from fraudstream.kafka import create_topics, delete_topics, wait_for_broker
from fraudstream.producer.replay import replay, replay_records
from fraudstream.producer.synthetic import generate_arrays, generate_events, generate_records

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared/data/creditcard/creditcard_sample_bhavyasoni01.csv"


def timed(fn: Callable[[], Any]) -> tuple[Any, tuple[float, float, float]]:
    """(result, (wall s, process CPU s, main-thread CPU s)) of fn()."""
    w, c, m = time.perf_counter(), time.process_time(), time.thread_time()
    out = fn()
    return out, (time.perf_counter() - w, time.process_time() - c, time.thread_time() - m)


def line(name: str, n: int, t: tuple[float, float, float]) -> float:
    """Print one result; return its wall-clock rate."""
    wall, cpu, main = t
    print(
        f"{name:<44} {n / wall:>9,.0f} ev/s wall ({wall:6.2f} s) | "
        f"{n / max(cpu, 1e-9):>9,.0f} ev per process-CPU-s | "
        f"{n / max(main, 1e-9):>9,.0f} ev per main-thread-CPU-s"
    )
    return n / wall


def make_big_csv(path: Path, rows: int, seed: int = 7) -> str:
    """Resample the real sample (or synthetic rows) to `rows` lines, in Time order."""
    rng = np.random.default_rng(seed)
    if SAMPLE.is_file():
        lines = SAMPLE.read_text().splitlines()[1:]
        times = np.array([float(s.split(",", 1)[0]) for s in lines])
        pick = rng.integers(0, len(lines), rows)
        pick = pick[np.argsort(times[pick], kind="stable")]
        body: Iterator[str] = (lines[i] for i in pick)
        what = f"resampled from {SAMPLE.name}"
    else:
        X, t, y = generate_arrays(rows, seed=seed)
        body = (
            ",".join([str(int(t[i])), *map(repr, X[i].tolist()), f'"{y[i]}"']) for i in range(rows)
        )
        what = "synthetic (real sample not present)"
    with path.open("w") as fh:
        fh.write(",".join(CSV_COLUMNS) + "\n")
        for ln in body:
            fh.write(ln + "\n")
    return what


def child_peak_rss(cmd: list[str], env: dict[str, str], out_path: Path) -> tuple[int, float, int]:
    """Run cmd; (peak RSS bytes of that child, wall s, exit code).

    Peak RSS is the child's own VmHWM from /proc, polled every 50 ms: getrusage's ru_maxrss
    of a forked child also counts the parent's memory at fork time, so it would mislead.
    """
    t0 = time.perf_counter()
    with out_path.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        status = Path(f"/proc/{proc.pid}/status")
        hwm = 0
        while proc.poll() is None:
            try:
                for row in status.read_text().splitlines():
                    if row.startswith("VmHWM:"):
                        hwm = max(hwm, int(row.split()[1]) * 1024)
            except OSError:
                pass
            time.sleep(0.05)
    return hwm, time.perf_counter() - t0, proc.returncode


def run(bootstrap: str, n: int, csv_rows: int, workdir: Path) -> None:
    admin = wait_for_broker(bootstrap, timeout=30)
    topics: list[str] = []

    def topic() -> str:
        name = f"bench-producer-{uuid.uuid4().hex[:8]}"
        create_topics(admin, [name], partitions=4)
        topics.append(name)
        return name

    try:
        print(f"\n== CSV replay memory, {csv_rows:,} rows")
        big = workdir / "creditcard_big.csv"
        what = make_big_csv(big, csv_rows)
        print(f"csv: {big.stat().st_size / 1e6:.0f} MB, {what}")
        t = topic()
        env = {
            **os.environ,
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "FRAUDSTREAM_DATA_DIR": str(workdir / "state"),
        }
        cmd = [sys.executable, "-m", "fraudstream", "produce", "--csv", str(big), "--topic", t]
        log = workdir / "csv-replay.log"
        rss, wall, code = child_peak_rss([*cmd, "--no-progress", "--no-users"], env, log)
        print(log.read_text().strip())
        assert code == 0, f"exit {code}"
        print(
            f"4. CSV replay: peak RSS {rss / 2**20:.0f} MiB (target < 300 MiB: "
            f"{'MET' if rss < 300 * 2**20 else 'NOT met'}), {csv_rows / wall:,.0f} ev/s "
            f"including interpreter start-up ({wall:.1f} s)"
        )
        print(f"\n== synthetic, {n:,} events, 4 partitions, acks=all, idempotent, lz4")
        _, tm = timed(lambda: sum(1 for _ in generate_records(n, seed=1)))
        gen = line("1. generate + encode only (no Kafka)", n, tm)
        records = list(generate_records(n, seed=1))
        t = topic()
        st, tm = timed(lambda: replay_records(records, bootstrap=bootstrap, topic=t))
        assert st.ok, st.summary()
        ceiling = line("2. produce pre-encoded records only", n, tm)
        records.clear()
        t = topic()
        st, tm = timed(
            lambda: replay_records(generate_records(n, seed=1), bootstrap=bootstrap, topic=t)
        )
        assert st.ok, st.summary()
        fast = line("3a. synthetic end to end (generate_records)", n, tm)
        t = topic()
        st, tm = timed(
            lambda: replay_records(
                generate_records(n, seed=1),
                bootstrap=bootstrap,
                topic=t,
                producer_overrides={"compression.type": "none"},
            )
        )
        assert st.ok, st.summary()
        plain = line("3c. as 3a, no compression", n, tm)
        t = topic()
        st, tm = timed(lambda: replay(generate_events(n, seed=1), bootstrap=bootstrap, topic=t))
        assert st.ok, st.summary()
        dicts = line("3b. synthetic end to end (dicts + orjson)", n, tm)
        print(
            f"ratios: end-to-end / produce-only = {fast / ceiling:.2f}, "
            f"end-to-end / generate-only = {fast / gen:.2f}, "
            f"records path / dict path = {fast / dicts:.2f}, none / lz4 = {plain / fast:.2f}"
        )
        print(f"target >= 100,000 ev/s end to end: {'MET' if fast >= 100_000 else 'NOT met'}")

    finally:
        delete_topics(admin, topics)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--csv-rows", type=int, default=284_807)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-producer-") as tmp, broker("bench-kafka-") as b:
        run(b.bootstrap, args.events, args.csv_rows, Path(tmp))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
