"""One way for every command to print data: `-o/--output table|json|yaml`, as in kubectl.

A command builds its result as plain data (dicts, lists, pydantic models, dataclasses) and
calls `emit(data, output, table=...)`. `json` and `yaml` print the data itself to stdout (for
scripts: stable keys, nothing else on stdout); `table` prints what `table` renders for people
(a rich Table, or lines of text). Progress and errors go to stderr, never to stdout.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table


class OutputFormat(enum.StrEnum):
    """What `-o/--output` accepts."""

    table = "table"
    json = "json"
    yaml = "yaml"


def output_option(default: OutputFormat = OutputFormat.table) -> Any:
    """The `-o/--output` option; every data-printing command declares it with this."""
    return typer.Option(
        default,
        "-o",
        "--output",
        case_sensitive=False,
        help="Output format: table (for people), json or yaml (for scripts).",
    )


def plain(value: Any) -> Any:
    """`value` as JSON-compatible data: models, dataclasses, paths, enums, times, NaN->None."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return plain(value.item())
    return str(value)


def render(data: Any, fmt: OutputFormat) -> str:
    """The text `emit` prints for json or yaml."""
    if fmt is OutputFormat.json:
        return json.dumps(plain(data), indent=2, ensure_ascii=False)
    if fmt is OutputFormat.yaml:
        return yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True).rstrip("\n")
    raise ValueError(f"render() is for json and yaml, not {fmt.value}")


TableView = Table | str | Callable[[], Table | str] | None


def emit(data: Any, fmt: OutputFormat, table: TableView = None) -> None:
    """Print `data` to stdout in `fmt`. For `table`, print `table` (a rich Table, a string,
    or a function returning one); without it, a two-column key/value table of `data`."""
    if fmt is not OutputFormat.table:
        typer.echo(render(data, fmt))
        return
    view = table() if callable(table) else table
    if view is None:
        view = key_value_table(plain(data))
    console = Console(soft_wrap=True)
    if isinstance(view, str):
        console.print(view, markup=False, highlight=False)
    else:
        console.print(view)


def key_value_table(data: Any, title: str | None = None) -> Table | str:
    """A two-column table of a mapping; a list of mappings becomes `rows_table`."""
    if isinstance(data, Mapping):
        table = Table(title=title, show_header=False, box=None)
        table.add_column("key", style="bold")
        table.add_column("value")
        for key, value in data.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            table.add_row(str(key), text)
        return table
    if isinstance(data, Sequence) and not isinstance(data, str):
        rows = [r for r in data if isinstance(r, Mapping)]
        if rows and len(rows) == len(data):
            return rows_table(rows, title=title)
    return str(data)


def rows_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> Table:
    """A table with one row per mapping (columns: the given ones, else the first row's keys)."""
    cols = list(columns) if columns is not None else list(rows[0].keys()) if rows else []
    table = Table(title=title)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(plain(row.get(c))) for c in cols))
    return table


def is_transport_error(exc: BaseException) -> bool:
    """A connection-level failure (refused, timed out, DNS) from any HTTP client: httpx, the
    httpx fork confluent-kafka's registry client uses, or the socket layer itself."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(
        cls.__name__ in ("TransportError", "RequestError", "ConnectionError")
        and cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests")
        for cls in type(exc).__mro__
    )


__all__ = [
    "OutputFormat",
    "emit",
    "is_transport_error",
    "key_value_table",
    "output_option",
    "plain",
    "render",
    "rows_table",
]
