"""`fraudstream models`: list, show, promote, roll back and re-threshold model versions.

Works on the store `FRAUDSTREAM_MODEL_STORE` names (the `models/` directory or the model
topic) through `ManagedModelStore`. Every change is an audited `LifecycleEvent` (see
`model/lifecycle.py`) and is then announced on the model-announcement topic, so scorers
check their store at once instead of at their next poll; an announcement that fails is a
warning only (the change is made and recorded, and scorers still find it by polling).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from fraudstream.config import get_settings
from fraudstream.model.lifecycle import (
    LifecycleEvent,
    ManagedModelStore,
    challenger,
    current_user,
    mark_candidate,
    promote,
    rollback,
    set_threshold,
)
from fraudstream.output import OutputFormat, emit, output_option, rows_table

__all__ = ["app", "history", "list_versions", "promote_cmd", "rollback_cmd", "show", "threshold"]

app = typer.Typer(
    help="Model lifecycle: list, show, promote, rollback, set-threshold, history, compare.",
    no_args_is_help=True,
)

Store = typer.Option(None, "--store", help="directory or topic (default FRAUDSTREAM_MODEL_STORE).")
By = typer.Option(None, "--by", help="Who makes the change (default $USER).")
Announce = typer.Option(
    True, "--announce/--no-announce", help="Announce the change so scorers switch at once."
)


def _reason(required: bool = True) -> Any:
    return typer.Option(... if required else "", "--reason", help="Why (recorded in the audit).")


@contextmanager
def _open(kind: str | None) -> Iterator[ManagedModelStore]:
    s = get_settings()
    chosen = kind or s.model_store
    if chosen not in ("directory", "topic"):
        raise typer.BadParameter("must be directory or topic", param_hint="--store")
    if chosen == "topic":
        from fraudstream.model.topic_store import TopicModelStore

        store: ManagedModelStore = TopicModelStore(
            s.kafka_bootstrap,
            s.topic_model_store,
            chunk_bytes=s.model_chunk_bytes,
            keep_versions=s.model_keep_versions,
        )
    else:
        from fraudstream.model.store import DirectoryModelStore

        store = DirectoryModelStore(s.model_dir)
    try:
        yield store
    finally:
        store.close()


def _announce(store: ManagedModelStore, event: LifecycleEvent) -> None:
    from fraudstream.model.announcements import announce_change

    s = get_settings()
    announce_change(store, event, s.kafka_bootstrap, s.topic_models)


def _done(
    store: ManagedModelStore, event: LifecycleEvent, announce: bool, fmt: OutputFormat
) -> None:
    if announce:
        _announce(store, event)
    line = f"{event.action} {event.version}: {event.previous} -> {event.new} (by {event.by})"
    emit(event, fmt, table=line)


@app.command("list")
def list_versions(store: str | None = Store, output: OutputFormat = output_option()) -> None:
    """Every version in the store, the champion marked, with its serving threshold."""
    with _open(store) as st:
        champion = st.champion()
        marked = challenger(st.history())
        rows = []
        for version in st.versions():
            m = st.manifest(version)
            override = st.threshold_override(version)
            rows.append(
                {
                    "version": version,
                    "champion": version == champion,
                    "candidate": version == marked,
                    "threshold": override if override is not None else m.threshold,
                    "threshold_override": override is not None,
                    "score": m.score.kind,
                    "created_at": m.created_at,
                }
            )
    cols = ["version", "champion", "candidate", "threshold", "score"]
    emit(rows, output, table=lambda: rows_table(rows, cols, title=st.location) if rows else
         f"no model versions in {st.location}")  # fmt: skip


@app.command("show")
def show(
    version: str = typer.Argument(..., help="The version (see `fraudstream models list`)."),
    store: str | None = Store,
    output: OutputFormat = output_option(),
) -> None:
    """The manifest of one version, its serving threshold and whether it is the champion."""
    with _open(store) as st:
        if version not in st.versions():
            from fraudstream.model.errors import ModelNotFoundError

            raise ModelNotFoundError(f"no version {version} in {st.location}")
        m = st.manifest(version)
        override = st.threshold_override(version)
        data = {
            "version": version,
            "champion": st.champion() == version,
            "candidate": challenger(st.history()) == version,
            "serving_threshold": override if override is not None else m.threshold,
            "manifest_threshold": m.threshold,
            "threshold_strategy": m.threshold_strategy,
            "created_at": m.created_at,
            "score": m.score.kind,
            "features": m.features,
            "metrics": m.metrics,
        }
    emit(data, output)


@app.command("promote")
def promote_cmd(
    version: str = typer.Argument(..., help="The version to serve."),
    reason: str = _reason(),
    candidate: bool = typer.Option(
        False, "--candidate", help="Serve VERSION as the challenger in shadow instead."
    ),
    by: str | None = By,
    store: str | None = Store,
    announce: bool = Announce,
    output: OutputFormat = output_option(),
) -> None:
    """Make VERSION the champion (with --candidate: the challenger, scored in shadow)."""
    with _open(store) as st:
        change = mark_candidate if candidate else promote
        event = change(st, version, by=by or current_user(), reason=reason)
        _done(st, event, announce, output)


@app.command("rollback")
def rollback_cmd(
    reason: str = _reason(),
    by: str | None = By,
    store: str | None = Store,
    announce: bool = Announce,
    output: OutputFormat = output_option(),
) -> None:
    """Serve again the version that served before the current champion."""
    with _open(store) as st:
        event = rollback(st, by=by or current_user(), reason=reason)
        _done(st, event, announce, output)


@app.command("set-threshold")
def threshold(
    value: float = typer.Argument(..., help="The new alert threshold of the champion."),
    reason: str = _reason(),
    by: str | None = By,
    store: str | None = Store,
    announce: bool = Announce,
    output: OutputFormat = output_option(),
) -> None:
    """Override the champion's serving threshold (no retraining; the audit keeps the old)."""
    with _open(store) as st:
        event = set_threshold(st, value, by=by or current_user(), reason=reason)
        _done(st, event, announce, output)


@app.command("history")
def history(store: str | None = Store, output: OutputFormat = output_option()) -> None:
    """The audit of lifecycle changes, oldest first."""
    with _open(store) as st:
        events = st.history()
        where = st.location
    rows = [e.model_dump(mode="json") for e in events]
    cols = ["at", "action", "version", "previous", "new", "by", "reason"]
    emit(rows, output, table=lambda: rows_table(rows, cols) if rows else
         f"no lifecycle changes recorded in {where}")  # fmt: skip
