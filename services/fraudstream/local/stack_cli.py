"""`fraudstream up|down|status` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def up() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream up' is not built yet")


def down() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream down' is not built yet")


def status() -> None:
    """Not built yet."""
    raise typer.BadParameter("'fraudstream status' is not built yet")
