"""Serde errors, each with a stable `reason` the scorer writes on dead letters.

    SerdeError (fraudstream.errors)
    └── SerdeFailure           reason "other"
        ├── PayloadDecodeError     "decode_error"      empty/short payload, bad magic, corrupt body
        ├── SchemaNotFoundError    "schema_not_found"  id unknown to the registry
        ├── MissingFieldError      "missing_field"
        ├── WrongTypeError         "wrong_type"
        ├── InvalidValueError      "invalid_value"     NaN/inf, out-of-range, bad label
        ├── UnexpectedSchemaError  "unexpected_schema" writer schema outside the flat shape
        └── EncodeError            "invalid_value"     record does not fit the schema

A registry that cannot be reached is *not* a SerdeError: it raises
`RegistryUnavailableError` (a `RegistryError`), because retrying later fixes it and the
record must not be dead-lettered. A registry that answers but refuses a request (an
incompatible or invalid schema, a missing subject) raises `RegistryRefusedError`.

`REASONS` is the project's one vocabulary of reject reasons: dead letters of the scorer,
skip counts of the trainer and the decoder of KSQL records all use it.
"""

from __future__ import annotations

from typing import Literal

from fraudstream.errors import RegistryError, SerdeError, TransientError

__all__ = [
    "REASONS",
    "EncodeError",
    "InvalidValueError",
    "MissingFieldError",
    "PayloadDecodeError",
    "Reason",
    "RegistryRefusedError",
    "RegistryUnavailableError",
    "SchemaNotFoundError",
    "SerdeFailure",
    "UnexpectedSchemaError",
    "WrongTypeError",
]

Reason = Literal[
    "decode_error",
    "invalid_value",
    "missing_field",
    "wrong_type",
    "schema_not_found",
    "unexpected_schema",
    "other",
]
REASONS: tuple[Reason, ...] = (
    "decode_error",
    "invalid_value",
    "missing_field",
    "wrong_type",
    "schema_not_found",
    "unexpected_schema",
    "other",
)


class SerdeFailure(SerdeError):
    """Base with a `reason` (one of the scorer's dead-letter reasons)."""

    reason: Reason = "other"

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


class UnexpectedSchemaError(SerdeFailure):
    """A writer schema with a field that is not a primitive or a union of primitives (an
    array, map, record...): never decoded, since its records could claim any size."""

    reason = "unexpected_schema"


class EncodeError(SerdeFailure):
    reason = "invalid_value"


class RegistryUnavailableError(RegistryError, TransientError):
    """The registry did not answer (transport error or 5xx): retry, do not dead-letter."""


class RegistryRefusedError(RegistryError):
    """The registry answered with a 4xx (incompatible or invalid schema, no such subject):
    retrying cannot help. `status` and `error_code` are the registry's."""

    def __init__(self, message: str, status: int = 0, error_code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
