"""`fraudstream ksql`: serve the embedded engine, apply statement files, query, inspect.

Every command except `serve` talks to a ksqlDB REST endpoint (`--url`, default
`FRAUDSTREAM_KSQL_URL`): the embedded server and the real ksqlDB answer the same way.
"""

from __future__ import annotations

import json
import logging
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
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option, render

app = typer.Typer(
    help="KSQL: the embedded engine server and a client for any ksqlDB REST endpoint.",
    no_args_is_help=True,
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
    return KsqlClient(url or get_settings().ksql_url, timeout=timeout)


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
    for e in entities:
        kind = e.get("@type", "")
        if kind in ("streams", "tables"):
            t = Table("name", "topic", "key format", "value format", "windowed")
            for s in e.get(kind, []):
                t.add_row(
                    s["name"], s["topic"], s["keyFormat"], s["valueFormat"], str(s["isWindowed"])
                )
            out.print(t)
        elif kind == "queries":
            t = Table("id", "state", "sinks", "sink topics")
            for q in e.get("queries", []):
                t.add_row(
                    q["id"],
                    str(q.get("state", "")),
                    ", ".join(q.get("sinks", [])),
                    ", ".join(q.get("sinkKafkaTopics", [])),
                )
            out.print(t)
        elif kind == "kafka_topics":
            t = Table("topic", "partitions")
            for tp in e.get("topics", []):
                t.add_row(tp["name"], str(len(tp.get("replicaInfo", []))))
            out.print(t)
        elif kind == "sourceDescription":
            d = e["sourceDescription"]
            out.print(
                f"[bold]{d['name']}[/] {d['type']}  topic={d['topic']} "
                f"key={d['keyFormat']} value={d['valueFormat']} partitions={d.get('partitions')}"
            )
            t = Table("field", "type", "key")
            for f in d.get("fields", []):
                t.add_row(f["name"], str(f["schema"]["type"]), f.get("type", ""))
            out.print(t)
            for label, qs in (("read by", d["readQueries"]), ("written by", d["writeQueries"])):
                for q in qs:
                    out.print(f"{label}: {q['id']} ({q.get('state', '')})")
            if d.get("statistics"):
                out.print(f"statistics: {d['statistics']}")
        elif "commandStatus" in e:
            status = e["commandStatus"]
            out.print(f"{status.get('status', '')}: {status.get('message', '')}")
        else:
            _print_json(e)


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
    """Stream a push query's rows: a table at the end, or as they come one JSON object per
    line (-o json, like kcat; pipe into jq) or one YAML document per row (-o yaml)."""
    props = {"auto.offset.reset": "earliest" if from_beginning else "latest"}
    columns: list[str] = []
    table: Table | None = None
    rows = 0
    with _client(url, timeout=timeout or 3600.0) as client:
        try:
            for event in client.query(
                sql,
                properties=props,
                variables=applier.parse_vars(var) or None,
                timeout=timeout or None,
            ):
                if isinstance(event, QueryHeader):
                    columns = event.columns
                    if output is OutputFormat.table:
                        table = Table(*columns)
                elif isinstance(event, QueryFinal):
                    if event.is_error:
                        raise KsqlError(event.message)
                    err.print(event.message)
                else:
                    rows += 1
                    row = dict(zip(columns, event, strict=False))
                    if output is OutputFormat.json:
                        sys.stdout.write(json.dumps(row, default=str) + "\n")
                        sys.stdout.flush()
                    elif output is OutputFormat.yaml:
                        sys.stdout.write("---\n" + render(row, output) + "\n")
                        sys.stdout.flush()
                    elif table is not None:
                        table.add_row(*("" if v is None else str(v) for v in event))
        except KeyboardInterrupt:
            pass
        except KsqlError as exc:
            if "timed out" not in str(exc).lower():
                raise
    if table is not None:
        out.print(table)
    err.print(f"{rows} rows")


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
