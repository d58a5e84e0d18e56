"""`fraudstream produce`: publish the users table, then replay CSV or synthetic events."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from fraudstream.config import get_settings, load_settings
from fraudstream.kafka import create_topics, wait_for_broker
from fraudstream.logs import setup_logging
from fraudstream.output import OutputFormat, emit, output_option
from fraudstream.producer.csvsource import CsvReport, read_csv_events
from fraudstream.producer.errors import BadRowError, CsvFormatError, SourceError
from fraudstream.producer.labels import DelayedLabels, LabelDelay
from fraudstream.producer.replay import ReplayStats, replay, replay_records
from fraudstream.producer.settings import ProducerSettings
from fraudstream.producer.shift import parse_shifts, shifted
from fraudstream.producer.synthetic import GeneratorParams, generate_events, generate_records
from fraudstream.producer.timefmt import parse_start
from fraudstream.producer.users import make_users, publish_users

log = logging.getLogger("fraudstream.producer")


def _fail(message: str, code: int) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _csv_source(
    csv: Path,
    origin: datetime,
    ids: list[str],
    strict: bool,
    rej: Path,
    report: CsvReport,
    first_id: int = 0,
) -> Callable[[int], Iterable[dict[str, Any]]]:
    """Check the file now (exit 2 if unusable), return `pass -> events` for the replayer.

    Ids start at `first_id`; pass k > 0 shifts Id by the file's row count and Time by its
    span, so looping never repeats an Id and time keeps moving forward; only pass 0 writes the
    rejects file.
    """
    if rej.exists():
        rej.unlink()  # a stale file from an earlier run would mislead
    rej.parent.mkdir(parents=True, exist_ok=True)
    try:  # fail fast on a missing file or wrong header, before touching Kafka
        read_csv_events(csv, start=origin, users=ids).close()
    except CsvFormatError as exc:
        raise _fail(str(exc), 2) from None
    spans: list[int] = []  # Id and Time span of one pass, known after pass 0

    def source(k: int) -> Iterable[dict[str, Any]]:
        if k and not spans:
            spans.extend((report.rows, report.max_time + 1))
        id_span, time_span = spans if k else (0, 0)
        return read_csv_events(
            csv,
            start=origin,
            users=ids,
            strict=strict,
            rejects=rej if k == 0 else None,
            report=report if k == 0 else CsvReport(),
            id_offset=first_id + k * id_span,
            time_offset=k * time_span,
        )

    return source


def produce(
    csv: Path | None = typer.Option(None, "--csv", help="Kaggle/ULB creditcard.csv to replay."),
    synthetic: int | None = typer.Option(
        None, "--synthetic", min=1, help="Generate N synthetic events (with --loop: endless)."
    ),
    rate: float | None = typer.Option(
        None,
        "--rate",
        min=0,
        help="Target events/s, token bucket; 0 = unlimited (FRAUDSTREAM_PRODUCER_RATE, 0).",
    ),
    loop: bool = typer.Option(
        False, "--loop", help="Replay again and again (fresh Ids, later timestamps)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=0, help="Stop after N events."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first bad CSV row."),
    rejects: Path | None = typer.Option(
        None,
        "--rejects",
        help="Where bad CSV rows go (default: FRAUDSTREAM_DATA_DIR/rejects/NAME.rejects.csv).",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Generator and users-table seed (FRAUDSTREAM_PRODUCER_SEED, 42)."
    ),
    fraud_rate: float | None = typer.Option(
        None,
        "--fraud-rate",
        min=0,
        max=0.5,
        help="Synthetic fraud prevalence (FRAUDSTREAM_PRODUCER_FRAUD_RATE, 0.00172).",
    ),
    hard_fraction: float = typer.Option(
        0.08, "--hard-fraction", min=0, max=1, help="Share of synthetic frauds that are hard."
    ),
    label_noise: float = typer.Option(
        0.02, "--label-noise", min=0, max=0.5, help="Share of synthetic fraud labels flipped."
    ),
    unlabelled: float = typer.Option(
        0.0, "--unlabelled", min=0, max=1, help="Share of synthetic events sent with Class null."
    ),
    users: int | None = typer.Option(
        None, "--users", min=1, help="Size of the users table (FRAUDSTREAM_PRODUCER_USERS, 1000)."
    ),
    no_users: bool = typer.Option(False, "--no-users", help="Do not publish the users table."),
    topic: str | None = typer.Option(
        None, "--topic", help="Source topic (FRAUDSTREAM_TOPIC_SOURCE)."
    ),
    users_topic: str | None = typer.Option(
        None, "--users-topic", help="Users topic (FRAUDSTREAM_TOPIC_USERS)."
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Timestamp origin, ISO-8601 or 'now'; Timestamp = start + Time "
        "(FRAUDSTREAM_PRODUCER_START, 2013-09-01T00:00:00Z).",
    ),
    bootstrap: str | None = typer.Option(
        None, "--bootstrap", help="Kafka bootstrap servers (FRAUDSTREAM_KAFKA_BOOTSTRAP)."
    ),
    partitions: int | None = typer.Option(
        None, "--partitions", min=1, help="Partitions when the source topic is created."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."
    ),
    compression: str | None = typer.Option(
        None,
        "--compression",
        help="none|gzip|snappy|lz4|zstd (FRAUDSTREAM_PRODUCER_COMPRESSION, lz4).",
    ),
    first_id: int = typer.Option(
        0,
        "--first-id",
        min=0,
        help="Id of the first event (`fraudstream up` gives every run its own range).",
    ),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="inline (events carry Class) or delayed (labels published later to the labels "
        "topic; FRAUDSTREAM_PRODUCER_LABELS, inline).",
    ),
    label_delay: str | None = typer.Option(
        None,
        "--label-delay",
        help="Delay distribution of delayed labels: fixed:D, uniform:A,B, exp:MEAN "
        "(FRAUDSTREAM_PRODUCER_LABEL_DELAY, exp:10s).",
    ),
    labels_topic: str | None = typer.Option(
        None, "--labels-topic", help="Labels topic (FRAUDSTREAM_TOPIC_LABELS, fraud_labels)."
    ),
    shift: list[str] | None = typer.Option(
        None,
        "--shift",
        help="Add DELTA to a feature of every event, e.g. --shift V4=1.5 (a controlled drift; "
        "repeatable).",
    ),
    output: OutputFormat = output_option(),
) -> None:
    """Replay the credit-card data set (or synthetic events) into Kafka as JSON."""
    shared = get_settings()
    overrides = {
        k: v
        for k, v in (("compression", compression), ("labels", labels), ("label_delay", label_delay))
        if v is not None
    }
    cfg = load_settings(ProducerSettings, **overrides)
    setup_logging(shared.log_level)
    if (csv is None) == (synthetic is None):
        raise _fail("give exactly one of --csv PATH or --synthetic N", 2)
    boot = bootstrap or shared.kafka_bootstrap
    src_topic = topic or shared.topic_source
    seed_ = cfg.seed if seed is None else seed
    n_users = users or cfg.users
    try:
        origin = parse_start(start or cfg.start)
    except SourceError as exc:
        raise _fail(str(exc), 2) from None
    rate_ = cfg.rate if rate is None else rate
    delay: LabelDelay | None = None
    if cfg.labels == "delayed":
        try:
            delay = LabelDelay.parse(cfg.label_delay)
        except SourceError as exc:
            raise _fail(str(exc), 2) from None
    lab_topic = labels_topic or shared.topic_labels
    try:
        shifts = parse_shifts(shift or [])
    except SourceError as exc:
        raise _fail(str(exc), 2) from None
    per_event = delay is not None or bool(shifts)  # events as dicts, not pre-encoded records
    table = make_users(n_users, seed_)
    ids = [u["userid"] for u in table]
    report = CsvReport()

    if csv is not None:
        rej = rejects or shared.data_dir / "rejects" / f"{csv.stem}.rejects.csv"
        source = _csv_source(csv, origin, ids, strict, rej, report, first_id)
        total: int | None = None
    else:
        params = GeneratorParams(
            fraud_rate=cfg.fraud_rate if fraud_rate is None else fraud_rate,
            hard_fraction=hard_fraction,
            label_noise=label_noise,
        )
        try:
            params.check()
        except SourceError as exc:
            raise _fail(str(exc), 2) from None
        gen_kw: dict[str, Any] = {
            "seed": seed_,
            "users": ids,
            "start": origin,
            "unlabelled": unlabelled,
            "params": params,
            "id_offset": first_id,
        }
        n_events = None if loop else synthetic  # --loop: the generator simply goes on
        if per_event:  # dicts: labels held back or features shifted one by one
            raw_events: Iterable[dict[str, Any]] = generate_events(n_events, **gen_kw)
        else:
            records = generate_records(n_events, **gen_kw)
        total = synthetic if not loop else None

    admin = wait_for_broker(boot, timeout=cfg.broker_wait_s)
    n_parts = partitions or cfg.partitions
    create_topics(admin, [src_topic], partitions=n_parts)
    held: DelayedLabels | None = None
    if delay is not None:
        # the KSQL join (06_labels.sql) needs labels co-partitioned with the source
        create_topics(admin, [lab_topic], partitions=_partitions_of(admin, src_topic, n_parts))
        held = DelayedLabels(
            bootstrap=boot,
            topic=lab_topic,
            delay=delay,
            seed=seed_,
            share=cfg.label_share,
            drain_s=cfg.label_drain_s,
            producer_overrides={"linger.ms": cfg.linger_ms},
        )
    if not no_users:
        sent = publish_users(
            table, bootstrap=boot, topic=users_topic or shared.topic_users, timeout=60
        )
        log.info("published %d users to %s", sent, users_topic or shared.topic_users)
    show = sys.stderr.isatty() if progress is None else progress
    common: dict[str, Any] = {
        "bootstrap": boot,
        "topic": src_topic,
        "rate": rate_,
        "limit": limit,
        "progress": show,
        "burst": cfg.burst,
        "flush_timeout": cfg.flush_timeout_s,
        "producer_overrides": {
            "message.timeout.ms": cfg.delivery_timeout_ms,
            "linger.ms": cfg.linger_ms,
            "compression.type": cfg.compression,
        },
    }
    stats: ReplayStats | None = None
    try:
        if per_event:

            def prepare(events: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
                out = shifted(events, shifts) if shifts else events
                return held.wrap(out) if held is not None else out

            if csv is not None:
                csv_events = source
                stats = replay(lambda k: prepare(csv_events(k)), loop=loop, **common)
            else:
                stats = replay(prepare(raw_events), total_hint=total, **common)
        elif csv is not None:
            stats = replay(source, loop=loop, **common)
        else:  # synthetic: already endless with --loop; the fast pre-encoded path
            stats = replay_records(records, total_hint=total, **common)
    except BadRowError as exc:
        raise _fail(f"{csv}: {exc} (strict mode)", 1) from None
    finally:
        if held is not None and (stats is None or stats.interrupted):
            held.drain_s = 0.0  # Ctrl-C or a failure: flush what is due, do not wait
        label_stats = held.close() if held is not None else None
    # For people the summary lines are the output; with -o json|yaml they go to stderr and
    # stdout carries the stats alone.
    people = output is OutputFormat.table
    lines = []
    if csv is not None:
        lines.append(report.summary())
        if report.bad:
            lines.append(f"rejected rows written to {rej}")
    lines.append(stats.summary())
    if held is not None:
        lines.append(held.summary())
    if people:
        emit(None, output, table="\n".join(lines))
    else:
        print("\n".join(lines), file=sys.stderr)
        out = stats.model_dump() | {"rate": stats.rate}
        if csv is not None:
            out["csv"] = {"rows": report.rows, "good": report.good, "bad": report.bad}
        if label_stats is not None:
            out["labels"] = label_stats.model_dump()
        emit(out, output)
    if stats.interrupted and not stats.failed:
        raise typer.Exit(130)
    if not stats.ok or (label_stats is not None and label_stats.failed):
        raise typer.Exit(1)


def _partitions_of(admin: Any, topic: str, default: int) -> int:
    """The partition count of an existing topic (else `default`)."""
    meta = admin.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return default
    return len(meta.partitions)
