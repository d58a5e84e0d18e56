"""Registry errors; the REST ones carry Confluent's HTTP status and `error_code`.

Clients such as confluent-kafka's `SchemaRegistryClient` branch on `error_code`, so every
server-side failure maps to one of Confluent's codes rather than a generic 500.
"""

from __future__ import annotations

from fraudstream.errors import RegistryError


class RegistryStoreError(RegistryError):
    """The `_schemas` topic could not be read or written (maps to 50001/50002)."""


class RestError(RegistryError):
    """A request the registry refuses, with Confluent's HTTP status and error code."""

    status: int = 500
    error_code: int = 50001

    def __init__(self, message: str, *, status: int | None = None, error_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error_code is not None:
            self.error_code = error_code

    def body(self) -> dict[str, object]:
        return {"error_code": self.error_code, "message": self.message}


class SubjectNotFound(RestError):
    status, error_code = 404, 40401

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFound(RestError):
    status, error_code = 404, 40402

    def __init__(self, subject: str, version: object) -> None:
        super().__init__(f"Version {version} not found for subject '{subject}'.")


class SchemaNotFound(RestError):
    status, error_code = 404, 40403

    def __init__(self, detail: str = "Schema not found") -> None:
        super().__init__(detail)


class SubjectSoftDeleted(RestError):
    status, error_code = 404, 40404

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
        )


class SubjectNotSoftDeleted(RestError):
    status, error_code = 404, 40405

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was not deleted first before being permanently deleted"
        )


class VersionSoftDeleted(RestError):
    status, error_code = 404, 40406

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted.Set permanent=true to "
            "delete permanently"
        )


class VersionNotSoftDeleted(RestError):
    status, error_code = 404, 40407

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted first before being "
            "permanently deleted"
        )


class SubjectConfigNotFound(RestError):
    status, error_code = 404, 40408

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


class IncompatibleSchema(RestError):
    status, error_code = 409, 409


class InvalidSchema(RestError):
    status, error_code = 422, 42201


class InvalidVersion(RestError):
    status, error_code = 422, 42202

    def __init__(self, version: object) -> None:
        super().__init__(
            f"The specified version '{version}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibilityLevel(RestError):
    status, error_code = 422, 42203

    def __init__(self, level: object) -> None:
        super().__init__(
            f"Invalid compatibility level. Valid values are none, backward, forward, full, "
            f"backward_transitive, forward_transitive, and full_transitive (got {level!r})"
        )


class MalformedRequest(RestError):
    """Body is not JSON or not the expected shape (Jersey answers these with 400/422)."""

    status, error_code = 400, 400


class UnprocessableEntity(RestError):
    status, error_code = 422, 422


class StoreUnavailable(RestError):
    status, error_code = 500, 50001


class StoreTimeout(RestError):
    status, error_code = 500, 50002


class NotFound(RestError):
    status, error_code = 404, 404


class InvalidMode(RestError):
    status, error_code = 422, 42204

    def __init__(self, mode: object) -> None:
        super().__init__(
            f"Invalid mode. Valid values are READWRITE, READONLY and READONLY_OVERRIDE "
            f"(got {mode!r}; IMPORT is not supported by the embedded registry)"
        )


class OperationNotPermitted(RestError):
    """A write while the subject (or the registry) is in a read-only mode (PUT /mode)."""

    status, error_code = 422, 42205

    def __init__(self, subject: str | None) -> None:
        what = f"Subject {subject}" if subject else "The schema registry"
        super().__init__(f"{what} is in read-only mode")
