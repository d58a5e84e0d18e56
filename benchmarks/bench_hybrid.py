"""Serving cost of the hybrid model vs the plain autoencoder, model only, in one run.

What the scorer calls per batch (`fraudstream.scorer.reload.ServingModel.score`: the
per-feature explanation terms and the score) is timed for both models on the same
decoded batches, interleaved, in process CPU time with one BLAS thread (as the scorer
runs). The models have the trained defaults' shapes: autoencoder 29-14-7-14-29 with the
`max_mahalanobis` score (two 29 x 29 error precisions), hybrid = that plus the supervised
part 59-16-1 over features, errors and the anomaly score. Weights are random (the cost
does not depend on their values) unless `--ae`/`--hybrid` name trained artifacts.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_hybrid.py [--batch 2000] [--repeats 30]
        [--ae models/<version>] [--hybrid models/<version>] [--scorer-us 7.2]

`--scorer-us` is the scorer's whole CPU cost per event with the autoencoder (from
bench_scorer.py; docs/benchmarks.md): the extra model cost is added to it to estimate the
end-to-end throughput ratio.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.model import (
    HYBRID_FORMAT_VERSION,
    ErrorComponent,
    LayerSpec,
    ModelManifest,
    NumpyModel,
    Preprocessing,
    ScoreSpec,
    SupervisedSpec,
    load_model,
)
from fraudstream.scorer.reload import ServingModel, canned_batch, prepare

Weights = list[tuple[np.ndarray, np.ndarray]]


def _dense(rng: np.random.Generator, dims: list[int]) -> Weights:
    return [
        (rng.normal(0, 0.3, (i, o)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))
        for i, o in itertools.pairwise(dims)
    ]


def synthetic_models(seed: int = 0, hidden: int = 16) -> tuple[NumpyModel, NumpyModel]:
    """(autoencoder, hybrid) with the trained defaults' shapes and random weights; the
    supervised part has `hidden` tanh units (16 by default; 80 = a 5-member ensemble of
    16-unit heads merged into one layer)."""
    rng = np.random.default_rng(seed)
    features = list(FEATURE_COLUMNS)
    n = len(features)
    comps = []
    for name in ("classic", "robust"):
        a = rng.normal(0, 1, (n, n))
        comps.append(
            ErrorComponent(
                name=name,
                error_mean=rng.normal(0, 0.05, n).tolist(),
                error_precision=(a @ a.T / n + np.eye(n)).tolist(),
                scale=1.0,
            )
        )
    base = dict(
        version="20261204T000000Z-00000000",
        features=features,
        preprocessing=Preprocessing(
            sources=features,
            transforms=["identity"] * 28 + ["log1p"],
            mean=[0.0] * n,
            std=[1.0] * n,
        ),
        layers=[
            LayerSpec(units=u, activation=a)
            for u, a in [(14, "tanh"), (7, "tanh"), (14, "tanh"), (n, "linear")]
        ],
        threshold=1.0,
        threshold_strategy="fpr",
        score=ScoreSpec(kind="max_mahalanobis", components=comps),
    )
    ae_w = _dense(rng, [n, 14, 7, 14, n])
    width = 2 * n + 1
    spec = SupervisedSpec(
        inputs=["features", "errors", "anomaly"],
        input_mean=[0.0] * width,
        input_std=[1.0] * width,
        reference=[0.0] * width,
        layers=[
            LayerSpec(units=hidden, activation="tanh"),
            LayerSpec(units=1, activation="linear"),
        ],
    )
    ae = NumpyModel(ModelManifest(**base), ae_w)  # type: ignore[arg-type]
    hybrid = NumpyModel(
        ModelManifest(**base, supervised=spec, format_version=HYBRID_FORMAT_VERSION),  # type: ignore[arg-type]
        ae_w,
        _dense(rng, [width, hidden, 1]),
    )
    return ae, hybrid


def cpu_us_per_event(serving: ServingModel, batches: list[np.ndarray]) -> float:
    t0 = time.process_time()
    n = 0
    for b in batches:
        serving.score(b)
        n += len(b)
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--ae", type=Path)
    ap.add_argument("--hybrid", type=Path)
    ap.add_argument("--scorer-us", type=float, default=7.2)
    ap.add_argument("--hidden", type=int, default=16, help="Synthetic hybrid's hidden units.")
    args = ap.parse_args()
    if args.ae and args.hybrid:
        ae, hybrid = load_model(args.ae), load_model(args.hybrid)
    else:
        ae, hybrid = synthetic_models(hidden=args.hidden)
    s_ae, s_hy = prepare(ae), prepare(hybrid)
    assert s_ae.score_is_mean and s_hy.score_is_mean, "one forward pass per batch expected"
    batches = [canned_batch(args.batch, seed=i) for i in range(args.batches)]
    for s in (s_ae, s_hy):  # warm-up
        cpu_us_per_event(s, batches[:2])
    t_ae: list[float] = []
    t_hy: list[float] = []
    for _ in range(args.repeats):
        t_ae.append(cpu_us_per_event(s_ae, batches))
        t_hy.append(cpu_us_per_event(s_hy, batches))
    ratios = [h / a for h, a in zip(t_hy, t_ae, strict=True)]
    ae_us, hy_us = statistics.median(t_ae), statistics.median(t_hy)
    extra = hy_us - ae_us
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"batch {args.batch} x {args.batches}, {args.repeats} interleaved repeats "
        f"(median CPU us per event, model only: ServingModel.score)"
    )
    print(f"  autoencoder          {ae_us:7.3f} us/event")
    print(f"  hybrid               {hy_us:7.3f} us/event")
    print(
        f"  ratio hybrid / AE    {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    print(
        f"  estimated scorer throughput ratio (scorer {args.scorer_us} us/event with the AE): "
        f"{args.scorer_us / (args.scorer_us + extra):.3f}"
    )


if __name__ == "__main__":
    main()
