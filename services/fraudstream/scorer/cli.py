"""`fraudstream score` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def score() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream score' is not built yet")
