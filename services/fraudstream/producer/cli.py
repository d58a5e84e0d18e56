"""`fraudstream produce` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def produce() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream produce' is not built yet")
