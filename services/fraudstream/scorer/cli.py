"""`fraudstream score`: run one scorer replica until SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from fraudstream.config import get_settings, load_settings
from fraudstream.logs import setup_logging
from fraudstream.scorer.settings import ScorerSettings

# Small per-batch matrices: one BLAS thread is fastest (effective only if numpy is not yet
# imported; the service also caps it through threadpoolctl when that is installed).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def score(
    input_format: str = typer.Option(
        None, "--input-format", help="avro (KSQL live stream, default) or json (raw source)."
    ),
    topic: str = typer.Option(None, "--topic", help="Input topic (default by input format)."),
    group: str = typer.Option(None, "--group", help="Consumer group shared by replicas."),
    exactly_once: bool = typer.Option(
        None, "--exactly-once/--at-least-once", help="Transactional outputs + offsets."
    ),
    batch_size: int = typer.Option(None, "--batch-size", help="Max events per micro-batch."),
    max_wait_ms: int = typer.Option(None, "--max-wait-ms", help="Max wait to fill a batch."),
    metrics_port: int = typer.Option(
        None, "--metrics-port", help="Port for /metrics, /healthz, /readyz (0 = off)."
    ),
    model_dir: Path = typer.Option(None, "--model-dir", help="Model store (versions + LATEST)."),
) -> None:
    """Score live events with the latest model; scores, alerts and dead letters to Kafka."""
    # Imported here so `fraudstream --help` stays fast.
    from fraudstream.scorer.service import Scorer

    shared = get_settings()
    setup_logging(shared.log_level)
    given: dict[str, Any] = {
        "input_format": input_format,
        "topic": topic,
        "group": group,
        "exactly_once": exactly_once,
        "batch_size": batch_size,
        "max_wait_ms": max_wait_ms,
        "metrics_port": metrics_port,
        "model_dir": model_dir,
    }
    if input_format is not None and input_format not in ("avro", "json"):
        raise typer.BadParameter("must be avro or json", param_hint="--input-format")
    settings = load_settings(ScorerSettings, **{k: v for k, v in given.items() if v is not None})
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    Scorer(settings.resolved(shared)).run(stop)
