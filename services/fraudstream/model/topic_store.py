"""The model store on a compacted Kafka topic: scorers in any pod or node need no shared volume.

A version is one bundle (a zip of `manifest.json` and `weights.npz`, a few hundred KB),
checksummed (sha256) and cut into chunks that fit the broker's message size. Each chunk is
one record on a single-partition compacted topic:

    key   = "<version>/<index, 5 digits>"      (distinct keys: compaction keeps every version)
    value = one JSON line {"format", "version", "chunk", "chunks", "size", "sha256"}, "\\n",
            then the chunk's bytes

A reader follows the topic (from the start, then incrementally), and a version whose chunks
have all arrived becomes a candidate, the most recently published first (by offset, not by
name: two versions made in the same second sort by hash; republishing an old version makes
it the newest again, which is how a rollback is done). `load` verifies the checksum, the bundle
and the manifest (its version must be the record's) before building the model, so a corrupt
or truncated record can only be refused (`ModelCorruptError`); records that do not even parse
are skipped and counted in `corrupt_records`. Writes go through `TopicLog` (idempotent,
acks=all, the topic created through `kafka/admin.py` with the configured replication factor).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from fraudstream.errors import KafkaToolkitError, KafkaUnavailableError
from fraudstream.kafka.reader import reader_consumer
from fraudstream.kafka.topiclog import COMPACTED, FOREVER, TopicLog
from fraudstream.model.errors import ModelCorruptError, ModelNotFoundError, ModelStoreError
from fraudstream.model.lifecycle import LifecycleEvent, parse_event, threshold_overrides
from fraudstream.model.manifest import VERSION_RE, ModelManifest
from fraudstream.model.numpy_model import NumpyModel
from fraudstream.model.store import MANIFEST, WEIGHTS, model_from_parts, parse_manifest

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_KEEP_VERSIONS",
    "LIFECYCLE_SUFFIX",
    "TopicModelStore",
    "bundle_version",
    "chunk_records",
]

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
# Well under the broker's default message.max.bytes (1 MiB) with room for the header line.
DEFAULT_CHUNK_BYTES = 256 * 1024
# Versions kept on the topic; older ones get tombstones and compaction drops them.
DEFAULT_KEEP_VERSIONS = 10
# How librdkafka says "this topic does not exist (yet)" when asked for watermarks.
_NO_TOPIC = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION)
# The audit of a topic store: `<model topic>_lifecycle`, an append-only topic (delete policy,
# infinite retention) of JSON `LifecycleEvent`s keyed by event id.
LIFECYCLE_SUFFIX = "_lifecycle"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same version always gives the same bundle


def bundle_version(version_dir: Path | str) -> tuple[str, bytes]:
    """(version, bundle bytes) of a version directory: what the scorer needs, nothing else."""
    src = Path(version_dir)
    try:
        manifest_text = (src / MANIFEST).read_bytes()
        weights = (src / WEIGHTS).read_bytes()
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"cannot publish {src}: {exc.filename} is missing") from None
    manifest = parse_manifest(manifest_text, str(src / MANIFEST))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in ((MANIFEST, manifest_text), (WEIGHTS, weights)):
            zf.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data)
    return manifest.version, buf.getvalue()


def chunk_records(version: str, bundle: bytes, chunk_bytes: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of one bundle, in order."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    digest = hashlib.sha256(bundle).hexdigest()
    parts = [bundle[i : i + chunk_bytes] for i in range(0, len(bundle), chunk_bytes)] or [b""]
    return [
        _chunk_record(version, i, _Chunk(len(parts), len(bundle), digest, part))
        for i, part in enumerate(parts)
    ]


def _chunk_record(version: str, index: int, chunk: _Chunk) -> tuple[bytes, bytes]:
    """The (key, value) record of one chunk (what `_parse` reads back)."""
    head = {
        "format": BUNDLE_FORMAT,
        "version": version,
        "chunk": index,
        "chunks": chunk.chunks,
        "size": chunk.size,
        "sha256": chunk.sha256,
    }
    key = f"{version}/{index:05d}".encode()
    return key, json.dumps(head, sort_keys=True).encode() + b"\n" + chunk.data


@dataclass(frozen=True)
class _Chunk:
    chunks: int
    size: int
    sha256: str
    data: bytes
    offset: int = -1  # where it was read: the last chunk of a version dates its publication


def _parse(key: bytes | None, value: bytes) -> tuple[str, int, _Chunk]:
    """(version, index, chunk) of one record; ValueError says why it is not one."""
    head, sep, data = value.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    meta: Any = json.loads(head)
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise ValueError("not a model bundle chunk of a known format")
    version, index, count = meta.get("version"), meta.get("chunk"), meta.get("chunks")
    if not (isinstance(version, str) and VERSION_RE.match(version)):
        raise ValueError(f"bad version {version!r}")
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        raise ValueError(f"bad chunk index {index!r} of {count!r}")
    if key is not None and key.decode("utf-8", "replace") != f"{version}/{index:05d}":
        raise ValueError("key does not match the header")
    size, digest = meta.get("size"), meta.get("sha256")
    if not (isinstance(size, int) and isinstance(digest, str)):
        raise ValueError("bad size or sha256")
    return version, index, _Chunk(count, size, digest, data)


class TopicModelStore:
    """The `ModelStore` of a compacted Kafka topic (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        keep_versions: int = DEFAULT_KEEP_VERSIONS,
        timeout_s: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.chunk_bytes = chunk_bytes
        self.keep_versions = keep_versions
        self.timeout_s = timeout_s
        self.corrupt_records = 0  # records skipped because they do not parse
        self._log = TopicLog(bootstrap, topic, config=COMPACTED, write_timeout=timeout_s)
        self._chunks: dict[str, dict[int, _Chunk]] = {}
        self._tail = _Tail(bootstrap, topic)
        self._lock = threading.Lock()
        self._missing_logged = False
        self.lifecycle_topic = topic + LIFECYCLE_SUFFIX
        self._audit = TopicLog(
            bootstrap, self.lifecycle_topic, config=FOREVER, write_timeout=timeout_s
        )
        self._events: list[LifecycleEvent] = []
        self._audit_tail = _Tail(bootstrap, self.lifecycle_topic)

    @property
    def location(self) -> str:
        return f"kafka topic {self.topic}"

    # ------------------------------------------------------------------ writes
    def publish(self, version_dir: Path | str) -> str:
        """Write a version's bundle (creating the topic if needed), then drop versions beyond
        the newest `keep_versions`; return the version."""
        version, bundle = bundle_version(version_dir)
        try:
            self._log.ensure_topic(self.timeout_s)
            for key, value in chunk_records(version, bundle, self.chunk_bytes):
                self._log.append(key, value)
        except (KafkaToolkitError, KafkaUnavailableError, KafkaException) as exc:
            raise ModelStoreError(f"publishing {version} to {self.topic} failed: {exc}") from None
        log.info("model %s published to %s (%d bytes)", version, self.topic, len(bundle))
        self.prune()
        return version

    def prune(self) -> list[str]:
        """Tombstone every chunk of the versions older than the newest `keep_versions`
        (compaction then removes them); return those versions."""
        old = self.candidates()[self.keep_versions :]
        with self._lock:
            keys = [f"{v}/{i:05d}".encode() for v in old for i in sorted(self._chunks[v])]
        try:
            for key in keys:
                self._log.append(key, None)
        except (KafkaToolkitError, KafkaUnavailableError, KafkaException) as exc:
            raise ModelStoreError(f"pruning old versions on {self.topic} failed: {exc}") from None
        if old:
            log.info("dropped %d old model versions from %s", len(old), self.topic)
        return old

    # ------------------------------------------------------------------ reads
    def candidates(self) -> list[str]:
        """Versions whose chunks have all arrived, newest first (reads what is new first)."""
        with self._lock:
            self._refresh()
            done = [
                (self._published_at(p), v) for v, p in self._chunks.items() if self._complete(p)
            ]
            return [v for _, v in sorted(done, reverse=True)]

    def load(self, version: str) -> NumpyModel:
        """The model of `version`, verified; ModelCorruptError/ModelNotFoundError if not."""
        manifest, weights = self._bundle(version)
        return model_from_parts(manifest, weights, f"{self.topic}:{version}/{WEIGHTS}")

    def _parts(self, version: str) -> dict[int, _Chunk]:
        with self._lock:
            parts = dict(self._chunks.get(version, {}))
        if not parts or not self._complete(parts):
            raise ModelNotFoundError(f"{version} is not (completely) on {self.topic}")
        return parts

    def _bundle(self, version: str) -> tuple[ModelManifest, bytes]:
        """(manifest, weights.npz bytes) of a version, verified."""
        parts = self._parts(version)
        first = parts[0]
        where = f"{self.topic}:{version}"
        if any((p.sha256, p.size, p.chunks) != (first.sha256, first.size, first.chunks)
               for p in parts.values()):  # fmt: skip
            raise ModelCorruptError(f"{where}: chunks of different bundles")
        bundle = b"".join(parts[i].data for i in range(first.chunks))
        if len(bundle) != first.size or hashlib.sha256(bundle).hexdigest() != first.sha256:
            raise ModelCorruptError(f"{where}: checksum mismatch (bundle damaged)")
        try:
            with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
                manifest_text, weights = zf.read(MANIFEST), zf.read(WEIGHTS)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise ModelCorruptError(f"{where}: unreadable bundle: {exc}") from None
        manifest = parse_manifest(manifest_text, f"{where}/{MANIFEST}")
        if manifest.version != version:
            raise ModelCorruptError(f"{where}: the manifest says version {manifest.version}")
        return manifest, weights

    # ------------------------------------------------------------------ lifecycle
    def versions(self) -> list[str]:
        """Complete versions on the topic, oldest first (by name, as the directory store)."""
        return sorted(self.candidates())

    def manifest(self, version: str) -> ModelManifest:
        self.candidates()  # read what is new first
        return self._bundle(version)[0]

    def champion(self) -> str | None:
        found = self.candidates()
        return found[0] if found else None

    def make_champion(self, version: str) -> None:
        """Re-append the version's chunks: its last chunk is then the newest record, so it
        is every reader's first candidate (the same keys: compaction keeps one copy)."""
        self.candidates()
        parts = self._parts(version)
        try:
            for index in sorted(parts):
                self._log.append(*_chunk_record(version, index, parts[index]))
        except (KafkaToolkitError, KafkaUnavailableError, KafkaException) as exc:
            raise ModelStoreError(f"promoting {version} on {self.topic} failed: {exc}") from None
        self.candidates()

    def record(self, event: LifecycleEvent) -> None:
        try:
            self._audit.ensure_topic(self.timeout_s)
            self._audit.append(event.id.encode(), event.model_dump_json().encode())
        except (KafkaToolkitError, KafkaUnavailableError, KafkaException) as exc:
            raise ModelStoreError(f"recording on {self.lifecycle_topic} failed: {exc}") from None

    def history(self) -> list[LifecycleEvent]:
        """The audit topic's events, oldest first (reads what is new first)."""
        with self._lock:
            self._audit_tail.read_new(self.timeout_s, self._apply_event)
            return list(self._events)

    def _apply_event(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if value is None:
            return
        try:
            self._events.append(parse_event(value, f"{self.lifecycle_topic}@{offset}"))
        except ModelCorruptError as exc:
            self.corrupt_records += 1
            log.error("skipping a record that is no lifecycle event: %s", exc)

    def threshold_override(self, version: str) -> float | None:
        return threshold_overrides(self.history()).get(version)

    @staticmethod
    def _published_at(parts: dict[int, _Chunk]) -> int:
        return max(p.offset for p in parts.values())

    @staticmethod
    def _complete(parts: dict[int, _Chunk]) -> bool:
        return bool(parts) and set(parts) == set(range(next(iter(parts.values())).chunks))

    def _refresh(self) -> None:
        """Read the records written since the last call (all of them the first time)."""
        if not self._tail.read_new(self.timeout_s, self._apply) and not self._missing_logged:
            log.info("no %s topic yet: no model published", self.topic)
            self._missing_logged = True

    def _apply(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if value is None:  # a tombstone removes one chunk (and so its version)
            name = (key or b"").decode("utf-8", "replace")
            version, _, index = name.partition("/")
            if index.isdigit():
                self._chunks.get(version, {}).pop(int(index), None)
            return
        try:
            name, at, chunk = _parse(key, value)
        except (ValueError, UnicodeDecodeError) as exc:
            self.corrupt_records += 1
            log.error("skipping a record of %s that is no model chunk: %s", self.topic, exc)
            return
        self._chunks.setdefault(name, {})[at] = dataclasses.replace(chunk, offset=offset)

    def close(self) -> None:
        with self._lock:
            self._tail.close()
            self._audit_tail.close()
        self._log.stop()
        self._audit.stop()


class _Tail:
    """Partition 0 of a topic read incrementally: each call applies, in order, what was
    written since the last one. The position moves on with each record applied, so a call
    that times out midway loses nothing and applies nothing twice on the next call."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.position = 0
        self._consumer: Consumer | None = None

    def read_new(
        self, timeout_s: float, apply: Callable[[bytes | None, bytes | None, int], None]
    ) -> bool:
        """Apply the records from the position to the topic's end as of now; False while
        the topic does not exist."""
        if self._consumer is None:
            self._consumer = reader_consumer(self.bootstrap, **{"enable.partition.eof": True})
        consumer = self._consumer
        deadline = time.monotonic() + timeout_s
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, 0), timeout=timeout_s
            )
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() in _NO_TOPIC:
                return False
            raise ModelStoreError(f"cannot read {self.topic}: {exc}") from None
        if high <= self.position:
            return True
        # compacted or deleted below us (a fresh reader: from the start)
        self.position = max(self.position, low)
        consumer.assign([TopicPartition(self.topic, 0, self.position)])
        while self.position < high:
            if time.monotonic() > deadline:
                raise ModelStoreError(f"{self.topic} not read to its end in {timeout_s:.0f}s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.position = max(self.position, int(msg.offset() or high))
                    continue
                raise ModelStoreError(f"reading {self.topic}: {err}")
            offset = int(msg.offset() or 0)
            self.position = offset + 1
            apply(msg.key(), msg.value(), offset)
        return True

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
