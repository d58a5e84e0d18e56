"""`fraudstream monitor`: run the live model-quality monitor until SIGTERM/SIGINT; and
`fraudstream models compare` (champion vs challenger from the topics, the monitor's metrics)."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any, cast

import typer
from rich.table import Table

from fraudstream.config import get_settings, load_settings
from fraudstream.logs import setup_logging
from fraudstream.monitor.budget import AlertBudget, BudgetSettings
from fraudstream.monitor.settings import MonitorSettings, parse_windows
from fraudstream.output import OutputFormat, emit, output_option, rows_table

__all__ = ["compare", "monitor"]


def monitor(
    windows: str = typer.Option(
        None, "--windows", help="Sliding windows, e.g. 15m,1h,1d (FRAUDSTREAM_MONITOR_WINDOWS)."
    ),
    port: int = typer.Option(
        None, "--port", help="Port for /metrics and /healthz (FRAUDSTREAM_MONITOR_PORT, 8002)."
    ),
    top_k: int = typer.Option(None, "--top-k", help="Alerts investigated per day (100)."),
) -> None:
    """Join scores with the delayed labels; export live precision, recall, AUC per model."""
    from fraudstream.monitor.http import make_app, metrics_server
    from fraudstream.monitor.service import Monitor

    shared = get_settings()
    setup_logging(shared.log_level)
    given: dict[str, Any] = {"windows": windows, "port": port, "top_k": top_k}
    settings = load_settings(MonitorSettings, **{k: v for k, v in given.items() if v is not None})
    service = Monitor(
        settings,
        bootstrap=shared.kafka_bootstrap,
        registry_url=shared.registry_url,
        topic_scores=shared.topic_scores,
        topic_labels=shared.topic_labels,
        budget=_budget(),
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = None
    if settings.port:
        server = metrics_server(make_app(service.metrics.registry), shared.bind_host, settings.port)
        server.start()
    try:
        service.run(stop)
    finally:
        if server is not None:
            server.stop()
        if service.budget is not None:
            service.budget.store.close()


def _budget() -> AlertBudget | None:
    """The alert-rate budget policy on the model store, if FRAUDSTREAM_MONITOR_BUDGET_*
    turns it on (see monitor/budget.py: why it runs here)."""
    from fraudstream.model import open_store
    from fraudstream.model.announcements import announce_change
    from fraudstream.model.lifecycle import LifecycleEvent, ManagedModelStore

    bs = load_settings(BudgetSettings)
    if bs.alerts_per_1000 is None:
        return None
    s = get_settings()
    store = cast(ManagedModelStore, open_store(
        s.model_store, model_dir=s.model_dir, bootstrap=s.kafka_bootstrap,
        topic=s.topic_model_store, chunk_bytes=s.model_chunk_bytes,
        keep_versions=s.model_keep_versions,
    ))  # fmt: skip

    def announce(st: ManagedModelStore, event: LifecycleEvent) -> None:
        announce_change(st, event, s.kafka_bootstrap, s.topic_models)

    return AlertBudget(bs, store, announce=announce, clock=time.time)


def _epoch_ms(value: datetime) -> int:
    """A --from/--to time in epoch ms (a time without a zone is UTC)."""
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)


def _window(since: str | None, start: datetime | None, end: datetime | None) -> tuple[int, int]:
    now_ms = int(time.time() * 1000)
    if since is not None and start is not None:
        raise typer.BadParameter("give --since or --from, not both", param_hint="--since")
    if since is not None:
        try:
            length = next(iter(parse_windows(since).values()))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
        to_ms = _epoch_ms(end) if end is not None else now_ms
        return to_ms - length, to_ms
    if start is None:
        raise typer.BadParameter("give the window: --since 1h, or --from [--to]")
    from_ms, to_ms = _epoch_ms(start), _epoch_ms(end) if end is not None else now_ms
    if to_ms <= from_ms:
        raise typer.BadParameter("--to must be after --from", param_hint="--to")
    return from_ms, to_ms


def compare(
    since: str = typer.Option(None, "--since", help="The last N s|m|h|d, e.g. 1h."),
    start: datetime = typer.Option(None, "--from", help="Window start (ISO time, UTC)."),
    end: datetime = typer.Option(None, "--to", help="Window end (ISO time, UTC; default now)."),
    output: OutputFormat = output_option(),
) -> None:
    """Champion vs challenger over a window: alerts, overlap, labelled quality."""
    from fraudstream.monitor.compare import as_data
    from fraudstream.monitor.compare import compare as run_compare

    from_ms, to_ms = _window(since, start, end)
    shared = get_settings()
    setup_logging(shared.log_level)
    ms = load_settings(MonitorSettings)
    result = run_compare(
        bootstrap=shared.kafka_bootstrap,
        registry_url=shared.registry_url,
        topic_scores=shared.topic_scores,
        topic_shadow=shared.topic_scores_shadow,
        topic_labels=shared.topic_labels,
        from_ms=from_ms,
        to_ms=to_ms,
        label_horizon_ms=next(iter(parse_windows(ms.label_horizon).values())),
        k=ms.top_k,
        prevalence=ms.prevalence,
    )
    data = as_data(result)

    def table() -> Table | str:
        if not result.models:
            return f"no scores between {data['from']} and {data['to']}"
        cols = ["role", "version", "events", "alerts", "alerts_per_1000", "labelled",
                "precision", "recall", "precision_weighted", "roc_auc"]  # fmt: skip
        rows = [{c: _fmt(getattr(m, c)) for c in cols} for m in result.models]
        view = rows_table(rows, cols, title=f"{data['from']} .. {data['to']}")
        o = result.overlap
        lines = [
            "overlap: no event scored by both in the window" if o is None else
            f"overlap on {o.common_events} events scored by both: alerted by both {o.both}, "
            f"champion only {o.champion_only}, challenger only {o.challenger_only}"
        ]  # fmt: skip
        if result.skipped:
            lines.append(f"undecodable records skipped: {result.skipped}")
        view.caption = "\n".join(lines)
        return view

    emit(data, output, table=table)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    return value
