"""Plot per-second p99 of `bench_coldstart.py --json` runs side by side (docs/img/).

Run:  python benchmarks/plot_coldstart.py out.png LABEL=run.json [LABEL=run.json ...]
Top: the input producer's ack p99 per second; bottom: event -> score p99 per second; the
50 ms goal is the dashed line. Each label's load average (start -> end) is in the legend.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    if len(sys.argv) < 3 or not all("=" in a for a in sys.argv[2:]):
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    fig, (ack, e2e) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        r = json.loads(Path(path).read_text())
        load = f"load {r['loadavg_start'][0]:.1f}->{r['loadavg_end'][0]:.1f}"
        secs = range(len(r["ack_p99_ms_per_s"]))
        ack.plot(secs, r["ack_p99_ms_per_s"], marker="o", ms=3, label=f"{label} ({load})")
        e2e.plot(secs, r["e2e_p99_ms_per_s"], marker="o", ms=3, label=f"{label} ({load})")
    for ax, title in ((ack, "input producer ack p99 per second"),
                      (e2e, "event -> score p99 per second")):  # fmt: skip
        ax.axhline(50, ls="--", c="grey", lw=1)
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    e2e.set_xlabel("second of the 5,000 events/s load after the scorer is ready (fresh broker)")
    ack.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
