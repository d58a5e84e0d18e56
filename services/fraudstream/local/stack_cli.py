"""`fraudstream up|down|status`: the whole pipeline on one machine, and its lifecycle."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fraudstream.config import get_settings, load_settings
from fraudstream.local.liveview import LiveView
from fraudstream.local.pipeline import Pipeline, StackConfig
from fraudstream.local.stack import ComponentStatus, Supervisor
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option

console = Console(stderr=True)

DataDir = typer.Option(
    None, "--data-dir", help="State dir: logs, pids, broker data (default FRAUDSTREAM_DATA_DIR)."
)


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir or get_settings().data_dir


def _sigterm_as_interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def up(
    data_dir: Path | None = DataDir,
    rate: float | None = typer.Option(None, help="Live replay rate, events/s (default 500)."),
    events: int | None = typer.Option(None, help="Live events to replay (default 0 = forever)."),
    no_view: bool = typer.Option(False, "--no-view", help="Log a status line, no live view."),
    duration: float | None = typer.Option(
        None, help="Stop everything after this many seconds (non-interactive runs, CI)."
    ),
    detach: bool = typer.Option(
        False, "--detach", help="Start everything and return; `fraudstream down` stops it."
    ),
    free_ports: bool = typer.Option(
        False, "--free-ports", help="Pick free ports instead of the defaults."
    ),
    kafka_port: int | None = typer.Option(None, help="Broker port (default 9092)."),
    registry_port: int | None = typer.Option(None, help="Schema Registry port (default 8081)."),
    ksql_port: int | None = typer.Option(None, help="KSQL engine port (default 8088)."),
    metrics_port: int | None = typer.Option(None, help="Scorer /metrics port (default 8000)."),
    prometheus_port: int | None = typer.Option(
        None, help="The stack's Prometheus port (default 9190; a system one keeps 9090)."
    ),
    training_csv: Path | None = typer.Option(
        None, help="Training CSV (default: ../shared/data/creditcard sample, else synthetic)."
    ),
    model_dir: Path | None = typer.Option(
        None, help="Model store (default FRAUDSTREAM_MODEL_DIR)."
    ),
    partitions: int | None = typer.Option(None, help="Partitions of the stack's topics."),
    prometheus: bool = typer.Option(True, help="Start Prometheus when it is installed."),
    secure: bool = typer.Option(
        False,
        "--secure",
        help="Broker SASL_SSL (SCRAM), registry and KSQL over HTTPS with basic auth, a private "
        "CA under the data dir; every component configured for them.",
    ),
) -> None:
    """Start broker, registry, KSQL, train the first model, score live events, watch them."""
    settings = get_settings()
    setup_logging(settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per health probe
    given: dict[str, Any] = {
        "data_dir": _data_dir(data_dir),
        "rate": rate,
        "events": events,
        "free_ports": free_ports or None,
        "kafka_port": kafka_port,
        "controller_port": kafka_port + 1 if kafka_port else None,
        "registry_port": registry_port,
        "ksql_port": ksql_port,
        "metrics_port": metrics_port,
        "prometheus_port": prometheus_port,
        "training_csv": training_csv,
        "model_dir": model_dir,
        "partitions": partitions,
        "prometheus": prometheus,
        "secure": secure or None,
    }
    cfg = load_settings(StackConfig, **{k: v for k, v in given.items() if v is not None})
    pipe = Pipeline(cfg, settings, progress=lambda msg: console.log(msg))
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    t0 = time.monotonic()
    try:
        pipe.up(foreground=not detach)
    except KeyboardInterrupt:
        console.print("interrupted while starting; everything started was stopped")
        raise typer.Exit(130) from None
    console.log(f"stack up in {time.monotonic() - t0:.0f}s: {pipe.endpoints()}")
    if detach:
        console.print(f"detached; `fraudstream down --data-dir {cfg.data_dir}` stops it")
        return
    stop = threading.Event()
    dog = pipe.watchdog(lambda msg: console.log(msg))
    dog.start()
    view = LiveView(
        pipe.ep.bootstrap,
        pipe.ep.registry_url,
        pipe.ep.metrics_url,
        settings.topic_scores,
        settings.topic_source,
        start_offsets=pipe.scores_start,
        in_training=pipe.in_training,
        monitor_url=pipe.ep.monitor_url if pipe.monitor_running else None,
    )
    try:
        interactive = not no_view and console.is_terminal
        view.run(duration, stop, interactive=interactive, console=console)
    except KeyboardInterrupt:
        console.print("stopping (Ctrl-C or `fraudstream down`)")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        dog.stop()  # before stopping: it must not restart what `down` stops
        for name, ran in pipe.down():
            console.log(f"{name}: {'stopped' if ran else 'was not running'}")


def down(
    data_dir: Path | None = DataDir,
    timeout: float = typer.Option(120.0, help="Seconds to wait for a foreground `up` to stop."),
) -> None:
    """Stop every component of the stack in reverse order (also a foreground `up`)."""
    setup_logging(get_settings().log_level)
    sup = Supervisor(_data_dir(data_dir))
    ref = sup.supervisor_process()
    asked = False
    if ref is not None and ref.pid != os.getpid() and ref.alive():
        asked = True
        console.print(f"asking the running `fraudstream up` (pid {ref.pid}) to stop")
        os.kill(ref.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while ref.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        sup = Supervisor(sup.data_dir)  # what it left, if anything
    if not sup.state.components:
        done = "the running `fraudstream up` stopped the stack" if asked else "nothing runs"
        console.print(f"{done} in {sup.data_dir}")
        sup.state_file.unlink(missing_ok=True)
        return
    for name, ran in sup.stop_all(lambda m: console.print(m)):
        console.print(f"{name}: {'stopped' if ran else 'was not running'}")


def status(
    data_dir: Path | None = DataDir,
    output: OutputFormat = output_option(),
) -> None:
    """List the stack's components: pid, running, ready, URL, uptime, log (exit 1 if none run)."""
    sup = Supervisor(_data_dir(data_dir))
    rows = sup.status()
    running = [r for r in rows if r.running]
    data: dict[str, Any] = {
        "data_dir": str(sup.data_dir),
        "endpoints": sup.state.endpoints,
        "components": [r.model_dump() for r in rows],
    }
    if sup.state.client_env:  # --secure: what clients need (file paths, never a secret)
        data["client_env"] = sup.state.client_env
    if not rows and output is OutputFormat.table:
        console.print(f"nothing runs in {sup.data_dir}")
        raise typer.Exit(1)
    emit(data, output, table=lambda: _status_table(sup, rows))
    if output is OutputFormat.table and sup.state.endpoints:
        ep = sup.state.endpoints
        console.print(
            "env for other commands (e.g. `fraudstream train` to retrain while up): "
            + " ".join(
                f"FRAUDSTREAM_{k}={ep.get(v, '')}"
                for k, v in (
                    ("KAFKA_BOOTSTRAP", "kafka"),
                    ("REGISTRY_URL", "registry"),
                    ("KSQL_URL", "ksql"),
                    ("MODEL_DIR", "model_dir"),
                )
            )
            + "".join(f" {k}={v}" for k, v in sup.state.client_env.items()),
            soft_wrap=True,
        )
    if not running:
        raise typer.Exit(1)


def _status_table(sup: Supervisor, rows: list[ComponentStatus]) -> Table:
    table = Table(title=f"fraudstream stack in {sup.data_dir}")
    for col in ("component", "pid", "state", "ready", "url", "uptime", "log"):
        table.add_column(col)
    for r in rows:
        ready = "-" if r.ready is None else ("yes" if r.ready else "NO")
        table.add_row(
            r.name,
            str(r.pid),
            "running" if r.running else "stopped",
            ready,
            r.url or "",
            f"{r.uptime_s:.0f}s" if r.running else "",
            r.log_file,
        )
    return table
