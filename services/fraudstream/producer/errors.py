"""Errors of the event source; all subclass `fraudstream.errors.ProducerError`."""

from __future__ import annotations

from fraudstream.errors import ProducerError


class CsvFormatError(ProducerError):
    """The CSV cannot be used at all: missing file, unreadable, or a wrong header."""


class BadRowError(ProducerError):
    """A data row is invalid and `strict` mode stops at it (message names the line)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class SourceError(ProducerError):
    """An event source was used in a way it cannot support (e.g. looping a one-shot iterator)."""
