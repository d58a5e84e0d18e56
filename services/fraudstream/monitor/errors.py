"""Monitor errors (all subclass `fraudstream.errors.MonitorError`)."""

from __future__ import annotations

from fraudstream.errors import MonitorError

__all__ = ["BadLabelError", "MonitorError"]


class BadLabelError(MonitorError):
    """A labels-topic record is not {"Id": int, "Class": 0|1, ...} (skipped and counted)."""
