"""Errors of the local stack supervisor (all are `LocalStackError`s)."""

from __future__ import annotations

from fraudstream.errors import LocalStackError


class ComponentStartError(LocalStackError):
    """A component exited or did not become ready in time; the message holds its log tail."""


class JobFailedError(LocalStackError):
    """A one-shot step (apply, produce, train) exited non-zero or ran past its time limit."""


class StackStateError(LocalStackError):
    """The stack's state file is unreadable, or a stack already runs in this data dir."""
