"""Errors of the model artifact: all subclass `fraudstream.errors.ModelError`.

Callers that only care whether a model could be used catch `ModelError`; the subclasses
let the scorer tell "nothing trained yet" from "artifact corrupted" in its logs.
"""

from __future__ import annotations

from fraudstream.errors import ModelError


class ModelNotFoundError(ModelError):
    """The model directory, its LATEST pointer or a required file does not exist."""


class ModelCorruptError(ModelError):
    """A file of the artifact is unreadable, inconsistent or holds non-finite weights."""


class ModelStoreError(ModelError):
    """The model store (the model topic) could not be read or written."""


class FeatureMismatchError(ModelError):
    """The input does not have the columns the model expects."""


__all__ = [
    "FeatureMismatchError",
    "ModelCorruptError",
    "ModelError",
    "ModelNotFoundError",
    "ModelStoreError",
]
