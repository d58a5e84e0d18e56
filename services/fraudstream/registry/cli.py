"""`fraudstream registry`: serve the embedded Schema Registry, or query any registry."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import typer

from fraudstream.config import get_settings, load_settings
from fraudstream.errors import RegistryError
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, is_transport_error, output_option, rows_table
from fraudstream.registry.settings import RegistrySettings
from fraudstream.serde.errors import RegistryUnavailableError

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


def _client(url: str | None):  # type: ignore[no-untyped-def]
    from fraudstream.registry.client import registry_client

    return registry_client(url or get_settings().registry_url)


@contextlib.contextmanager
def _talking_to(url: str | None) -> Iterator[None]:
    """Client failures as one-line project errors: unreachable (exit 3) or the REST error."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    where = url or get_settings().registry_url
    try:
        yield
    except SchemaRegistryError as exc:
        if exc.http_status_code == -1 or exc.http_status_code >= 500:
            raise RegistryUnavailableError(
                f"Schema Registry at {where} failed: {exc.error_message}"
            ) from None
        raise RegistryError(
            f"Schema Registry at {where}: {exc.error_message} (error {exc.error_code})"
        ) from None
    except Exception as exc:
        if not is_transport_error(exc):
            raise
        raise RegistryUnavailableError(
            f"Schema Registry at {where} is not reachable ({type(exc).__name__}: {exc}); "
            "start it (`fraudstream up`) or set FRAUDSTREAM_REGISTRY_URL"
        ) from None


Url = typer.Option(None, "--url", help="Registry URL (default FRAUDSTREAM_REGISTRY_URL).")


@app.command("subjects")
def subjects(url: str | None = Url, output: OutputFormat = output_option()) -> None:
    """List subjects with their versions and latest id."""
    rows = []
    with _talking_to(url):
        client = _client(url)
        for subject in client.get_subjects():
            latest = client.get_latest_version(subject)
            rows.append(
                {
                    "subject": subject,
                    "versions": list(client.get_versions(subject)),
                    "latest_version": latest.version,
                    "latest_id": latest.schema_id,
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
    with _talking_to(url):
        schema = _client(url).get_schema(schema_id)
    text = schema.schema_str or ""
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    data = {"id": schema_id, "schema_type": schema.schema_type or "AVRO", "schema": parsed}
    if output is OutputFormat.json:
        emit(parsed, output)  # what `curl .../schemas/ids/N` users expect: the schema itself
    else:
        emit(data, output)


@app.command("register")
def register(
    subject: str = typer.Argument(..., help="Subject, e.g. <topic>-value."),
    schema_file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".avsc file."),
    url: str | None = Url,
    output: OutputFormat = output_option(),
) -> None:
    """Register an .avsc file under a subject and print its id."""
    from fraudstream.registry.client import register_schema

    try:
        schema = json.loads(schema_file.read_text())
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="SCHEMA_FILE") from None
    with _talking_to(url):
        schema_id = register_schema(_client(url), subject, schema)
    emit({"subject": subject, "id": schema_id}, output, table=f"{subject}: id {schema_id}")
