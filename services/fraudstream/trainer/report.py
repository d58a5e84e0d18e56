"""The evaluation report: metrics.json, report.md and PNG plots in one directory.

Plots: ROC and precision-recall curves (autoencoder beside the baselines; PR weighted to
the real prevalence), score histograms normal vs fraud with the threshold, loss curves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudstream.trainer.pipeline import TrainOutcome


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_report(outcome: TrainOutcome, report_dir: Path, title: str = "") -> list[Path]:
    """Write the report for one run; returns the files written."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _roc(outcome, report_dir / "roc.png"),
        _pr(outcome, report_dir / "pr.png"),
        _hist(outcome, report_dir / "score_hist.png"),
        _loss(outcome.history, report_dir / "loss.png"),
    ]
    metrics_path = report_dir / "metrics.json"
    metrics_path.write_text(json.dumps(outcome.metrics, indent=2, default=float) + "\n")
    md = report_dir / "report.md"
    md.write_text(markdown(outcome, title))
    return [metrics_path, md, *written]


def _weights(labels: NDArray[np.int64], w: float) -> NDArray[np.float64]:
    return np.where(labels == 1, 1.0, w)


def _roc(o: TrainOutcome, path: Path) -> Path:
    from sklearn.metrics import roc_curve

    plt = _plt()
    assert o.test_labels is not None
    y = (o.test_labels == 1).astype(int)
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in o.test_scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name, lw=2 if name == o.served else 1)
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    for f in (0.001, 0.01):
        ax.axvline(f, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="false-positive rate (log)", ylabel="recall", title="ROC (test split)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _pr(o: TrainOutcome, path: Path) -> Path:
    from sklearn.metrics import precision_recall_curve

    plt = _plt()
    assert o.test_labels is not None
    y = (o.test_labels == 1).astype(int)
    w = _weights(o.test_labels, float(o.metrics.get("normal_weight", 1.0)))
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in o.test_scores.items():
        p, r, _ = precision_recall_curve(y, s, sample_weight=w)
        ax.plot(r, p, label=name, lw=2 if name == o.served else 1)
    ax.set(
        xlabel="recall",
        ylabel="precision (normals weighted to real prevalence)",
        title="Precision-recall (test split, weighted)",
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _hist(o: TrainOutcome, path: Path) -> Path:
    plt = _plt()
    assert o.test_labels is not None
    s = o.test_scores[o.served]
    lo = max(float(np.min(s)), 1e-6)
    bins = np.logspace(np.log10(lo), np.log10(float(np.max(s)) + 1e-9), 60)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.hist(s[o.test_labels == 0], bins=bins, alpha=0.6, label="normal")
    ax.hist(s[o.test_labels == 1], bins=bins, alpha=0.6, label="fraud")
    ax.set_yscale("log")
    ax.axvline(o.manifest.threshold, color="k", ls="--", label="threshold")
    ax.set_xscale("log")
    ax.set(
        xlabel=f"score ({o.served if o.served == 'hybrid' else o.manifest.score.kind}, log)",
        ylabel="rows (log)",
        title="Anomaly scores on the test split",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _loss(history: dict[str, list[float]], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in ("loss", "val_loss"):
        if k in history:
            ax.plot(range(1, len(history[k]) + 1), history[k], label=k)
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="MSE (standardized)", title="Autoencoder training curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _f(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else ("n/a" if v is None else str(v))


def markdown(o: TrainOutcome, title: str = "") -> str:
    m = o.metrics
    served = [("hybrid", m.get("hybrid", {}))] if o.served == "hybrid" else []
    rows = [*served, ("autoencoder", m.get("autoencoder", {})), *m.get("baselines", {}).items()]
    table = "\n".join(
        f"| {n} | {_f(r.get('roc_auc'))} | {_f(r.get('average_precision'))} | "
        f"{_f(r.get('weighted_average_precision'))} | {_f(r.get('recall_at_fpr_0.001'))} | "
        f"{_f(r.get('recall_at_fpr_0.01'))} |"
        for n, r in rows
    )
    at = m.get("at_threshold", {})
    c = at.get("confusion", {})
    return f"""# Evaluation report{(": " + title) if title else ""}

Model `{o.version}` ({o.served}); autoencoder score `{o.manifest.score.kind}`; threshold
`{o.manifest.threshold_strategy}`
{json.dumps(o.manifest.threshold_params)} = {o.manifest.threshold:.6g} (chosen on validation).
Split sizes {json.dumps(m.get("split", {}))}, labelled frauds {json.dumps(m.get("frauds", {}))};
test normals weighted x{_f(m.get("normal_weight"))}.

| model | ROC-AUC | AP | weighted AP | recall @ FPR 0.1 % | recall @ FPR 1 % |
|---|---|---|---|---|---|
{table}

At the threshold (test): precision {_f(at.get("precision"))}, weighted precision
{_f(at.get("weighted_precision"))}, recall {_f(at.get("recall"))}, F1 {_f(at.get("f1"))},
weighted F1 {_f(at.get("weighted_f1"))}, FPR {_f(at.get("fpr"))}.

| | predicted fraud | predicted normal |
|---|---|---|
| fraud | {c.get("tp")} | {c.get("fn")} |
| normal | {c.get("fp")} | {c.get("tn")} |

![ROC](roc.png) ![PR](pr.png) ![scores](score_hist.png) ![loss](loss.png)
"""
