"""Figures for docs/data.md: synthetic vs real, normal vs fraud (needs matplotlib, `train` extra).

python scripts/data_figures.py [--out docs/img] [--sample PATH] [--events 284807]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.producer.synthetic import HOURLY_TRAFFIC, generate_batch

FEATURES = ("V14", "V12", "V10", "V17", "V4", "V11", "V1", "V28")
DEFAULT_SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/creditcard/creditcard_sample_bhavyasoni01.csv"
)


def load_sample(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """(rows x [Time, V1..V28, Amount], Class) of a creditcard.csv file."""
    with path.open() as fh:
        rows = list(csv.reader(fh))[1:]
    data = np.array([[float(x.strip('"')) for x in r] for r in rows])
    return data[:, :30], data[:, 30].astype(np.int64)


def _hist(ax: Any, normal: npt.NDArray[Any], fraud: npt.NDArray[Any], bins: Any) -> None:
    ax.hist(normal, bins=bins, density=True, alpha=0.55, color="tab:blue", label="normal")
    ax.hist(fraud, bins=bins, density=True, alpha=0.55, color="tab:red", label="fraud")


def plot_features(out: Path, sample: Path | None, n: int, seed: int) -> list[Path]:
    """Write data_features.png (per-feature histograms) and data_time.png (hour of day)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    b = generate_batch(n, seed=seed)
    col = {c: i for i, c in enumerate(FEATURE_COLUMNS)}
    real = load_sample(sample) if sample is not None and sample.is_file() else None
    nrows = 2 if real is not None else 1
    feats = (*FEATURES, "Amount")
    fig, axes = plt.subplots(nrows, len(feats), figsize=(2.3 * len(feats), 2.6 * nrows))
    axes = np.atleast_2d(axes)
    sources = [("synthetic", b.X, b.y_true)]
    if real is not None:
        sources.append(("real sample", real[0][:, 1:], real[1]))
    for r, (name, X, y) in enumerate(sources):
        for c, f in enumerate(feats):
            ax = axes[r, c]
            x = X[:, col[f]]
            if f == "Amount":
                x = np.log1p(x)
                bins = np.linspace(0, 9, 46)
                title = "log1p(Amount)"
            else:
                lo, hi = np.percentile(x, [0.5, 99.5])
                lo, hi = min(lo, -15.0), max(hi, 8.0)
                bins = np.linspace(max(lo, -25.0), min(hi, 15.0), 46)
                title = f
            _hist(ax, x[y == 0], x[y == 1], bins)
            ax.set_title(f"{title}" + (f"\n{name}" if c == 0 else ""), fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(
        "Normal vs fraud, per feature (densities); top: synthetic generator"
        + (", bottom: real Kaggle/ULB sample" if real is not None else ""),
        fontsize=9,
    )
    fig.tight_layout()
    p1 = out / "data_features.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(1, 2, figsize=(9, 2.8))
    hours = (b.time // 3600) % 24
    ax[0].bar(np.arange(24), np.bincount(hours, minlength=24) / len(hours), color="tab:blue",
              alpha=0.6, label="synthetic")  # fmt: skip
    ax[0].plot(np.arange(24), HOURLY_TRAFFIC / HOURLY_TRAFFIC.sum(), "k.-", label="real sample")
    ax[0].set_title("events per hour of day (share)", fontsize=9)
    ax[0].legend(fontsize=7)
    rate = np.bincount(hours, weights=b.y_true, minlength=24) / np.maximum(
        np.bincount(hours, minlength=24), 1
    )
    ax[1].bar(np.arange(24), rate * 100, color="tab:red", alpha=0.6)
    ax[1].set_title("synthetic fraud rate per hour (%)", fontsize=9)
    for a in ax:
        a.set_xlabel("hour", fontsize=8)
        a.tick_params(labelsize=7)
    fig.tight_layout()
    p2 = out / "data_time.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def main() -> None:
    ap = argparse.ArgumentParser(description="Plot the synthetic data model against the sample.")
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    ap.add_argument("--events", type=int, default=284_807)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    for p in plot_features(args.out, args.sample, args.events, args.seed):
        print(p)


if __name__ == "__main__":
    main()
