"""`fraudstream ksql`: a shell, serve the embedded engine, apply statement files, query, inspect.

Every command except `serve` talks to a ksqlDB REST endpoint (`--url`, default
`FRAUDSTREAM_KSQL_URL`; basic auth and TLS from `FRAUDSTREAM_KSQL_*`): the embedded server
and the real ksqlDB answer the same way. `fraudstream ksql` alone opens the shell.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fraudstream.config import get_settings
from fraudstream.errors import KsqlError
from fraudstream.ksql.client import apply as applier
from fraudstream.ksql.client.client import KsqlClient, QueryFinal, QueryHeader
from fraudstream.ksql.client.render import RowTable, print_entities
from fraudstream.ksql.client.settings import ksql_client_settings
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option, render

app = typer.Typer(
    help="KSQL: a shell (no command), the embedded engine server and a client for any ksqlDB "
    "REST endpoint.",
    invoke_without_command=True,
)
out = Console(width=200)
err = Console(stderr=True)

URL_OPT = typer.Option(None, "--url", help="ksqlDB URL (default: FRAUDSTREAM_KSQL_URL).")


class ListWhat(StrEnum):
    streams = "streams"
    tables = "tables"
    queries = "queries"
    topics = "topics"


def _client(url: str | None, timeout: float = 60.0) -> KsqlClient:
    """A client for `--url` (else FRAUDSTREAM_KSQL_URL) with FRAUDSTREAM_KSQL_* auth and TLS."""
    return KsqlClient.from_settings(url=url, timeout=timeout)


def _shell(url: str | None) -> None:
    from fraudstream.ksql.client.shell import KsqlShell, default_history_file

    history = ksql_client_settings().history_file or default_history_file()
    # each request would log a line at INFO between the prompt and its answer
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with _client(url) as client:
        KsqlShell(client, history_file=history).loop()


@app.callback()
def main(ctx: typer.Context, url: str | None = URL_OPT) -> None:
    """Without a command: the interactive shell (like the ksqlDB CLI)."""
    if ctx.invoked_subcommand is None:
        _shell(url)


@app.command()
def shell(url: str | None = URL_OPT) -> None:
    """An interactive prompt like the ksqlDB CLI (also: `fraudstream ksql` alone).

    Statements end with ';'; SET/UNSET properties, DEFINE, RUN SCRIPT; push queries stream
    their rows as they arrive (Ctrl-C ends one). Type 'help' inside."""
    _shell(url)


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _show(entities: list[dict[str, Any]], output: OutputFormat) -> None:
    """The server's entities: readable tables, or (-o json|yaml) the entities themselves."""
    if output is OutputFormat.table:
        _print_entities(entities)
    else:
        emit(entities, output)


def _print_entities(entities: list[dict[str, Any]]) -> None:
    """A readable line or table per entity."""
    print_entities(out, entities)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default FRAUDSTREAM_BIND_HOST)."),
    port: int = typer.Option(8088, help="Port (ksqlDB's default 8088)."),
    bootstrap: str | None = typer.Option(None, help="Kafka (default FRAUDSTREAM_KAFKA_BOOTSTRAP)."),
    registry_url: str | None = typer.Option(
        None, help="Schema Registry (default FRAUDSTREAM_REGISTRY_URL)."
    ),
    service_id: str = typer.Option("default_", help="ksqlDB service id (names topics/groups)."),
) -> None:
    """Run the embedded KSQL engine with ksqlDB's REST API (foreground)."""
    from fraudstream.ksql.server.app import KsqlServer

    s = get_settings()
    setup_logging(s.log_level)
    # The registry client logs every HTTP request at INFO: keep the server's log readable.
    for noisy in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = KsqlServer(
        bootstrap or s.kafka_bootstrap,
        registry_url or s.registry_url,
        host or s.bind_host,
        port,
        service_id=service_id,
    )
    err.print(f"KSQL engine on {server.url} (Kafka {server.service.bootstrap})")
    server.serve_forever()


@app.command("apply")
def apply_cmd(
    path: Path = typer.Argument(..., help="A .sql file or a directory of numbered .sql files."),
    replace: bool = typer.Option(False, "--replace", help="Use CREATE OR REPLACE for existing."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan, change nothing."),
    var: list[str] = typer.Option([], "--var", help="Variable KEY=VALUE (repeatable)."),
    wait: float = typer.Option(
        60.0, "--wait", help="Seconds to wait for the server to answer (0: fail at once)."
    ),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """Apply statement files in order; existing objects are skipped (idempotent)."""
    files = applier.statement_files(path)
    with _client(url) as client:
        applier.wait_for_server(client, wait)
        variables = applier.default_variables(get_settings(), applier.topic_partitions(client))
        variables.update(applier.parse_vars(var))
        steps = applier.plan(files, applier.existing_objects(client), replace=replace)
        plan = [{"file": st.file, "action": st.action, "object": st.target} for st in steps]
        if dry_run:
            if output is not OutputFormat.table:
                emit({"plan": plan, "variables": variables}, output)
                return
            t = Table("file", "action", "object")
            for st in steps:
                t.add_row(st.file, st.action, st.target or "")
            out.print(t)
            out.print("variables: " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items())))
            return
        done: list[dict[str, Any]] = []

        def progress(step: applier.PlannedStatement, result: str) -> None:
            done.append({"file": step.file, "action": step.action, "object": step.target,
                         "result": result})  # fmt: skip
            line = f"{step.file}: {step.action} {step.target or ''} ({result})"
            (out if output is OutputFormat.table else err).print(line)

        counts = applier.apply(client, steps, variables, progress=progress)
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    emit({"statements": done, "counts": counts}, output, table=summary)


@app.command()
def run(
    statement: str = typer.Argument(..., help="One or more KSQL statements."),
    var: list[str] = typer.Option([], "--var", help="Variable KEY=VALUE (repeatable)."),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """Run statements (CREATE, DROP, TERMINATE, LIST, DESCRIBE, ...) and print the result."""
    with _client(url) as client:
        entities = client.ksql(statement, variables=applier.parse_vars(var) or None)
    _show(entities, output)


@app.command()
def query(
    sql: str = typer.Argument(..., help="SELECT ... EMIT CHANGES [LIMIT n]"),
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="auto.offset.reset=earliest (default: latest)."
    ),
    timeout: float = typer.Option(0, help="Stop after this many seconds idle (0: never)."),
    var: list[str] = typer.Option([], "--var", help="Variable KEY=VALUE (repeatable)."),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """Stream a push query's rows as they arrive (Ctrl-C ends it).

    A table whose columns fit the terminal, one JSON object per line (-o json, like kcat;
    pipe into jq) or one YAML document per row (-o yaml)."""
    props = {"auto.offset.reset": "earliest" if from_beginning else "latest"}
    columns: list[str] = []
    table: RowTable | None = None
    rows = 0
    with _client(url) as client:
        events = client.query(
            sql,
            properties=props,
            variables=applier.parse_vars(var) or None,
            timeout=timeout or None,
        )
        try:
            for event in events:
                if isinstance(event, QueryHeader):
                    columns = event.columns
                    if output is OutputFormat.table:
                        table = RowTable(columns, shutil.get_terminal_size().columns, sys.stdout)
                        table.header()
                elif isinstance(event, QueryFinal):
                    if event.is_error:
                        raise KsqlError(event.message)
                    err.print(event.message)
                else:
                    rows += 1
                    _emit_row(dict(zip(columns, event, strict=False)), output, table)
        except KeyboardInterrupt:
            pass
        except KsqlError as exc:
            if "timed out" not in str(exc).lower():
                raise
        finally:
            events.close()
            if table is not None:
                table.footer()
    err.print(f"{rows} rows")


def _emit_row(row: dict[str, Any], output: OutputFormat, table: RowTable | None) -> None:
    """One row, written at once (a pipe or a terminal sees it as soon as it arrives)."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(row, default=str) + "\n")
    elif output is OutputFormat.yaml:
        sys.stdout.write("---\n" + render(row, output) + "\n")
    elif table is not None:
        table.row(list(row.values()))
    sys.stdout.flush()


@app.command("list")
def list_cmd(
    what: ListWhat = typer.Argument(..., help="streams | tables | queries | topics"),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """LIST STREAMS | TABLES | QUERIES | TOPICS."""
    with _client(url) as client:
        entities = client.ksql(f"LIST {what.value.upper()};")
    _show(entities, output)


@app.command()
def describe(
    name: str = typer.Argument(..., help="Stream or table name."),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """DESCRIBE a stream or table (columns, queries, statistics)."""
    with _client(url) as client:
        entities = client.ksql(f"DESCRIBE {name};")
    _show(entities, output)


@app.command()
def terminate(
    query_id: str = typer.Argument(..., help="Persistent query id (see `list queries`)."),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """TERMINATE a persistent query."""
    with _client(url) as client:
        _show(client.ksql(f"TERMINATE {query_id};"), output)


@app.command()
def drop(
    name: str = typer.Argument(..., help="Stream or table name."),
    delete_topic: bool = typer.Option(False, "--delete-topic", help="Also delete its topic."),
    url: str | None = URL_OPT,
    output: OutputFormat = output_option(),
) -> None:
    """DROP a stream or table (its writing query must be terminated first)."""
    with _client(url) as client:
        desc = client.ksql(f"DESCRIBE {name};")[0]["sourceDescription"]
        kind = str(desc.get("type", "STREAM")).upper()
        suffix = " DELETE TOPIC" if delete_topic else ""
        _show(client.ksql(f"DROP {kind} {name}{suffix};"), output)
