"""Screening of supervised-part variants on the labelled time split (issue 17).

Phase `cache`: one `run_training` per seed (the protocol's own run: the autoencoder, the
default hybrid and supervised-only, exactly as `benchmarks/model_protocol.py` trains them),
then the served model's inputs of every labelled row are kept in `CACHE/seed<N>.npz`:
standardized features, the autoencoder's per-feature error terms, its anomaly score, the
default hybrid's and supervised-only's scores, labels, period, Time and Amount. The
variants below reuse one seed's autoencoder, so they differ only in the supervised part.

Phase `screen`: each variant is fitted on the training period, early-stopped / selected
on the validation period, and reported on validation and test (selection uses validation
only). Variants: gradient-boosted trees (scikit-learn HistGradientBoosting) on features +
errors + anomaly, seed ensembles of the default Keras head, 8 hidden units, focal loss.

    python benchmarks/hybrid_variants.py cache --csv SAMPLE --seeds 0 1 2 3 4 --cache /tmp/hv
    python benchmarks/hybrid_variants.py screen --cache /tmp/hv --seeds 0 --out screen.json

Not a test: minutes per seed on the shared machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.logs import setup_logging
from fraudstream.model.store import load_model
from fraudstream.trainer import evaluate
from fraudstream.trainer.data import RAW_COLUMNS, read_csv
from fraudstream.trainer.features import raw_inputs_matrix
from fraudstream.trainer.pipeline import choose_split, run_training
from fraudstream.trainer.settings import TrainerSettings

PERIODS = ("train", "val", "test")


def cache_seed(csv: Path, seed: int, cache: Path, overrides: dict[str, Any]) -> None:
    """Train the protocol's run for `seed` and keep the served model's inputs per row."""
    setup_logging("INFO")
    data = read_csv(csv)
    settings = TrainerSettings(seed=seed, log_dir=None, **overrides)
    split, hybrid = choose_split(data, settings)
    assert hybrid, "no hybrid on this data"
    with tempfile.TemporaryDirectory(prefix="fraudstream-hv-") as tmp:
        outcome = run_training(data, settings, Path(tmp) / "models", publish=False)
        model = load_model(outcome.path)
    out: dict[str, Any] = {}
    for name, idx in zip(PERIODS, (split.train, split.val, split.test), strict=True):
        idx = idx[data.label[idx] != -1]
        raw = raw_inputs_matrix(data.raw[idx], model.raw_inputs)
        x = model.preprocess(raw)
        xh = model.reconstruct(x)
        out[f"{name}_x"] = x
        out[f"{name}_err"] = model.errors_from_reconstruction(x, xh)
        out[f"{name}_anomaly"] = model.anomaly_score(raw)
        out[f"{name}_z"] = model.supervised_inputs(x, xh)
        out[f"{name}_hybrid"] = model.score(raw)
        out[f"{name}_y"] = data.label[idx]
        out[f"{name}_time"] = data.raw[idx, RAW_COLUMNS.index("Time")]
        out[f"{name}_amount"] = data.raw[idx, RAW_COLUMNS.index("Amount")]
    out["test_supervised_only"] = outcome.test_scores["supervised_only"]
    out["val_supervised_only"] = outcome.val_model_scores["supervised_only"]
    out["test_hybrid_outcome"] = outcome.test_scores["hybrid"]
    out["weight_test"] = np.float64(outcome.metrics["normal_weight"])
    assert outcome.val_labels is not None
    out["weight_val"] = np.float64(evaluate.normal_weight(outcome.val_labels, settings.prevalence))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache / f"seed{seed}.npz", **out)


Data = dict[str, Any]
KEYS = ("roc_auc", "weighted_average_precision", "recall_at_fpr_0.01", "recall_at_fpr_0.001")


def load(cache: Path, seed: int) -> Data:
    with np.load(cache / f"seed{seed}.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _metrics(d: Data, val: np.ndarray, test: np.ndarray) -> dict[str, dict[str, float]]:
    return {
        "val": {
            k: v
            for k, v in evaluate.ranking_metrics(val, d["val_y"], float(d["weight_val"])).items()
            if k in KEYS
        },
        "test": {
            k: v
            for k, v in evaluate.ranking_metrics(test, d["test_y"], float(d["weight_test"])).items()
            if k in KEYS
        },
    }


def keras_head(
    d: Data, seed: int, units: list[int], inputs: str = "z", **kw: Any
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The default head's recipe (settings' defaults) with `units` and `kw` overrides;
    (val logit, test logit, info)."""
    from fraudstream.trainer.supervised import keras_logit, train_classifier

    s = TrainerSettings()
    cols = slice(None) if inputs == "z" else slice(0, d["train_x"].shape[1])
    clf = train_classifier(
        d["train_z"][:, cols],
        d["train_y"],
        d["val_z"][:, cols],
        d["val_y"],
        units=units,
        seed=seed,
        epochs=s.classifier_epochs,
        patience=s.classifier_patience,
        learning_rate=s.classifier_learning_rate,
        batch_size=s.classifier_batch_size,
        l2=s.classifier_l2,
        threads=1,
        **kw,
    )
    info = {"epochs_run": clf.epochs_run, "best_epoch": clf.best_epoch}
    return (
        np.asarray(keras_logit(clf.model, d["val_z"][:, cols]), np.float64),
        np.asarray(keras_logit(clf.model, d["test_z"][:, cols]), np.float64),
        info,
    )


def hgb(
    d: Data, seed: int, inputs: str, lr: float, leaves: int, balanced: bool, max_iter: int = 300
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """HistGradientBoosting; the number of trees chosen by the (class-balanced) validation
    log loss, as the Keras head's early stopping does."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    cols = slice(None) if inputs == "z" else slice(0, d["train_x"].shape[1])
    m = HistGradientBoostingClassifier(
        learning_rate=lr,
        max_leaf_nodes=leaves,
        max_iter=max_iter,
        early_stopping=False,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )
    m.fit(d["train_z"][:, cols], d["train_y"])
    yv = d["val_y"]
    w = np.where(yv == 1, (yv == 0).sum() / max((yv == 1).sum(), 1), 1.0)
    # Without subsampling or early stopping the first k trees are those of a k-tree fit.
    val = list(m.staged_decision_function(d["val_z"][:, cols]))
    losses = [float((w * (np.logaddexp(0, f) - yv * f)).sum() / w.sum()) for f in val]
    best = int(np.argmin(losses)) + 1
    test = list(m.staged_decision_function(d["test_z"][:, cols]))
    return val[best - 1], test[best - 1], {"trees": best}


def screen_seed(d: Data, seed: int, which: list[str]) -> dict[str, Any]:
    """Every variant of `which` (or all) for one seed's cache: val and test metrics."""
    out: dict[str, Any] = {}

    def add(name: str, val: np.ndarray, test: np.ndarray, info: dict[str, Any]) -> None:
        out[name] = {**_metrics(d, val, test), "info": info}
        t = out[name]["test"]
        v = out[name]["val"]
        print(
            f"seed {seed} {name:34s} val wAP {v['weighted_average_precision']:.3f} "
            f"r1 {v['recall_at_fpr_0.01']:.3f} | test wAP {t['weighted_average_precision']:.3f} "
            f"r1 {t['recall_at_fpr_0.01']:.3f} r01 {t['recall_at_fpr_0.001']:.3f} "
            f"auc {t['roc_auc']:.3f} {info}",
            flush=True,
        )

    def want(name: str) -> bool:
        return not which or any(name.startswith(w) for w in which)

    add("default hybrid (cached)", d["val_hybrid"], d["test_hybrid"], {})
    add("supervised only (cached)", d["val_supervised_only"], d["test_supervised_only"], {})
    add("autoencoder alone (cached)", d["val_anomaly"], d["test_anomaly"], {})
    if want("gbt"):
        for lr in (0.05, 0.1):
            for leaves in (7, 15):
                for bal in (False, True):
                    v, t, info = hgb(d, seed, "z", lr, leaves, bal)
                    add(f"gbt z lr{lr} leaves{leaves} bal{int(bal)}", v, t, info)
    if want("gbtfeat"):
        for lr in (0.05, 0.1):
            for leaves in (7, 15):
                v, t, info = hgb(d, seed, "x", lr, leaves, False)
                add(f"gbtfeat x lr{lr} leaves{leaves} bal0", v, t, info)
    if want("units8"):
        add("units8", *keras_head(d, seed, [8]))
    if want("focal"):
        add("focal g2 balanced", *keras_head(d, seed, [16], focal_gamma=2.0))
        add("focal g2 unweighted", *keras_head(d, seed, [16], focal_gamma=2.0, fraud_weight=1.0))
    if want("ens"):
        members = [keras_head(d, seed + 1000 * k, [16]) for k in range(5)]
        for k in (3, 5):
            v = np.mean([m[0] for m in members[:k]], axis=0)
            t = np.mean([m[1] for m in members[:k]], axis=0)
            add(f"ens{k} (mean logit)", v, t, {"members": [m[2] for m in members[:k]]})
        add("ens member 0 (default recipe)", *members[0])
    return out


def variant_scores(d: Data, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(val, test) scores of a named variant: `hybrid`, `supervised_only`, `autoencoder`
    (the cached protocol run), `gbt:LR:LEAVES:BAL`, `ens:K`, `ens8:K` (8-unit heads),
    `sup_ens:K` (supervised-only, K seeds), `units8`, `focal`."""
    cached = {"hybrid": "hybrid", "supervised_only": "supervised_only", "autoencoder": "anomaly"}
    if name in cached:
        return d[f"val_{cached[name]}"], d[f"test_{cached[name]}"]
    kind, *args = name.split(":")
    if kind == "gbt":
        v, t, _ = hgb(d, seed, "z", float(args[0]), int(args[1]), bool(int(args[2])))
        return v, t
    if kind == "ens":
        members = [keras_head(d, seed + 1000 * k, [16]) for k in range(int(args[0]))]
        return np.mean([m[0] for m in members], axis=0), np.mean([m[1] for m in members], axis=0)
    if kind == "ens8":  # k heads of 8 units: k = 2 serves at the default head's width
        members = [keras_head(d, seed + 1000 * k, [8]) for k in range(int(args[0]))]
        return np.mean([m[0] for m in members], axis=0), np.mean([m[1] for m in members], axis=0)
    if kind == "sup_ens":  # supervised-only (features alone), k seeds, mean logit
        members = [keras_head(d, seed + 1000 * k, [16], "x") for k in range(int(args[0]))]
        return np.mean([m[0] for m in members], axis=0), np.mean([m[1] for m in members], axis=0)
    if kind == "units8":
        v, t, _ = keras_head(d, seed, [8])
        return v, t
    if kind == "focal":
        v, t, _ = keras_head(d, seed, [16], focal_gamma=2.0)
        return v, t
    raise ValueError(f"unknown variant {name}")


def confirm(cache: Path, seeds: list[int], names: list[str], n_boot: int) -> dict[str, Any]:
    """Test-period metrics of each variant over `seeds`: seed means, 95 % bootstrap
    intervals of the mean and paired differences against supervised-only and the default
    hybrid (the protocol's stratified resamples, shared by all seeds and models)."""
    from fraudstream.trainer import bootstrap
    from fraudstream.trainer.protocol import BOOTSTRAP_SEED

    names = ["hybrid", "supervised_only", "autoencoder", *names]
    per_seed = []
    counts = None
    point: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for seed in seeds:
        d = load(cache, seed)
        part = cache / f"confirm-seed{seed}.npz"
        have = dict(np.load(part)) if part.exists() else {}
        for n in names:
            if f"test_{n}" not in have:
                have[f"val_{n}"], have[f"test_{n}"] = variant_scores(d, seed, n)
                np.savez(part, **have)
        if counts is None:
            counts = bootstrap.resample_counts(d["test_y"], n_boot, BOOTSTRAP_SEED)
        w = float(d["weight_test"])
        per_seed.append(
            {
                n: bootstrap.metrics_from_counts(have[f"test_{n}"], d["test_y"], counts, w)
                for n in names
            }
        )
        for n in names:
            m = _metrics(d, have[f"val_{n}"], have[f"test_{n}"])
            point[n].append(
                {"seed": seed, **{f"val_{k}": v for k, v in m["val"].items()}, **m["test"]}
            )
            print(
                f"seed {seed} {n:28s} "
                + " ".join(
                    f"{k}={point[n][-1][k]:.3f}"
                    for k in (*KEYS, "val_weighted_average_precision", "val_recall_at_fpr_0.01")
                ),
                flush=True,
            )
    mean = {n: {k: float(np.mean([r[k] for r in point[n]])) for k in point[n][0]} for n in names}
    bases = [b for b in ("supervised_only", "hybrid", *names[3:]) if b in names]
    paired = {
        f"{a}-{b}": {k: bootstrap.paired_difference(per_seed, a, b, k) for k in KEYS}
        for a in names[3:]
        for b in bases
        if a != b
    }
    return {
        "seeds": seeds,
        "resamples": n_boot,
        "per_seed": point,
        "mean": mean,
        "interval95": bootstrap.seed_mean_intervals(per_seed),
        "paired95": paired,
    }


def misses(cache: Path, seed: int) -> dict[str, Any]:
    """The test frauds that the default hybrid and supervised-only both miss at 1 % FPR
    (threshold: the 99th percentile of the test normals' scores), against those caught."""
    from fraudstream.events import NUMERIC_COLUMNS

    feats = [c for c in NUMERIC_COLUMNS if c != "Time"]
    d = load(cache, seed)
    y = d["test_y"]
    fr = y == 1

    def caught(s: np.ndarray) -> np.ndarray:
        return np.asarray(s[fr] > np.quantile(s[y == 0], 0.99))

    def pct(s: np.ndarray, rows: np.ndarray) -> list[float]:
        return [round(float((s[y == 0] < v).mean()), 2) for v in s[fr][rows]]

    c = {m: caught(d[f"test_{m}"]) for m in ("hybrid", "supervised_only", "anomaly")}
    miss = ~c["hybrid"] & ~c["supervised_only"]
    x, xt, yt = d["test_x"], d["train_x"], d["train_y"]
    xf, xn = x[fr], x[y == 0]

    def fraud_share_of_neighbours(rows: np.ndarray) -> np.ndarray:
        dist = ((rows[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
        return np.asarray(yt[np.argsort(dist, axis=1)[:, :10]].mean(axis=1))

    gap = xf[~miss].mean(0) - xn.mean(0)
    top = np.argsort(-np.abs(gap))[:8]
    return {
        "seed": seed,
        "caught_of_frauds": {m: int(v.sum()) for m, v in c.items()},
        "test_frauds": int(fr.sum()),
        "missed_by_hybrid_and_supervised": int(miss.sum()),
        "missed_by_all_three": int((miss & ~c["anomaly"]).sum()),
        "missed_amount": [round(float(a), 2) for a in d["test_amount"][fr][miss]],
        "median_amount": {
            "missed": float(np.median(d["test_amount"][fr][miss])),
            "caught": float(np.median(d["test_amount"][fr][~miss])),
            "test_normals": float(np.median(d["test_amount"][y == 0])),
        },
        "missed_time_hours": [round(float(t) / 3600, 1) for t in d["test_time"][fr][miss]],
        "test_period_hours": [
            round(float(d["test_time"].min()) / 3600, 1),
            round(float(d["test_time"].max()) / 3600, 1),
        ],
        "missed_percentile_among_test_normals": {
            m: pct(d[f"test_{m}"], miss) for m in ("hybrid", "supervised_only", "anomaly")
        },
        "max_abs_feature_missed": [round(float(v), 1) for v in np.abs(xf[miss]).max(1)],
        "max_abs_feature_median": {
            "caught": float(np.median(np.abs(xf[~miss]).max(1))),
            "test_normals": float(np.median(np.abs(xn).max(1))),
        },
        "top_features_mean_standardized": {
            feats[j]: {
                "normals": round(float(xn[:, j].mean()), 2),
                "caught": round(float(xf[~miss][:, j].mean()), 2),
                "missed": round(float(xf[miss][:, j].mean()), 2),
            }
            for j in top
        },
        "fraud_share_of_10_nearest_training_rows": {
            "missed": [round(float(v), 1) for v in fraud_share_of_neighbours(xf[miss])],
            "caught_median": float(np.median(fraud_share_of_neighbours(xf[~miss]))),
        },
    }


def plot_pr(cache: Path, seed: int, names: list[str], path: Path) -> None:
    """Weighted precision-recall curves of the confirmed variants on one seed's test period
    (normals weighted to the real prevalence, as in the protocol's plots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    d = load(cache, seed)
    with np.load(cache / f"confirm-seed{seed}.npz") as part:
        scores = {n: part[f"test_{n}"] for n in names if f"test_{n}" in part.files}
    y = (d["test_y"] == 1).astype(int)
    w = np.where(y == 1, 1.0, float(d["weight_test"]))
    fig, ax = plt.subplots(figsize=(6, 5))
    for n, sc in scores.items():
        p, r, _ = precision_recall_curve(y, sc, sample_weight=w)
        ax.plot(r, p, label=n, lw=2 if n == "hybrid" else 1)
    ax.set(
        xlabel="recall",
        ylabel="precision (normals weighted to real prevalence)",
        title=f"Supervised-part variants (test period, seed {seed})",
    )
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--csv", type=Path, required=True)
    c.add_argument("--seeds", type=int, nargs="+", default=[0])
    c.add_argument("--cache", type=Path, required=True)
    c.add_argument("--set", action="append", default=[], metavar="FIELD=JSON")
    sc = sub.add_parser("screen")
    sc.add_argument("--cache", type=Path, required=True)
    sc.add_argument("--seeds", type=int, nargs="+", default=[0])
    sc.add_argument("--only", nargs="*", default=[], help="Variant name prefixes.")
    sc.add_argument("--out", type=Path, required=True)
    cf = sub.add_parser("confirm")
    cf.add_argument("--cache", type=Path, required=True)
    cf.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    cf.add_argument("--variants", nargs="+", required=True)
    cf.add_argument("--resamples", type=int, default=1000)
    cf.add_argument("--out", type=Path, required=True)
    pl = sub.add_parser("plot")
    pl.add_argument("--cache", type=Path, required=True)
    pl.add_argument("--seed", type=int, default=0)
    pl.add_argument("--variants", nargs="+", required=True)
    pl.add_argument("--out", type=Path, required=True)
    mi = sub.add_parser("misses")
    mi.add_argument("--cache", type=Path, required=True)
    mi.add_argument("--seeds", type=int, nargs="+", default=[0])
    mi.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging("INFO")
    if args.cmd == "cache":
        overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
        for seed in args.seeds:
            t0 = time.monotonic()
            cache_seed(args.csv, seed, args.cache, overrides)
            print(f"seed {seed} cached in {time.monotonic() - t0:.0f} s", flush=True)
    elif args.cmd == "confirm":
        res = confirm(args.cache, args.seeds, args.variants, args.resamples)
        args.out.write_text(json.dumps(res, indent=1, default=float) + "\n")
    elif args.cmd == "plot":
        plot_pr(args.cache, args.seed, args.variants, args.out)
    elif args.cmd == "misses":
        out = [misses(args.cache, s) for s in args.seeds]
        args.out.write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps(out, indent=1))
    else:
        res = {}
        for seed in args.seeds:
            res[seed] = screen_seed(load(args.cache, seed), seed, args.only)
            args.out.write_text(json.dumps(res, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
