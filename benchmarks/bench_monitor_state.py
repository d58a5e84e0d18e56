"""The monitor's state: bytes held per score, CPU per score read, and the cost of a refresh.

Why: the monitor holds every score of its longest window plus the label horizon (7 d by
default), so its memory and its refresh time grow with traffic; this measures both for the
current `WindowState` and, with `--baseline REV`, for the `state.py` of a git revision, in one
run on the same synthetic scores (ids in order, a label for 5 %, two model versions).

    PYTHONPATH=services python benchmarks/bench_monitor_state.py --events 1000000 --baseline 30d6fd5
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

T0 = 1_780_000_000_000
WINDOWS = {"15m": 900_000, "1h": 3_600_000, "1d": 86_400_000}


def _load(rev: str | None) -> ModuleType:
    if rev is None:
        from fraudstream.monitor import state

        return state
    text = subprocess.run(
        ["git", "show", f"{rev}:services/fraudstream/monitor/state.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"state_{rev}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"state_{rev}", path)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--span-h", type=float, default=24.0, help="hours the scores cover")
    ap.add_argument("--baseline", default=None, help="git revision of the state to compare")
    a = ap.parse_args()
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
