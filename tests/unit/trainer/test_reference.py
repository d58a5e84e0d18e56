"""The drift reference: decile bins per feature (ties merged, Time left out) and of the
score, stored as an optional manifest field that old manifests simply lack."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.model.manifest import BinnedDistribution, ModelManifest
from fraudstream.testing.scorer import pca_model
from fraudstream.trainer.reference import binned, drift_reference


def test_deciles_of_a_continuous_feature() -> None:
    v = np.random.default_rng(0).normal(0, 1, 100_000)
    b = binned(v)
    assert len(b.edges) == 9 and len(b.fractions) == 10
    np.testing.assert_allclose(b.fractions, 0.1, atol=1e-3)
    assert b.edges[4] == pytest.approx(0.0, abs=0.02)


def test_ties_merge_bins_and_nonfinite_values_are_ignored() -> None:
    v = np.r_[np.zeros(600), np.arange(1, 401, dtype=np.float64), [np.nan, np.inf]]
    b = binned(v)
    assert b.edges[0] == 0.0 and len(set(b.edges)) == len(b.edges)
    assert b.fractions[0] == pytest.approx(0.6)  # every zero in the first bin
    assert sum(b.fractions) == pytest.approx(1.0)
    assert binned(np.array([np.nan])).fractions == [1.0]


def test_reference_in_the_manifest_round_trips_and_is_optional() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (5000, len(NUMERIC_COLUMNS)))
    x[:, 0] = np.arange(5000)
    manifest, _ = pca_model(x)
    assert manifest.drift_reference is None  # an artifact without one still loads
    ref = drift_reference(x, NUMERIC_COLUMNS, rng.gamma(2, 1, 5000))
    assert "Time" not in ref.features and len(ref.features) == len(NUMERIC_COLUMNS) - 1
    with_ref = manifest.model_copy(update={"drift_reference": ref})
    again = ModelManifest.model_validate_json(with_ref.model_dump_json())
    assert again.drift_reference == ref
    assert again.version == manifest.version


def test_bad_bins_are_refused() -> None:
    with pytest.raises(ValidationError, match="fractions"):
        BinnedDistribution(edges=[0.0], fractions=[1.0])
    with pytest.raises(ValidationError, match="ascending"):
        BinnedDistribution(edges=[1.0, 1.0], fractions=[0.3, 0.3, 0.4])
    with pytest.raises(ValidationError, match="sum to 1"):
        BinnedDistribution(edges=[1.0], fractions=[0.3, 0.3])
