"""Both evaluation protocols over several seeds, written to docs/model-report (issue 17).

1. The label-using protocol (`run_labelled_protocol`): all labelled rows by Time, 60/20/20;
   the hybrid, the autoencoder alone, a supervised-only classifier on the raw features,
   PCA and the Isolation Forest on the test period, seed means with stratified bootstrap
   intervals -> `hybrid-seeds.json`, `time-split/` (plots of the first seed).
2. The first protocol (issue 10, normals split by time, all frauds in test) for the plain
   autoencoder with today's training -> `protocol1/seeds.json`, `protocol1/` plots.
3. `tables.md`: the markdown tables of both, for report.md.

    python benchmarks/model_protocol.py \
        --csv ../shared/data/creditcard/creditcard_sample_bhavyasoni01.csv \
        --seeds 5 --out docs/model-report [--skip-first-protocol] [--resamples 1000]

Not a test: about 4 minutes per seed and protocol on a quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from fraudstream.logs import setup_logging
from fraudstream.trainer.protocol import (
    KEYS,
    LABELLED_KEYS,
    MODELS,
    run_labelled_protocol,
    run_protocol,
)

NAMES = {
    "hybrid": "**hybrid** (autoencoder + supervised)",
    "autoencoder": "autoencoder alone",
    "supervised_only": "supervised only (raw features)",
    "pca_reconstruction": "PCA reconstruction",
    "isolation_forest": "Isolation Forest",
}
HEAD = {
    "roc_auc": "ROC-AUC",
    "weighted_average_precision": "weighted AP",
    "recall_at_fpr_0.01": "recall @ FPR 1 %",
    "recall_at_fpr_0.001": "recall @ FPR 0.1 %",
    "weighted_precision_at_threshold": "weighted precision @ threshold",
}


def labelled_tables(res: dict[str, Any]) -> str:
    keys = LABELLED_KEYS
    lines = [
        "| model | " + " | ".join(HEAD[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for m in MODELS:
        cells = []
        for k in keys:
            mu, sd = res["mean"][m][k], res["std"][m][k]
            ci = res["interval95"][m][k]
            cells.append(f"{mu:.3f} ± {sd:.3f} [{ci['lo']:.3f}, {ci['hi']:.3f}]")
        lines.append(f"| {NAMES[m]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Paired differences (seed mean, 95 % bootstrap interval, share of resamples "
        "where the hybrid is ahead):",
        "",
    ]
    lines += [
        "| hybrid minus | " + " | ".join(HEAD[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for pair, vals in res["paired95"].items():
        b = pair.split("-", 1)[1]
        cells = [
            f"{_mean_diff(res, 'hybrid', b, k):+.3f} [{vals[k]['lo']:+.3f}, {vals[k]['hi']:+.3f}]"
            f" p={vals[k]['p_greater']:.2f}"
            for k in keys
        ]
        lines.append(f"| {NAMES[b]} | " + " | ".join(cells) + " |")
    lines += ["", "Per seed (test period; epochs: run / best, seconds of training):", ""]
    lines += [
        "| seed | AE epochs | AE s | classifier epochs | hybrid wAP | hybrid r@1 % | "
        "AE wAP | AE r@1 % | supervised wAP | supervised r@1 % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        lines.append(
            f"| {r['seed']} | {r['epochs_run']} / {r['best_epoch']} | {r['train_seconds']} | "
            f"{r['classifier_epochs_run']} / {r['classifier_best_epoch']} | "
            f"{r['hybrid']['weighted_average_precision']:.3f} | "
            f"{r['hybrid']['recall_at_fpr_0.01']:.3f} | "
            f"{r['autoencoder']['weighted_average_precision']:.3f} | "
            f"{r['autoencoder']['recall_at_fpr_0.01']:.3f} | "
            f"{r['supervised_only']['weighted_average_precision']:.3f} | "
            f"{r['supervised_only']['recall_at_fpr_0.01']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _mean_diff(res: dict[str, Any], a: str, b: str, k: str) -> float:
    return float(res["mean"][a][k] - res["mean"][b][k])


def first_tables(res: dict[str, Any]) -> str:
    lines = [
        "| model | " + " | ".join(HEAD[k] for k in KEYS) + " |",
        "|---|" + "---|" * len(KEYS),
    ]
    for m, vals in res["mean"].items():
        sd = res["std"][m]
        lines.append(f"| {m} | " + " | ".join(f"{vals[k]:.3f} ± {sd[k]:.3f}" for k in KEYS) + " |")
    lines += [
        "",
        "| seed | epochs (run / best) | training s | ROC-AUC | weighted AP | "
        "recall @ 1 % | recall @ 0.1 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        a = r["autoencoder"]
        lines.append(
            f"| {r['seed']} | {r['epochs_run']} / {r.get('best_epoch')} | "
            f"{r.get('train_seconds')} | {a['roc_auc']:.3f} | "
            f"{a['weighted_average_precision']:.3f} | {a['recall_at_fpr_0.01']:.3f} | "
            f"{a['recall_at_fpr_0.001']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("docs/model-report"))
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--skip-first-protocol", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="Seeds trained in parallel processes.")
    ap.add_argument(
        "--parts",
        type=Path,
        help="Keep each seed's result here as it completes; seeds found there are reused.",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="Trainer setting override for both protocols, e.g. --set epochs=100.",
    )
    args = ap.parse_args()
    setup_logging("INFO")
    seeds = list(range(args.seeds))
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    res = run_labelled_protocol(
        args.csv,
        seeds,
        args.out,
        n_boot=args.resamples,
        jobs=args.jobs,
        parts=args.parts,
        **overrides,
    )
    t1 = time.monotonic()
    parts = [
        f"## Time-split protocol ({len(res['runs'])} seeds, {args.resamples} stratified bootstrap "
        f"resamples of the test rows; {t1 - t0:.0f} s)\n",
        f"Test period: {res['runs'][0]['split']['test']} rows, frauds per period "
        f"{json.dumps(res['runs'][0]['frauds'])}. Cells: mean ± std over seeds "
        "[95 % bootstrap interval of the mean].\n",
        labelled_tables(res),
    ]
    if not args.skip_first_protocol:
        first = run_protocol(
            args.csv,
            seeds,
            args.out / "protocol1",
            jobs=args.jobs,
            **{**overrides, "hybrid": "off"},
        )
        parts += [
            f"\n## First protocol, autoencoder ({len(seeds)} seeds; "
            f"{time.monotonic() - t1:.0f} s)\n",
            first_tables(first),
        ]
    (args.out / "tables.md").write_text("\n".join(parts))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
