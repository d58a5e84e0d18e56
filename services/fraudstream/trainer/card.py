"""The model card (README.md inside each model version directory)."""

from __future__ import annotations

import json
from typing import Any

from fraudstream.model import ModelManifest


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "n/a" if v is None else str(v)


def model_card(m: ModelManifest, metrics: dict[str, Any]) -> str:
    """Markdown: what the model is, how it was trained, how well it did, how to use it."""
    t = m.training
    at = metrics.get("at_threshold", {})
    served = [("hybrid", metrics.get("hybrid", {}))] if m.is_hybrid else []
    rows = [*served, ("autoencoder", metrics.get("autoencoder", {}))]
    rows += list(metrics.get("baselines", {}).items())
    table = "\n".join(
        f"| {name} | {_fmt(r.get('roc_auc'))} | {_fmt(r.get('average_precision'))} | "
        f"{_fmt(r.get('weighted_average_precision'))} | {_fmt(r.get('recall_at_fpr_0.001'))} | "
        f"{_fmt(r.get('recall_at_fpr_0.01'))} |"
        for name, r in rows
        if r
    )
    k = int(t.get("ensemble", 1) or 1)
    dims = "-".join([str(len(m.features)), *(str(s.units) for s in m.layers)])
    if k > 1:
        member = "-".join(
            [
                str(len(m.features)),
                *(str(s.units // k) for s in m.layers[:-1]),
                str(len(m.features)),
            ]
        )
        dims = (
            f"{member} x {k} members trained side by side (independent losses) and served as "
            f"their mean reconstruction: one block-diagonal stack {dims}"
        )
    acts = ", ".join(s.activation for s in m.layers)
    return f"""# Model card: {m.version}

{_what(m, metrics)} An event is anomalous when its score exceeds **{m.threshold:.6g}**.

## Inputs
- Raw columns the scorer supplies, in order: `{", ".join(m.raw_inputs)}`.
- Features: {", ".join(m.features)}. Amount goes through `log1p`; every feature is then
  standardized with the training rows' mean/std (stored in `manifest.json`).
- Input schema fingerprint: `{m.input_schema_fingerprint}`.

## Architecture and score
- Dense {dims} ({acts}); linear output layer (standardized inputs are negative half
  the time, which the seed's ReLU output could not reproduce).
- Trained with MSE and Adam, early stopping on a validation split (normals following the
  training period in time), seed {t.get("seed")}, {t.get("epochs_run")} epochs run
  (best {t.get("best_epoch")}), batch {t.get("batch_size")}.
- Score: `{m.score.kind}`. {_score_text(m.score.kind)}
{_hybrid_text(m)}- Threshold: `{m.threshold_strategy}` {json.dumps(m.threshold_params)}, chosen on
  the validation split (never on the test split).

## Evaluation ({_test_text(m, metrics)})
Weighted columns weight each test normal by {_fmt(metrics.get("normal_weight"))} so frauds
have their real prevalence (0.172 %).

| model | ROC-AUC | AP | weighted AP | recall @ FPR 0.1 % | recall @ FPR 1 % |
|---|---|---|---|---|---|
{table}

At the threshold: precision {_fmt(at.get("precision"))}
(weighted {_fmt(at.get("weighted_precision"))}),
recall {_fmt(at.get("recall"))}, F1 {_fmt(at.get("f1"))}, FPR {_fmt(at.get("fpr"))};
confusion {json.dumps(at.get("confusion", {}))}.

## Data and lineage
```json
{json.dumps(m.lineage, indent=2, default=str)}
```

Rows: {t.get("rows")} kept, skipped {json.dumps(t.get("skipped", {}))};
split {json.dumps(t.get("split", {}))}.

## Use
`fraudstream.model.load_model(path).score(X_raw)`: NumPy only; `model.keras` is the same
network for Keras users. Keras/NumPy score parity (max relative difference):
{_fmt(metrics.get("parity_max_rel_diff"))}.

## Limits
- Trained on the labelled stream only; the threshold assumes the normal traffic of the
  validation period. Re-train when the alert rate drifts.
- Precision depends on the fraud prevalence; weighted figures assume 0.172 %.
"""


def _what(m: ModelManifest, metrics: dict[str, Any]) -> str:
    if m.is_hybrid:
        return (
            "**Hybrid** card-fraud detector trained by `fraudstream train`: a dense autoencoder "
            "learnt from normal transactions (the anomaly score for fraud never seen before) "
            "plus a supervised part learnt from the labelled frauds of the training period, "
            "combined into one score."
        )
    return (
        "Dense autoencoder for card-fraud anomaly detection, trained by `fraudstream train` on "
        "normal transactions only."
    )


def _test_text(m: ModelManifest, metrics: dict[str, Any]) -> str:
    if m.is_hybrid:
        fr = metrics.get("frauds", {})
        return (
            "labelled rows ordered by time: first 60 % train, next 20 % validate, last 20 % "
            f"test; labelled frauds per period {json.dumps(fr)}"
        )
    return "time-ordered test split: last normals + frauds"


def _hybrid_text(m: ModelManifest) -> str:
    s = m.supervised
    if s is None:
        return ""
    dims = "-".join(str(x.units) for x in s.layers)
    c = m.training.get("classifier", {})
    return f"""- Supervised part: dense {len(s.input_mean)}-{dims} (tanh, linear logit) over
  {", ".join(s.inputs)} (the autoencoder's standardized input, its per-feature
  reconstruction error, the log of its anomaly score), trained with binary cross-entropy,
  each fraud weighted {_fmt(c.get("fraud_weight"))}, early stopping on the validation period
  ({c.get("epochs_run")} epochs run, best {c.get("best_epoch")}).
- Hybrid score: `softplus(logit)` = -log P(normal). Explanation: the logit's DeepLIFT
  contributions per feature (the anomaly input shared by the autoencoder's own terms); the
  score is split over the features with positive contributions, so the top features are
  the ones that pushed the event towards fraud.
"""


def _score_text(kind: str) -> str:
    if kind == "max_mahalanobis":
        return (
            "The larger of two Mahalanobis distances of the reconstruction error (error mean "
            "and inverse covariance fitted on the training rows: one classic, one robust "
            "Minimum Covariance Determinant estimate), each divided by its 99th percentile on "
            "the validation normals. Normal rows' errors are strongly correlated; frauds break "
            "those correlations in directions where normal errors are tiny, which a plain MSE "
            "averages away. The robust estimate keeps those directions tight (precision at "
            "low prevalence), the classic one adds frauds that deviate moderately everywhere."
        )
    if kind == "mahalanobis":
        return (
            "The squared Mahalanobis distance of the reconstruction error, with the error "
            "mean and inverse covariance fitted on the training rows: normal rows' errors "
            "are strongly correlated, and frauds break those correlations in directions "
            "where normal errors are tiny, which a plain MSE averages away."
        )
    if kind == "normalized_mse":
        return "Mean squared error per feature divided by that feature's typical error."
    return "Mean squared reconstruction error in standardized space."
