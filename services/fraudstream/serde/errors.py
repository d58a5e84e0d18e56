"""Serde errors, each with a stable `reason` the scorer writes on dead letters.

    SerdeError (fraudstream.errors)
    └── SerdeFailure           reason "other"
        ├── PayloadDecodeError     "decode_error"      empty/short payload, bad magic, corrupt body
        ├── SchemaNotFoundError    "schema_not_found"  id unknown to the registry
        ├── MissingFieldError      "missing_field"
        ├── WrongTypeError         "wrong_type"
        ├── InvalidValueError      "invalid_value"     NaN/inf, out-of-range, bad label
        └── EncodeError            "invalid_value"     record does not fit the schema

A registry that cannot be reached is *not* a SerdeError: it raises
`RegistryUnavailableError` (a `RegistryError`), because retrying later fixes it and the
record must not be dead-lettered.
"""

from __future__ import annotations

from fraudstream.errors import RegistryError, SerdeError


class SerdeFailure(SerdeError):
    """Base with a `reason` (one of the scorer's dead-letter reasons)."""

    reason: str = "other"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadDecodeError(SerdeFailure):
    reason = "decode_error"


class SchemaNotFoundError(SerdeFailure):
    reason = "schema_not_found"


class MissingFieldError(SerdeFailure):
    reason = "missing_field"


class WrongTypeError(SerdeFailure):
    reason = "wrong_type"


class InvalidValueError(SerdeFailure):
    reason = "invalid_value"


class EncodeError(SerdeFailure):
    reason = "invalid_value"


class RegistryUnavailableError(RegistryError):
    """The registry did not answer (transport error or 5xx): retry, do not dead-letter."""
