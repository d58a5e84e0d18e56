"""The monitor's state: bytes held per score, CPU per score read, and the cost of a refresh.

Why: the monitor holds every score of its longest window plus the label horizon (7 d by
default), so its memory and its refresh time grow with traffic; this measures both for the
current `WindowState` and, with `--baseline REV`, for the `state.py` of a git revision, in one
run on the same synthetic scores (ids in order, a label for 5 %, two model versions).

    PYTHONPATH=services python benchmarks/bench_monitor_state.py --events 1000000 --baseline 30d6fd5

`--steady-min M` instead drives the state as the soak's monitor sees it (issue 21): `--rate`
scores a second of event time, every one labelled after an exponential delay (mean 5 s, the
soak's `exp:5s`), windows 5m and 15m recomputed and the state evicted every 5 s, retention
20 min (15m + the 5m label horizon of `fraudstream up`), for M simulated minutes, in one child
process per state (so each RSS is its own), printing per simulated minute the RSS, the
highest RSS sampled every 2 ms during that minute (the refreshes' peaks), the bytes the state
allocates and the CPU time.

    PYTHONPATH=services python benchmarks/bench_monitor_state.py --steady-min 45 --baseline c8f3378

`--refresh-peak` measures one refresh of the soak's state at its steady state (`--rate` scores
a second over the 20-minute retention, every score labelled 5 s later, one model version):
for the 5m and 15m windows, the CPU time, the peak of the RSS sampled every millisecond, and
tracemalloc's peak (NumPy's arrays included), in one child process per state.

    PYTHONPATH=services python benchmarks/bench_monitor_state.py --refresh-peak --baseline 5c17d1e

A baseline is the `state.py` and `quality.py` of that revision.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import deque
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

T0 = 1_780_000_000_000
WINDOWS = {"15m": 900_000, "1h": 3_600_000, "1d": 86_400_000}


def _load(rev: str | None) -> ModuleType:
    """The current state module, or `rev`'s state.py computing `rev`'s quality.py figures."""
    if rev is None:
        from fraudstream.monitor import state

        return state
    mod = _module_at(rev, "state")
    mod.quality = _module_at(rev, "quality").quality
    return mod


def _module_at(rev: str, name: str) -> ModuleType:
    """services/fraudstream/monitor/<name>.py as it is at `rev`, imported on its own."""
    text = subprocess.run(
        ["git", "show", f"{rev}:services/fraudstream/monitor/{name}.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}_{rev}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"{name}_{rev}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def run(mod: ModuleType, n: int, span_ms: int) -> dict[str, Any]:
    """Read `n` scores spread over `span_ms`, label 5 %, then refresh the three windows."""
    rng = np.random.default_rng(1)
    scores = rng.random(n).tolist()
    step = span_ms / n
    labelled = rng.random(n) < 0.05

    def fill() -> Any:
        st = mod.WindowState(retention_ms=2 * span_ms)
        for i in range(n):
            s = scores[i]
            t = T0 + int(i * step)
            st.add_score(i, mod.ScoreRow("v1" if i % 2 else "v2", s, s > 0.99, t))
            if labelled[i]:
                st.add_label(i, int(s > 0.99), t + 1_000)
        return st

    gc.collect()
    tracemalloc.start()  # a pass for memory (traced allocations slow it down) ...
    st = fill()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del st
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    st = fill()  # ... and one for time
    cpu_add, wall_add = time.process_time() - cpu0, time.perf_counter() - wall0
    now = T0 + span_ms
    cpu0 = time.process_time()
    figures = {}
    for name, ms in WINDOWS.items():
        figures[name] = st.window(now, ms, k=100, prevalence=0.00172)
    cpu_refresh = time.process_time() - cpu0
    events_1d = sum(q.events for q, _ in figures["1d"].values())
    return {
        "bytes_per_score": held / n,
        "add_us_cpu": 1e6 * cpu_add / n,
        "add_per_s_wall": n / wall_add,
        "refresh_s_cpu": cpu_refresh,
        "events_1d": events_1d,
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _allocated(st: Any) -> int:
    """Bytes the state allocates: its arrays, and its containers with their int objects."""
    total = 0
    for v in vars(st).values():
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, dict) and v and isinstance(next(iter(v)), int):
            total += sys.getsizeof(v) + sum(sys.getsizeof(k) + sys.getsizeof(x)
                                            for k, x in v.items())  # fmt: skip
        elif isinstance(v, deque | dict):
            total += sys.getsizeof(v)
    return total


def steady(mod: ModuleType, minutes: float, rate: int) -> None:
    """The soak's traffic through one state, a line per simulated minute (see the docstring)."""
    retention, windows = 20 * 60_000, (300_000, 900_000)
    st = mod.WindowState(retention)
    rng = np.random.default_rng(1)
    due: dict[int, list[Any]] = {}  # second -> [(ids, labels)] published then
    next_id, cpu0 = 10_000_000_000, time.process_time()
    cpu_refresh = 0.0
    peak = [0.0]  # the highest RSS a sampler thread saw this minute (the refreshes' peaks)

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    threading.Thread(target=sample, daemon=True).start()
    print("min,rss_mb,rss_peak_mb,held,state_mb,cpu_s,refresh_cpu_s", flush=True)
    for sec in range(int(minutes * 60)):
        base = T0 + sec * 1000
        ids = np.arange(next_id, next_id + rate)
        next_id += rate
        score = rng.random(rate)
        at = base + 500 + np.sort(rng.integers(0, 1000, rate))
        for i, sc, t in zip(ids.tolist(), score.tolist(), at.tolist(), strict=True):
            st.add_score(i, mod.ScoreRow("v1", sc, sc > 0.99, t))
        when = sec + 1 + rng.exponential(5.0, rate).astype(np.int64)
        for d in np.unique(when).tolist():
            m = when == d
            due.setdefault(d, []).append((ids[m].tolist(), (score[m] > 0.995).tolist()))
        for label_ids, labels in due.pop(sec, []):
            for i, lab in zip(label_ids, labels, strict=True):
                st.add_label(i, int(lab), base + 900)
        if sec % 5 == 4:
            c0 = time.process_time()
            st.evict(base + 1000)
            for ms in windows:
                st.window(base + 1000, ms, k=100, prevalence=0.00172)
            cpu_refresh += time.process_time() - c0
        if sec % 60 == 59:
            print(f"{(sec + 1) // 60},{_rss_mb():.1f},{peak[0]:.1f},{len(st)},"
                  f"{_allocated(st) / 2**20:.1f},{time.process_time() - cpu0:.1f},"
                  f"{cpu_refresh:.1f}", flush=True)  # fmt: skip
            peak[0] = 0.0


def refresh_peak(mod: ModuleType, rate: int) -> None:
    """One refresh of the soak's steady state, per window (see the docstring)."""
    retention_s = 20 * 60
    n = rate * retention_s
    st = mod.WindowState(retention_s * 1000, max(n, 1024))
    score = np.random.default_rng(1).random(n).tolist()
    for i in range(n):
        t = T0 + i * 1000 // rate
        s = score[i]
        st.add_score(i, mod.ScoreRow("v1", s, s > 0.99, t, int(s > 0.995), t + 5_000))
    del score
    gc.collect()
    now = T0 + retention_s * 1000
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], int(_rss_mb() * 2**20))
            time.sleep(0.001)

    print("window,events,cpu_s,rss_before_mb,rss_peak_over_mb,traced_peak_mb", flush=True)
    for name, ms in (("5m", 300_000), ("15m", 900_000)):
        base = int(_rss_mb() * 2**20)
        peak[0] = base
        stop.clear()
        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu0 = time.process_time()
        st.window(now, ms, k=100, prevalence=0.00172)
        cpu = time.process_time() - cpu0
        time.sleep(0.01)
        stop.set()
        sampler.join()
        tracemalloc.start()
        st.window(now, ms, k=100, prevalence=0.00172)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name},{ms // 1000 * rate},{cpu:.2f},{base / 2**20:.0f},"
              f"{(peak[0] - base) / 2**20:.0f},{traced / 2**20:.0f}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--span-h", type=float, default=24.0, help="hours the scores cover")
    ap.add_argument("--baseline", default=None, help="git revision of the state to compare")
    ap.add_argument("--steady-min", type=float, default=None, help="soak mode: minutes")
    ap.add_argument("--rate", type=int, default=2000, help="soak mode: scores per second")
    ap.add_argument("--refresh-peak", action="store_true", help="one refresh's memory peak")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.refresh_peak:
        if a.child is not None:
            refresh_peak(_load(None if a.child == "current" else a.child), a.rate)
            return
        print(f"load average {os.getloadavg()[0]:.1f}; {a.rate:,} scores/s, 20 min retention")
        for name in ["current", *([a.baseline] if a.baseline else [])]:  # one at a time
            argv = [sys.executable, __file__, "--refresh-peak", "--rate", str(a.rate),
                    "--child", name]  # fmt: skip
            out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout
            print(f"--- {name}\n{out}", end="", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f}")
        return
    if a.steady_min is not None:
        if a.child is not None:
            steady(_load(None if a.child == "current" else a.child), a.steady_min, a.rate)
            return
        print(f"load average {os.getloadavg()[0]:.1f}; {a.rate:,} scores/s for "
              f"{a.steady_min:g} simulated minutes")  # fmt: skip
        runs = {}
        for name in ["current", *([a.baseline] if a.baseline else [])]:
            argv = [sys.executable, __file__, "--steady-min", str(a.steady_min),
                    "--rate", str(a.rate), "--child", name]  # fmt: skip
            runs[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        for name, proc in runs.items():
            out, _ = proc.communicate()
            print(f"--- {name}\n{out}", end="", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f}")
        return
    span = int(a.span_h * 3_600_000)
    print(f"load average {os.getloadavg()[0]:.1f}; {a.events:,} scores over {a.span_h} h")
    rows = [("current", run(_load(None), a.events, span))]
    if a.baseline:
        rows.append((a.baseline, run(_load(a.baseline), a.events, span)))
    print(f"{'state':<10}{'bytes/score':>12}{'add CPU us':>12}{'adds/s wall':>13}"
          f"{'refresh CPU s':>15}{'1d events':>11}")  # fmt: skip
    for name, r in rows:
        print(f"{name:<10}{r['bytes_per_score']:>12.0f}{r['add_us_cpu']:>12.2f}"
              f"{r['add_per_s_wall']:>13,.0f}{r['refresh_s_cpu']:>15.2f}"
              f"{r['events_1d']:>11,}")  # fmt: skip
    if len(rows) == 2:
        (_, c), (_, b) = rows
        print(f"ratios baseline/current: memory {b['bytes_per_score'] / c['bytes_per_score']:.2f}x,"
              f" add CPU {b['add_us_cpu'] / c['add_us_cpu']:.2f}x,"
              f" refresh CPU {b['refresh_s_cpu'] / c['refresh_s_cpu']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
