"""`fraudstream local ...`: manage the embedded local stack's processes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from fraudstream.config import get_settings
from fraudstream.local.kafka import LocalKafka
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option

app = typer.Typer(help="Run the embedded local stack (real Kafka broker).", no_args_is_help=True)
kafka_app = typer.Typer(
    help="A real single-node Kafka 4.x broker (KRaft) on 127.0.0.1.", no_args_is_help=True
)
app.add_typer(kafka_app, name="kafka")
console = Console(stderr=True)


def _broker(data_dir: Path | None, port: int | None) -> LocalKafka:
    s = get_settings()
    setup_logging(s.log_level)
    if port is None:
        port = int(s.kafka_bootstrap.rsplit(":", 1)[1]) if ":" in s.kafka_bootstrap else 9092
    return LocalKafka(data_dir=data_dir or s.data_dir, port=port, host=s.bind_host)


DataDir = typer.Option(None, "--data-dir", help="State directory (default FRAUDSTREAM_DATA_DIR).")
Port = typer.Option(None, "--port", help="Client port (default from FRAUDSTREAM_KAFKA_BOOTSTRAP).")


@kafka_app.command("start")
def kafka_start(
    data_dir: Path | None = DataDir,
    port: int | None = Port,
    timeout: float = typer.Option(60.0, help="Seconds to wait for the broker to answer."),
) -> None:
    """Format storage if needed, start the broker, wait until it answers."""
    broker = _broker(data_dir, port)
    bootstrap = broker.start(timeout=timeout)
    console.print(
        f"Kafka broker running on {bootstrap} (pid {broker.pid()}, log {broker.log_file})"
    )


@kafka_app.command("stop")
def kafka_stop(data_dir: Path | None = DataDir, port: int | None = Port) -> None:
    """Stop the broker cleanly."""
    broker = _broker(data_dir, port)
    console.print("Kafka broker stopped" if broker.stop() else "Kafka broker was not running")


@kafka_app.command("status")
def kafka_status(
    data_dir: Path | None = DataDir,
    port: int | None = Port,
    output: OutputFormat = output_option(),
) -> None:
    """Say whether the broker runs (exit 1 if not)."""
    broker = _broker(data_dir, port)
    pid = broker.pid()
    data = {
        "running": pid is not None,
        "pid": pid,
        "bootstrap": broker.bootstrap,
        "log_file": str(broker.log_file),
    }
    text = (
        f"Kafka broker: running (pid {pid}) on {broker.bootstrap}"
        if pid is not None
        else "Kafka broker: stopped"
    )
    emit(data, output, table=text)
    if pid is None:
        raise typer.Exit(1)
