"""KSQL engine errors, mirroring ksqlDB's exception kinds so callers (and the conformance
runner) can tell a syntax error from a rejected statement from a bad record.

    KsqlError (fraudstream.errors)
    ├── KsqlParseError        ParseFailedException: syntax error, message has line:column
    ├── KsqlStatementError    KsqlStatementException: statement rejected (unknown source,
    │   │                     type mismatch, ...); carries .statement_text
    │   └── KsqlUnsupportedError  valid ksqlDB, outside this engine's subset (names the construct)
    └── KsqlProcessingError   a record could not be processed (only raised internally;
                              persistent queries report these through the processing log)
"""

from __future__ import annotations

from fraudstream.errors import KsqlError


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

    def __init__(self, message: str, kind: str = "RECORD_PROCESSING_ERROR") -> None:
        super().__init__(message)
        self.kind = kind
