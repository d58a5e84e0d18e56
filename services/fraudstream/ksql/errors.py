"""KSQL engine errors, mirroring ksqlDB's exception kinds so callers (and the conformance
runner) can tell a syntax error from a rejected statement from a bad record.

    KsqlError (fraudstream.errors)
    ├── KsqlParseError        ParseFailedException: syntax error, message has line:column
    ├── KsqlStatementError    KsqlStatementException: statement rejected (unknown source,
    │   │                     type mismatch, ...)
    │   └── KsqlUnsupportedError  valid ksqlDB, outside this engine's subset (names the construct)
    └── KsqlProcessingError   a record could not be processed (only raised internally;
                              persistent queries report these through the processing log)

Each carries `statement_text`, the statement it belongs to ("" until known): the engine fills
it in with `bind_statement` when the error leaves a statement, the server puts it in the
ksqlDB error body's `statementText`.
"""

from __future__ import annotations

from fraudstream.errors import KsqlError

__all__ = [
    "KsqlParseError",
    "KsqlProcessingError",
    "KsqlStatementError",
    "KsqlUnsupportedError",
    "bind_statement",
    "statement_text_of",
]


class KsqlParseError(KsqlError):
    """The statement text does not parse (ksqlDB's ParseFailedException)."""

    def __init__(self, message: str, statement_text: str = "") -> None:
        super().__init__(message)
        self.statement_text = statement_text


class KsqlStatementError(KsqlError):
    """A statement parsed but cannot be executed (ksqlDB's KsqlStatementException)."""

    def __init__(self, message: str, statement_text: str = "") -> None:
        super().__init__(message)
        self.statement_text = statement_text


class KsqlUnsupportedError(KsqlStatementError):
    """Valid ksqlDB that this engine does not implement; the message names the construct."""


class KsqlProcessingError(KsqlError):
    """One record could not be processed (deserialization, evaluation, serialization)."""

    def __init__(
        self, message: str, kind: str = "RECORD_PROCESSING_ERROR", statement_text: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.statement_text = statement_text


_WITH_TEXT = (KsqlParseError, KsqlStatementError, KsqlProcessingError)


def bind_statement(exc: KsqlError, text: str, *, replace: bool = False) -> None:
    """Name the statement an error belongs to (unless it already names one and not `replace`)."""
    if isinstance(exc, _WITH_TEXT) and (replace or not exc.statement_text):
        exc.statement_text = text


def statement_text_of(exc: KsqlError) -> str:
    """The statement an error names ("" when it names none)."""
    return exc.statement_text if isinstance(exc, _WITH_TEXT) else ""
