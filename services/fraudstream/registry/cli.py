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


@app.command("register")
def register(
    subject: str = typer.Argument(..., help="Subject, e.g. <topic>-value."),
    schema_file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".avsc file."),
    url: str | None = Url,
    output: OutputFormat = output_option(),
) -> None:
    """Register an .avsc file under a subject and print its id."""
    try:
        schema = json.loads(schema_file.read_text())
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="SCHEMA_FILE") from None
    with _client(url) as client:
        schema_id = client.register(subject, schema)
    emit({"subject": subject, "id": schema_id}, output, table=f"{subject}: id {schema_id}")
