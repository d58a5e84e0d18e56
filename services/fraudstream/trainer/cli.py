"""`fraudstream train` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def train() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream train' is not built yet")
