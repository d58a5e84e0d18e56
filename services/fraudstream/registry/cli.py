"""`fraudstream registry` (placeholder until its issue lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="registry (not built yet).", no_args_is_help=True)
