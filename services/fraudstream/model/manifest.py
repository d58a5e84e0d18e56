"""`manifest.json`: everything a scorer needs besides the weights, as a pydantic model.

The manifest is the contract between the trainer (writes it) and the scorer (reads it):
feature order, preprocessing parameters, the dense stack's shape, the score function and
its threshold. It is validated on load so a hand-edited or truncated file fails loudly.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from fraudstream.version import __version__, git_commit

FORMAT_VERSION: Literal[1] = 1
# A hybrid artifact (autoencoder + supervised part) says so with format 2, so a scorer
# built before hybrids refuses it by its version instead of misreading it.
HYBRID_FORMAT_VERSION: Literal[2] = 2
VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")

Transform = Literal["identity", "log1p", "hour_sin", "hour_cos"]
# Which raw column each derived transform reads when no source is given.
HOUR_SOURCE = "Time"
SECONDS_PER_DAY = 86_400.0


class Preprocessing(BaseModel):
    """Per-feature transform of a raw column, then standardization `(x - mean) / std`.

    All lists are aligned with `ModelManifest.features`. `mean`/`std` were fitted on the
    training rows only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[str] = Field(description="Raw input column each feature is computed from.")
    transforms: list[Transform] = Field(description="Transform applied before standardizing.")
    mean: list[float]
    std: list[float]

    @field_validator("std")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        bad = [i for i, s in enumerate(v) if not (math.isfinite(s) and s > 0)]
        if bad:
            raise ValueError(f"std must be finite and > 0 (bad at positions {bad})")
        return v

    @field_validator("mean")
    @classmethod
    def _finite(cls, v: list[float]) -> list[float]:
        if not all(math.isfinite(m) for m in v):
            raise ValueError("mean must be finite")
        return v


class LayerSpec(BaseModel):
    """One dense layer: `activation(x @ W + b)` with `units` outputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: int = Field(gt=0)
    activation: str = "linear"


class ErrorComponent(BaseModel):
    """One Mahalanobis view of the reconstruction error, divided by `scale`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_mean: list[float]
    error_precision: list[list[float]]
    scale: float = Field(gt=0)
    name: str = ""

    @model_validator(mode="after")
    def _square(self) -> ErrorComponent:
        n = len(self.error_mean)
        if len(self.error_precision) != n or any(len(r) != n for r in self.error_precision):
            raise ValueError(f"error_precision must be {n} x {n}")
        flat = [*self.error_mean, *(v for r in self.error_precision for v in r), self.scale]
        if not all(math.isfinite(v) for v in flat):
            raise ValueError("error_mean, error_precision and scale must be finite")
        return self


class ScoreSpec(BaseModel):
    """How a reconstruction becomes an anomaly score (higher = more anomalous).

    With `d = x - x_hat` in standardized space, the score is the row mean of per-feature
    terms `c_j` (what `feature_errors` returns, largest = best explanation):

    - `mse`: `c_j = d_j**2` (the seed's score).
    - `normalized_mse`: `c_j = d_j**2 / feature_scale[j]`, the typical squared error of that
      feature on normal training rows, so well-reconstructed features are not drowned out.
    - `mahalanobis`: `e = d - error_mean`, `c_j = e_j * (P @ e)_j` with `P = error_precision`,
      the inverse covariance of the training rows' reconstruction errors. Normal rows'
      errors are correlated; this score weighs most the directions in which normal errors
      are tiny (their sum is the squared Mahalanobis distance of the error; a single `c_j`
      may be negative).
    - `max_mahalanobis`: the same terms for each of several `components` (e.g. a classic and
      a robust covariance estimate), each divided by its `scale`; the score is the largest
      component's mean, and `feature_errors` returns that component's terms.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mse", "normalized_mse", "mahalanobis", "max_mahalanobis"] = "mse"
    feature_scale: list[float] | None = None
    error_mean: list[float] | None = None
    error_precision: list[list[float]] | None = None
    components: list[ErrorComponent] | None = None

    @model_validator(mode="after")
    def _params_match_kind(self) -> ScoreSpec:
        if self.kind == "normalized_mse":
            if not self.feature_scale:
                raise ValueError("normalized_mse needs feature_scale")
            if not all(math.isfinite(s) and s > 0 for s in self.feature_scale):
                raise ValueError("feature_scale must be finite and > 0")
        if self.kind == "mahalanobis":
            if not self.error_mean or not self.error_precision:
                raise ValueError("mahalanobis needs error_mean and error_precision")
            n = len(self.error_mean)
            if len(self.error_precision) != n or any(len(r) != n for r in self.error_precision):
                raise ValueError(f"error_precision must be {n} x {n}")
            flat = [*self.error_mean, *(v for r in self.error_precision for v in r)]
            if not all(math.isfinite(v) for v in flat):
                raise ValueError("error_mean and error_precision must be finite")
        if self.kind == "max_mahalanobis":
            if not self.components:
                raise ValueError("max_mahalanobis needs components")
            if len({len(c.error_mean) for c in self.components}) != 1:
                raise ValueError("max_mahalanobis components must have the same size")
        return self

    def size(self) -> int | None:
        """Number of features the parameters describe (None for plain mse)."""
        if self.kind == "normalized_mse" and self.feature_scale:
            return len(self.feature_scale)
        if self.kind == "mahalanobis" and self.error_mean:
            return len(self.error_mean)
        if self.kind == "max_mahalanobis" and self.components:
            return len(self.components[0].error_mean)
        return None


SupervisedInput = Literal["features", "errors", "anomaly"]


class SupervisedSpec(BaseModel):
    """The supervised part of a hybrid model: a dense stack that outputs one fraud logit.

    Its input `z` is the concatenation of the `inputs` blocks, each standardized with
    `input_mean`/`input_std`: `features` = the autoencoder's standardized input `x`,
    `errors` = the reconstruction error `x - x_hat`, `anomaly` = `log(max(a, 1e-12))` of
    the autoencoder's own score `a`. The hybrid score is `softplus(logit)` =
    `-log P(normal)`: monotone in the fraud probability, never negative and not saturated
    at the top. Its per-feature explanation attributes `logit - logit(reference)` to the
    inputs with DeepLIFT's rescale rule (exact sum), maps each input to its feature (the
    anomaly input by the autoencoder's own per-feature terms) and splits the score over
    the features in proportion to their positive contributions.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dense_logit"] = "dense_logit"
    inputs: list[SupervisedInput] = Field(min_length=1)
    input_mean: list[float]
    input_std: list[float]
    reference: list[float] = Field(description="Standardized reference input for attribution.")
    layers: list[LayerSpec] = Field(min_length=1, description="Dense stack; the last has 1 unit.")

    @field_validator("inputs")
    @classmethod
    def _unique_inputs(cls, v: list[SupervisedInput]) -> list[SupervisedInput]:
        if len(set(v)) != len(v):
            raise ValueError("supervised inputs must be unique")
        return v

    @model_validator(mode="after")
    def _shapes(self) -> SupervisedSpec:
        n = len(self.input_mean)
        if len(self.input_std) != n or len(self.reference) != n:
            raise ValueError(
                f"input_mean ({n}), input_std ({len(self.input_std)}) and reference "
                f"({len(self.reference)}) must have the same length"
            )
        if not all(math.isfinite(v) for v in (*self.input_mean, *self.reference)):
            raise ValueError("input_mean and reference must be finite")
        if not all(math.isfinite(s) and s > 0 for s in self.input_std):
            raise ValueError("input_std must be finite and > 0")
        last = self.layers[-1]
        if last.units != 1 or last.activation != "linear":
            raise ValueError("the supervised stack must end in 1 linear unit (the logit)")
        return self

    def input_size(self, n_features: int) -> int:
        """Width of `z` for a model with `n_features` features."""
        return sum(1 if b == "anomaly" else n_features for b in self.inputs)


class BinnedDistribution(BaseModel):
    """A distribution as quantile bins: `edges` are the interior bin edges (ascending), bin i
    holds `edges[i-1] < x <= edges[i]` (numpy `searchsorted(edges, x, side="left")`), and
    `fractions` the share of the reference rows in each of the len(edges) + 1 bins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edges: list[float]
    fractions: list[float]

    @model_validator(mode="after")
    def _shape(self) -> BinnedDistribution:
        if len(self.fractions) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) + 1} fractions")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly ascending")
        if not all(math.isfinite(v) for v in self.edges):
            raise ValueError("edges must be finite")
        if any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1.0) > 1e-6:
            raise ValueError("fractions must be >= 0 and sum to 1")
        return self


class DriftReference(BaseModel):
    """What the training population looked like, for drift detection (PSI) while serving:
    each input feature (raw column) and the served score, as quantile bins of the rows the
    threshold was chosen on (the validation split, the most recent training data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int = Field(gt=0, description="Reference rows the bins were computed from.")
    features: dict[str, BinnedDistribution] = Field(description="Raw column -> its bins.")
    score: BinnedDistribution


class ModelManifest(BaseModel):
    """The artifact's `manifest.json` (format_version 1; 2 with a supervised part)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1, 2] = FORMAT_VERSION
    version: str = Field(description="YYYYMMDDTHHMMSSZ-<8 hex of the content hash>.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    features: list[str] = Field(min_length=1, description="Model input features, in order.")
    preprocessing: Preprocessing
    layers: list[LayerSpec] = Field(min_length=1, description="The dense stack, input to output.")
    threshold: float = Field(description="Scores above this are anomalous.")
    threshold_strategy: str = Field(description="How the threshold was chosen, e.g. fpr.")
    threshold_params: dict[str, float] = Field(default_factory=dict)
    score: ScoreSpec = Field(default_factory=ScoreSpec)
    metrics: dict[str, float | int | None] = Field(
        default_factory=dict, description="Summary of metrics.json (validation/test)."
    )
    input_schema_fingerprint: str = Field(
        "", description="sha256 of the canonical Avro schema (or CSV header) trained on."
    )
    lineage: dict[str, Any] = Field(
        default_factory=dict, description="Where the data came from: topic offsets or file hash."
    )
    training: dict[str, Any] = Field(
        default_factory=dict, description="Seed, epochs, framework versions, row counts."
    )
    built_by: dict[str, str] = Field(
        default_factory=lambda: {"fraudstream": __version__, "commit": git_commit()},
        description="The fraudstream version and git commit that wrote this artifact.",
    )
    supervised: SupervisedSpec | None = Field(
        None, description="Hybrid models only: the supervised part over inputs and errors."
    )
    drift_reference: DriftReference | None = Field(
        None, description="Optional: training distribution of each feature and the score."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def raw_inputs(self) -> list[str]:
        """Raw columns a caller must supply to `NumpyModel.score`, in this order."""
        seen: dict[str, None] = {}
        for s in self.preprocessing.sources:
            seen.setdefault(s, None)
        return list(seen)

    @field_validator("version")
    @classmethod
    def _version_format(cls, v: str) -> str:
        if not VERSION_RE.match(v):
            raise ValueError(f"version {v!r} is not YYYYMMDDTHHMMSSZ-<8 hex>")
        return v

    @field_validator("threshold")
    @classmethod
    def _finite_threshold(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("threshold must be finite")
        return v

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        # raw_inputs is derived; accept it in the JSON without treating it as an extra field.
        if isinstance(data, dict) and "raw_inputs" in data:
            data = {k: v for k, v in data.items() if k != "raw_inputs"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        n = len(self.features)
        if len(set(self.features)) != n:
            raise ValueError("features must be unique")
        p = self.preprocessing
        for name, arr in (
            ("sources", p.sources),
            ("transforms", p.transforms),
            ("mean", p.mean),
            ("std", p.std),
        ):
            if len(arr) != n:
                raise ValueError(f"preprocessing.{name} has {len(arr)} entries, features has {n}")
        if self.layers[-1].units != n:
            raise ValueError(
                f"the last layer has {self.layers[-1].units} units; an autoencoder needs {n}"
            )
        size = self.score.size()
        if size is not None and size != n:
            raise ValueError(f"score ({self.score.kind}) has {size} entries, features has {n}")
        hybrid = self.supervised is not None
        if hybrid != (self.format_version == HYBRID_FORMAT_VERSION):
            raise ValueError(
                f"format_version {self.format_version} "
                + ("needs a supervised part" if not hybrid else "cannot hold a supervised part")
            )
        if self.supervised is not None:
            width = self.supervised.input_size(n)
            if len(self.supervised.input_mean) != width:
                raise ValueError(
                    f"supervised inputs {self.supervised.inputs} are {width} wide; "
                    f"input_mean has {len(self.supervised.input_mean)}"
                )
        return self

    @property
    def is_hybrid(self) -> bool:
        """True when the artifact carries a supervised part (format 2)."""
        return self.supervised is not None
