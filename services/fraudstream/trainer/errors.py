"""Trainer errors: all subclass `fraudstream.errors.TrainerError`."""

from __future__ import annotations

from fraudstream.errors import TrainerError


class InputSchemaError(TrainerError):
    """The input (CSV header or Avro writer schema) lacks fields the model needs."""


class NotEnoughDataError(TrainerError):
    """Too few usable rows (e.g. normal rows for training) to fit a model."""


class ThresholdError(TrainerError):
    """The requested threshold strategy cannot be applied to this data."""


__all__ = ["InputSchemaError", "NotEnoughDataError", "ThresholdError", "TrainerError"]
