"""`fraudstream report` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def report() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream report' is not built yet")
