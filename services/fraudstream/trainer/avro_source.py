"""Reading the preprocessed Avro topic as a bounded snapshot.

The end offsets are captured when reading starts, so a topic that keeps growing still
gives a finite, reproducible training set (recorded as offset ranges in the lineage).
Values are Confluent wire format (magic 0, 4-byte schema id, Avro body) and are decoded
with the *writer* schema fetched from the registry by id, so both KSQL's output and our
own test producers work; field names are matched case-insensitively (KSQL upper-cases).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from confluent_kafka import Consumer, Message, TopicPartition
from numpy.typing import NDArray
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.kafka.errors import TopicReadError
from fraudstream.kafka.reader import open_snapshot, reader_consumer
from fraudstream.serde.errors import RegistryUnavailableError, SerdeFailure
from fraudstream.serde.ksql_records import RecordDecoder, WriterSchemas
from fraudstream.serde.registry_client import RegistryClient
from fraudstream.trainer.data import RAW_COLUMNS, Dataset
from fraudstream.trainer.errors import InputSchemaError, TrainerError

__all__ = ["SnapshotDecoder", "parse_since", "read_dataset", "registry_lookup"]

log = logging.getLogger(__name__)

assert RAW_COLUMNS == NUMERIC_COLUMNS, "the decoder's matrix is Dataset.raw as is"


def registry_lookup(url: str) -> RegistryClient:
    """The writer schemas of the topic, by id, from the registry at `url`."""
    return RegistryClient(url)


class SnapshotDecoder:
    """Decode batches of the topic's messages and keep the rows the trainer can use.

    The decoding (flat fast path, per-record fallback, reasons) is
    `fraudstream.serde.ksql_records.RecordDecoder` in its trainer profile: only the
    numbers and the label matter, and a writer schema without a needed column is an
    `InputSchemaError` naming the columns rather than a skip per record.
    """

    def __init__(self, schemas: WriterSchemas) -> None:
        self.decoder = RecordDecoder(
            "avro", schemas, identity=False, require_label=True, strict_schema=True
        )
        self.chunks: list[NDArray[np.float64]] = []
        self.labels: list[NDArray[np.int64]] = []
        self.skipped: Counter[str] = Counter()

    def add(self, msgs: list[Message]) -> None:
        try:
            batch = self.decoder.decode(msgs)
        except RegistryUnavailableError as exc:
            raise TrainerError(f"schema registry: {exc}") from None
        except SerdeFailure as exc:
            raise InputSchemaError(f"the topic's writer {exc}") from None
        self.skipped.update(batch.reasons())
        if len(batch):
            self.chunks.append(batch.numeric)
            self.labels.append(np.asarray(batch.labels, np.int64))

    def dataset_parts(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(raw matrix in RAW_COLUMNS order, labels) of the valid rows."""
        if not self.chunks:
            return np.empty((0, len(RAW_COLUMNS))), np.empty(0, np.int64)
        return np.concatenate(self.chunks), np.concatenate(self.labels)

    def fingerprints(self) -> dict[int, str]:
        """sha256 of each writer schema used (canonical JSON), by schema id."""
        return {
            i: hashlib.sha256(
                json.dumps(s, sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest()
            for i, s in self.decoder.writer_schemas().items()
        }


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: an ISO-8601 time (UTC if no zone) or a look-back like 30m, 12h, 7d."""
    m = _DURATION.match(text.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: float(m.group(1))})
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TrainerError(f"--since {text!r}: not an ISO-8601 time nor 30m/12h/7d") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def read_dataset(
    bootstrap: str,
    topic: str,
    schemas: WriterSchemas,
    max_records: int | None = None,
    since: datetime | None = None,
    idle_timeout_s: float = 15.0,
    registry_url: str = "",
) -> Dataset:
    """The training set in `topic`: from its earliest (or `since`) offsets to the end
    offsets seen at start (`kafka.reader`'s bounded snapshot), decoded as it is read."""
    fetch: dict[str, Any] = {
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
    }
    consumer = reader_consumer(bootstrap, **fetch)
    try:
        return _read(
            consumer, bootstrap, topic, schemas, max_records, since, idle_timeout_s, registry_url
        )
    finally:
        consumer.close()


def _read(
    consumer: Consumer,
    bootstrap: str,
    topic: str,
    schemas: WriterSchemas,
    max_records: int | None,
    since: datetime | None,
    idle_timeout_s: float,
    registry_url: str,
) -> Dataset:
    since_ms = None if since is None else int(since.timestamp() * 1000)
    try:
        snap = open_snapshot(consumer, topic, since_ms)
    except TopicReadError as exc:
        raise TrainerError(f"{exc} on {bootstrap}") from None
    start, end = snap.start, snap.end
    parts = sorted(end)
    total = snap.total
    if max_records is not None:
        total = min(total, max_records)
    pending = {p for p in parts if start[p] < end[p]}
    consumer.assign([TopicPartition(topic, p, start[p]) for p in pending])
    decoder = SnapshotDecoder(schemas)
    read_to = dict(start)
    seen = 0
    t0 = time.monotonic()
    last_progress = t0
    with Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} records/s"),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(topic, total=total, rate=0.0)
        while pending and (max_records is None or seen < max_records):
            msgs = consumer.consume(num_messages=10_000, timeout=0.5)
            now = time.monotonic()
            batch: list[Message] = []
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.fatal():
                        raise TrainerError(f"reading {topic}: {err}")
                    log.warning("reading %s: %s", topic, err)
                    continue
                p, off = int(msg.partition() or 0), int(msg.offset() or 0)
                if off >= end[p] or (max_records is not None and seen >= max_records):
                    continue
                seen += 1
                read_to[p] = off + 1
                batch.append(msg)
            decoder.add(batch)
            if msgs:
                last_progress = now
            positions = consumer.position([TopicPartition(topic, p) for p in pending])
            for tp in positions:
                if tp.offset >= end[tp.partition] or read_to[tp.partition] >= end[tp.partition]:
                    pending.discard(tp.partition)
            progress.update(task, completed=seen, rate=seen / max(now - t0, 1e-9))
            if pending and now - last_progress > idle_timeout_s:
                log.warning(
                    "no records for %.0fs before the snapshot's end offsets (partitions %s); "
                    "training on the %d read so far",
                    idle_timeout_s,
                    sorted(pending),
                    seen,
                )
                break
    seconds = time.monotonic() - t0
    log.info(
        "read %d records from %s in %.1fs (%.0f records/s)",
        seen,
        topic,
        seconds,
        seen / max(seconds, 1e-9),
    )
    fingerprints = decoder.fingerprints()
    ids = sorted(fingerprints)
    raw, label = decoder.dataset_parts()
    return Dataset(
        raw=raw,
        label=label,
        skipped=decoder.skipped,
        lineage={
            "source": "kafka",
            "bootstrap": bootstrap,
            "registry": registry_url,
            "topic": topic,
            "since": since.isoformat() if since else None,
            "partitions": {
                str(p): {"start": start[p], "end": end[p], "read_to": read_to[p]} for p in parts
            },
            "records_read": seen,
            "schema_ids": ids,
            "snapshot_at": datetime.now(UTC).isoformat(),
        },
        schema_fingerprint=fingerprints[ids[0]] if ids else "",
    )
