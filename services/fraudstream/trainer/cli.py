"""`fraudstream train`: read a snapshot (Avro topic or CSV), train, evaluate, publish.

Heavy imports (TensorFlow, scikit-learn, the pipeline) happen inside the command so
`fraudstream --help` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from fraudstream.config import Settings, load_settings
from fraudstream.output import OutputFormat, emit, output_option

log = logging.getLogger("fraudstream.trainer")


def train(
    csv: Path | None = typer.Option(
        None, "--csv", help="Train on a Kaggle-format CSV instead of the Avro topic."
    ),
    topic: str | None = typer.Option(
        None, "--topic", help="Avro topic to read (default: FRAUDSTREAM_TOPIC_PREPROCESSED)."
    ),
    max_records: int | None = typer.Option(None, "--max-records", min=1, help="Read at most N."),
    since: str | None = typer.Option(
        None, "--since", help="Start at this time: ISO-8601 or a look-back like 12h, 7d."
    ),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Maximum epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    threshold_strategy: str | None = typer.Option(
        None, "--threshold-strategy", help="fpr (default) | quantile | precision | budget."
    ),
    score: str | None = typer.Option(
        None,
        "--score",
        help="max_mahalanobis (default) | mahalanobis | normalized_mse | mse.",
    ),
    hour_features: bool | None = typer.Option(
        None, "--hour-features/--no-hour-features", help="Add sin/cos hour of day from Time."
    ),
    seed: int | None = typer.Option(None, "--seed"),
    model_dir: Path | None = typer.Option(
        None, "--model-dir", help="Model store (default: FRAUDSTREAM_MODEL_DIR)."
    ),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="TensorBoard root directory."),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Also write metrics.json, report.md and plots here."
    ),
    announce: bool | None = typer.Option(
        None, "--announce/--no-announce", help="Announce the version on the models topic."
    ),
    publish: bool = typer.Option(
        True,
        "--publish/--no-publish",
        help="Point models/LATEST at the new version (and, with FRAUDSTREAM_MODEL_STORE="
        "topic, publish it to the model topic).",
    ),
    output: OutputFormat = output_option(),
) -> None:
    """Train on a bounded snapshot and publish a new model version: the hybrid when the
    snapshot's training period holds labelled frauds, else the plain autoencoder."""
    from fraudstream.logs import setup_logging

    base = load_settings(Settings)
    setup_logging(base.log_level)
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "epochs": epochs,
            "batch_size": batch_size,
            "threshold_strategy": threshold_strategy,
            "score": score,
            "hour_features": hour_features,
            "seed": seed,
            "log_dir": log_dir,
            "report_dir": report_dir,
            "announce": announce,
            "max_records": max_records,
        }.items()
        if v is not None
    }
    from fraudstream.trainer.settings import TrainerSettings

    settings = load_settings(TrainerSettings, **overrides)
    store = model_dir or base.model_dir
    data = _load(csv, topic or base.topic_preprocessed, since, settings, base)

    from fraudstream.trainer.pipeline import run_training

    outcome = run_training(data, settings, store, publish=publish)
    if settings.report_dir is not None:
        from fraudstream.trainer.report import write_report

        files = write_report(outcome, settings.report_dir)
        log.info("report: %s", ", ".join(str(f) for f in files))
    where = str(outcome.path)
    if publish and base.model_store == "topic":
        where = _publish_to_topic(outcome.path, base)
    if settings.announce:
        from fraudstream.model.announcements import announce as do_announce

        do_announce(base.kafka_bootstrap, base.topic_models, outcome.manifest, where)
        log.info("announced %s on %s", outcome.version, base.topic_models)
    ae = outcome.metrics.get(outcome.served, {})
    line = f"model {outcome.version} ({outcome.served}) -> {outcome.path}" + (
        f" (test ROC-AUC {ae['roc_auc']:.3f}, weighted AP "
        f"{ae['weighted_average_precision']:.3f}, recall@1%FPR {ae['recall_at_fpr_0.01']:.3f})"
        if ae
        else ""
    )
    data = {
        "version": outcome.version,
        "path": str(outcome.path),
        "published": publish,
        "served": outcome.served,
        "metrics": outcome.metrics,
    }
    emit(data, output, table=line)


def _publish_to_topic(version_dir: Path, base: Settings) -> str:
    """Publish the new version to the model topic (FRAUDSTREAM_MODEL_STORE=topic): scorer
    pods load it from Kafka. Returns where it went, for the announcement."""
    from fraudstream.model import open_store

    store = open_store(
        "topic",
        model_dir=base.model_dir,
        bootstrap=base.kafka_bootstrap,
        topic=base.topic_model_store,
        chunk_bytes=base.model_chunk_bytes,
        keep_versions=base.model_keep_versions,
    )
    try:
        version = store.publish(version_dir)
    finally:
        store.close()
    log.info("published %s to %s", version, store.location)
    return f"{store.location}/{version}"


def _load(csv: Path | None, topic: str, since: str | None, settings: Any, base: Settings) -> Any:
    if csv is not None:
        if since is not None:
            raise typer.BadParameter("--since applies to the topic, not to --csv")
        from fraudstream.trainer.data import read_csv

        return read_csv(csv, settings.max_records)
    from fraudstream.trainer.avro_source import parse_since, read_dataset, registry_lookup

    return read_dataset(
        base.kafka_bootstrap,
        topic,
        registry_lookup(base.registry_url),
        max_records=settings.max_records,
        since=parse_since(since) if since else None,
        idle_timeout_s=settings.read_idle_timeout_s,
        registry_url=base.registry_url,
    )
