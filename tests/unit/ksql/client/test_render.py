"""Rows streamed in a table that fits the terminal; values and errors as ksqlDB shows them."""

from __future__ import annotations

import io

from rich.console import Console

from fraudstream.ksql.client.client import KsqlConnectionError, KsqlServerError
from fraudstream.ksql.client.render import RowTable, cell, error_text, print_entities


def test_row_table_fits_the_width_and_wraps_long_values() -> None:
    out = io.StringIO()
    table = RowTable(["ID", "NAME", "DATA"], 40, out)
    table.header()
    assert out.getvalue().splitlines()[1].startswith("|ID ")
    table.row([1, "x" * 30, {"a": [1, None]}])
    table.row([None])  # short rows are padded with nulls
    table.footer()
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 40 for line in lines)
    assert len({len(line) for line in lines}) == 1  # a box: every line the same width
    assert lines[0] == lines[2] == lines[-1] and set(lines[0]) == {"+", "-"}
    row_lines = [line for line in lines[3:-1]]
    assert len(row_lines) == 4  # 30 x's wrap over 3 lines of 12, then the null row
    assert "".join(line.split("|")[2].strip() for line in row_lines[:3]) == "x" * 30
    assert '{"a": [1, null]}' in "".join(line.split("|")[3].strip() for line in row_lines[:3])
    assert row_lines[3].split("|")[1:4] == ["null".ljust(12)] * 3


def test_narrow_terminal_still_gives_every_column_a_cell() -> None:
    out = io.StringIO()
    RowTable([f"C{i}" for i in range(30)], 20, out).header()
    assert out.getvalue().splitlines()[1].count("|") == 31


def test_cells_and_errors() -> None:
    assert [cell(v) for v in (None, True, 1.5, "s", [1])] == ["null", "true", "1.5", "s", "[1]"]
    assert error_text(KsqlServerError("Could not find STREAM/TABLE 'X'", error_code=40001)) == (
        "Could not find STREAM/TABLE 'X'"
    )
    assert error_text(KsqlConnectionError("refused")).startswith(
        "Error issuing request to KSQL server.\nCaused by: refused"
    )


def test_entities_render_as_tables_and_messages() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, highlight=False)
    print_entities(
        console,
        [
            {
                "@type": "streams",
                "streams": [
                    {
                        "name": "S1",
                        "topic": "t1",
                        "keyFormat": "KAFKA",
                        "valueFormat": "JSON",
                        "isWindowed": False,
                    }
                ],
            },
            {
                "@type": "currentStatus",
                "commandStatus": {"status": "SUCCESS", "message": "Created query with ID CSAS_X_1"},
            },
            {
                "@type": "properties",
                "properties": [{"name": "auto.offset.reset", "scope": "KSQL", "value": "latest"}],
            },
        ],
    )
    text = buf.getvalue()
    assert "Stream Name" in text and "S1" in text and "false" in text
    assert "Created query with ID CSAS_X_1" in text
    assert "auto.offset.reset" in text and "latest" in text
