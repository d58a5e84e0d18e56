"""Scorer errors (all subclass `fraudstream.errors.ScorerError`).

`RecordError` carries a stable `reason` (the dead-letter reason label) so one bad record
becomes one dead letter with a reason instead of an exception that stops the loop.
"""

from __future__ import annotations

from typing import Literal

from fraudstream.errors import ScorerError

DeadLetterReason = Literal[
    "decode_error",
    "invalid_value",
    "missing_field",
    "wrong_type",
    "schema_not_found",
    "unexpected_schema",
    "other",
]
DLQ_REASONS: tuple[DeadLetterReason, ...] = (
    "decode_error",
    "invalid_value",
    "missing_field",
    "wrong_type",
    "schema_not_found",
    "unexpected_schema",
    "other",
)


class RecordError(ScorerError):
    """One input record cannot be scored; `reason` is its dead-letter reason."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason: DeadLetterReason = reason


class DeliveryError(ScorerError):
    """Outputs of a batch were not acknowledged by the broker (the batch is reprocessed)."""


class ModelRejectedError(ScorerError):
    """A model artifact loaded but failed the scorer's validation (features, canned batch)."""
