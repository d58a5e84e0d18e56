"""`fraudstream registry`: serve the embedded Schema Registry, or query any registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import typer

from fraudstream.config import get_settings, load_settings
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option, rows_table
from fraudstream.registry.settings import RegistrySettings

__all__ = ["app", "get", "register", "serve", "subjects"]

if TYPE_CHECKING:
    from fraudstream.serde.registry_client import RegistryClient

app = typer.Typer(
    help="Confluent-compatible Schema Registry (embedded server, storage in Kafka).",
    no_args_is_help=True,
)


def _default_port() -> int:
    port = urlparse(get_settings().registry_url).port
    return port if port is not None else 8081


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Bind address (default FRAUDSTREAM_BIND_HOST)."),
    port: int | None = typer.Option(
        None, help="HTTP port (default: the port of FRAUDSTREAM_REGISTRY_URL)."
    ),
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap (default FRAUDSTREAM_KAFKA_BOOTSTRAP)."
    ),
    topic: str | None = typer.Option(
        None, help="Storage topic (default FRAUDSTREAM_REGISTRY_TOPIC)."
    ),
) -> None:
    """Read the schemas topic to its end, then serve the REST API until interrupted."""
    from fraudstream.registry.server import RegistryServer

    s = get_settings()
    rs = load_settings(RegistrySettings)
    setup_logging(s.log_level)
    server = RegistryServer(
        bootstrap or s.kafka_bootstrap,
        host=host or s.bind_host,
        port=port if port is not None else _default_port(),
        topic=topic or rs.topic,
        write_timeout=rs.write_timeout_s,
    )
    server.serve_forever(timeout=rs.startup_timeout_s)


def _client(url: str | None) -> RegistryClient:
    from fraudstream.serde.registry_client import RegistryClient

    return RegistryClient(url or get_settings().registry_url)


Url = typer.Option(None, "--url", help="Registry URL (default FRAUDSTREAM_REGISTRY_URL).")


@app.command("subjects")
def subjects(url: str | None = Url, output: OutputFormat = output_option()) -> None:
    """List subjects with their versions and latest id."""
    rows = []
    with _client(url) as client:
        for subject in client.subjects():
            latest = client.latest(subject)
            versions = client.versions(subject)
            rows.append(
                {
                    "subject": subject,
                    "versions": list(versions),
                    "latest_id": latest[0] if latest else None,
                }
            )
    emit(rows, output, table=lambda: rows_table(rows, title="subjects") if rows else "no subjects")


@app.command("get")
def get(
    schema_id: int = typer.Argument(..., help="Global schema id."),
    url: str | None = Url,
    output: OutputFormat = output_option(OutputFormat.json),
) -> None:
    """Print the schema with this id (-o json by default: the schema itself)."""
    with _client(url) as client:
        text = client.schema_text(schema_id)
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    if output is OutputFormat.json:
        emit(parsed, output)  # what `curl .../schemas/ids/N` users expect: the schema itself
    else:
        emit({"id": schema_id, "schema": parsed}, output)


def project_schemas() -> list[tuple[str, dict[str, Any]]]:
    """(subject, schema) of every schema the project's services write themselves (the
    scorer's scores, alerts and shadow scores): what a read-only registry must hold before
    they start."""
    from fraudstream.serde.registry_client import value_subject
    from fraudstream.serde.schemas import load_schema

    s = get_settings()
    return [
        (value_subject(s.topic_scores), load_schema("score")),
        (value_subject(s.topic_alerts), load_schema("alert")),
        (value_subject(s.topic_scores_shadow), load_schema("score")),
    ]


@app.command("register")
def register(
    subject: str | None = typer.Argument(
        None, help="Subject, e.g. <topic>-value (default: every schema the services write)."
    ),
    schema_file: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help=".avsc file (with SUBJECT)."
    ),
    url: str | None = Url,
    output: OutputFormat = output_option(),
) -> None:
    """Register an .avsc file under a subject, or (no arguments) every schema the services
    write: the one-shot deploy step before they run against a read-only registry."""
    if subject is not None and schema_file is None:
        raise typer.BadParameter("give the .avsc file too", param_hint="SCHEMA_FILE")
    if subject is not None and schema_file is not None:
        try:
            todo: list[tuple[str, Any]] = [(subject, json.loads(schema_file.read_text()))]
        except ValueError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="SCHEMA_FILE") from None
    else:
        todo = list(project_schemas())
    rows = []
    with _client(url) as client:
        for name, schema in todo:
            rows.append({"subject": name, "id": client.register(name, schema)})
    table = "\n".join(f"{r['subject']}: id {r['id']}" for r in rows)
    emit(rows[0] if subject is not None else rows, output, table=table)
