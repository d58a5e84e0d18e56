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
import operator
import re
import struct
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import numpy as np
from confluent_kafka import Consumer, KafkaException, TopicPartition
from numpy.typing import NDArray
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fraudstream.kafka.clients import consumer_config
from fraudstream.serde.flatavro import FlatDecodeError, FlatPlan, decode_one
from fraudstream.trainer.data import (
    LABEL_COLUMN,
    RAW_COLUMNS,
    UNLABELED,
    Dataset,
    parse_label,
)
from fraudstream.trainer.errors import InputSchemaError, TrainerError

log = logging.getLogger(__name__)

SchemaLookup = Callable[[int], dict[str, Any] | str]
_NEEDED = [c.lower() for c in (*RAW_COLUMNS, LABEL_COLUMN)]
_AMOUNT = RAW_COLUMNS.index("Amount")


def registry_lookup(url: str) -> SchemaLookup:
    """Fetch writer schemas by id with confluent-kafka's registry client (cached there)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    client = SchemaRegistryClient({"url": url})

    def lookup(schema_id: int) -> str:
        try:
            return str(client.get_schema(schema_id).schema_str)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise KeyError(schema_id) from None
            raise TrainerError(f"schema registry {url} failed: {exc}") from None
        except Exception as exc:  # connection refused, DNS, timeouts
            raise TrainerError(f"schema registry {url} unreachable: {exc}") from None

    return lookup


class _WriterSchemas:
    """Parsed writer schemas by id, each with the field names the trainer needs."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self.lookup = lookup
        self.cache: dict[int, tuple[Any, list[str], FlatPlan | None] | None] = {}
        self.fingerprints: dict[int, str] = {}

    def get(self, schema_id: int) -> tuple[Any, list[str], FlatPlan | None] | None:
        if schema_id in self.cache:
            return self.cache[schema_id]
        try:
            raw = self.lookup(schema_id)
        except KeyError:
            self.cache[schema_id] = None
            return None
        schema = json.loads(raw) if isinstance(raw, str) else raw
        names = {f["name"].lower(): f["name"] for f in schema.get("fields", [])}
        missing = [
            c
            for c, low in zip((*RAW_COLUMNS, LABEL_COLUMN), _NEEDED, strict=True)
            if low not in names
        ]
        if missing:
            raise InputSchemaError(
                f"writer schema {schema_id} ({schema.get('name')}) lacks fields the model "
                f"needs: {', '.join(missing)} (matched case-insensitively)"
            )
        canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
        self.fingerprints[schema_id] = hashlib.sha256(canonical.encode()).hexdigest()
        fields = [names[c] for c in _NEEDED]
        entry = (fastavro.parse_schema(schema), fields, FlatPlan.build(schema, fields))
        self.cache[schema_id] = entry
        return entry


class BatchDecoder:
    """Decode message values in bulk into raw rows, labels and skip reasons.

    Values that share a writer schema are decoded together by `fraudstream.serde.flatavro`
    (one vectorized pass for flat schemas); records it cannot vouch for, and every record
    of a non-flat schema, are decoded one by one with fastavro, where a body that does not
    end exactly at its end is a `decode_error`. Values are validated with NumPy per batch.
    """

    def __init__(self, schemas: _WriterSchemas) -> None:
        self.schemas = schemas
        self.rows: list[tuple[Any, ...]] = []
        self.chunks: list[NDArray[np.float64]] = []
        self.skipped: Counter[str] = Counter()

    def add(self, values: list[bytes | None]) -> None:
        by_schema: dict[int, list[bytes]] = {}
        for value in values:
            if value is None or len(value) < 5 or value[0] != 0:
                self.skipped["not_wire_format"] += 1
                continue
            (schema_id,) = _ID.unpack_from(value, 1)
            by_schema.setdefault(schema_id, []).append(value)
        for schema_id, group in by_schema.items():
            entry = self.schemas.get(schema_id)
            if entry is None:
                self.skipped["schema_not_found"] += len(group)
                continue
            parsed, fields, plan = entry
            pick = operator.itemgetter(*fields)
            if plan is None:
                self._decode(parsed, pick, group)
                continue
            batch = plan.decode(group, offset=5)
            decoded, nulls, ok = batch.values, batch.nulls, batch.ok
            missing = nulls[:, :-1].any(axis=1)
            good = ok & ~missing
            self.skipped["missing_value"] += int((ok & missing).sum())
            chunk = decoded[good]
            chunk[:, -1] = np.where(nulls[good, -1], UNLABELED, chunk[:, -1])
            self.chunks.append(chunk)
            if not ok.all():  # the per-record decode says what is wrong with these
                self._decode(parsed, pick, [group[i] for i in np.flatnonzero(~ok)])

    def _decode(self, parsed: Any, pick: Any, group: list[bytes]) -> None:
        rows = self.rows
        for v in group:
            try:
                rec = decode_one(parsed, v, offset=5)
            except FlatDecodeError:
                self.skipped["decode_error"] += 1
                continue
            vals = pick(rec)
            if None in vals[:-1]:
                self.skipped["missing_value"] += 1
                continue
            rows.append(vals)

    def dataset_parts(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(raw matrix, labels) of the valid rows; invalid ones are counted as skipped."""
        parts = list(self.chunks)
        if self.rows:
            cols = list(zip(*self.rows, strict=True))
            slow = np.asarray([[_to_float(x) for x in c] for c in cols[:-1]], np.float64).T
            labels = np.asarray([_label(x) for x in cols[-1]], np.float64)
            parts.append(np.column_stack([slow, labels]))
        if not parts:
            return np.empty((0, len(RAW_COLUMNS))), np.empty(0, np.int64)
        both = np.concatenate(parts)
        raw = both[:, :-1]
        lab = both[:, -1]
        valid_label = np.isin(lab, (0.0, 1.0, float(UNLABELED)))
        label = np.where(valid_label, lab, _BAD_LABEL).astype(np.int64)
        finite = np.isfinite(raw).all(axis=1)
        amount_ok = raw[:, _AMOUNT] >= 0
        label_ok = label != _BAD_LABEL
        keep = finite & amount_ok & label_ok
        self.skipped["non_finite"] += int((~finite).sum())
        self.skipped["negative_amount"] += int((finite & ~amount_ok).sum())
        self.skipped["invalid_label"] += int((finite & amount_ok & ~label_ok).sum())
        self.skipped = +self.skipped  # drop zero counts
        return raw[keep], label[keep]


_ID = struct.Struct(">I")
_BAD_LABEL = -99


def _to_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _label(x: Any) -> int:
    v = parse_label(x)
    return _BAD_LABEL if v is None else v


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


def read_topic(
    bootstrap: str,
    topic: str,
    lookup: SchemaLookup,
    max_records: int | None = None,
    since: datetime | None = None,
    idle_timeout_s: float = 15.0,
    registry_url: str = "",
) -> Dataset:
    """Read `topic` from its earliest (or `since`) offsets to the end offsets seen at start."""
    consumer = Consumer(
        consumer_config(
            bootstrap,
            group_id=f"fraudstream-trainer-{uuid.uuid4().hex[:8]}",
            **{"fetch.max.bytes": 64 * 1024 * 1024, "max.partition.fetch.bytes": 8 * 1024 * 1024},
        )
    )
    try:
        return _read(
            consumer, bootstrap, topic, lookup, max_records, since, idle_timeout_s, registry_url
        )
    finally:
        consumer.close()


def _read(
    consumer: Consumer,
    bootstrap: str,
    topic: str,
    lookup: SchemaLookup,
    max_records: int | None,
    since: datetime | None,
    idle_timeout_s: float,
    registry_url: str,
) -> Dataset:
    try:
        md = consumer.list_topics(topic, timeout=10)
    except KafkaException as exc:
        raise TrainerError(f"cannot read metadata of {topic} from {bootstrap}: {exc}") from None
    tmd = md.topics.get(topic)
    if tmd is None or tmd.error is not None or not tmd.partitions:
        raise TrainerError(f"topic {topic} does not exist on {bootstrap}")
    parts = sorted(tmd.partitions)
    start: dict[int, int] = {}
    end: dict[int, int] = {}
    for p in parts:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        start[p], end[p] = low, high
    if since is not None:
        ts = int(since.timestamp() * 1000)
        found = consumer.offsets_for_times([TopicPartition(topic, p, ts) for p in parts], 10)
        for tp in found:
            start[tp.partition] = end[tp.partition] if tp.offset < 0 else tp.offset
    total = sum(max(0, end[p] - start[p]) for p in parts)
    if max_records is not None:
        total = min(total, max_records)
    pending = {p for p in parts if start[p] < end[p]}
    consumer.assign([TopicPartition(topic, p, start[p]) for p in pending])
    schemas = _WriterSchemas(lookup)
    decoder = BatchDecoder(schemas)
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
            batch: list[bytes | None] = []
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
                batch.append(msg.value())
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
    ids = sorted(schemas.fingerprints)
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
        schema_fingerprint=schemas.fingerprints[ids[0]] if ids else "",
    )
