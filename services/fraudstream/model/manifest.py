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


class ModelManifest(BaseModel):
    """The artifact's `manifest.json` (format_version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = FORMAT_VERSION
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
        return self
