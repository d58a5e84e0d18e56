"""Registry operations: Confluent's semantics on top of the replayed state and the log.

Reads answer from `RegistryState`; every change takes the single writer lock, writes one
record per change to the `_schemas` log and returns only after the reader applied it.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any

from fraudstream.kafka.errors import TopicLogError
from fraudstream.kafka.topiclog import TopicLog
from fraudstream.registry.avroschema import ParsedAvro, parse_avro
from fraudstream.registry.compat import Level, check_level
from fraudstream.registry.errors import (
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidMode,
    InvalidSchema,
    InvalidVersion,
    OperationNotPermitted,
    SchemaNotFound,
    StoreTimeout,
    SubjectConfigNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from fraudstream.registry.state import (
    MODES,
    WATERMARK_KEY,
    RegistryState,
    SubjectVersion,
    claim_key,
    claim_value,
    config_key,
    config_value,
    mode_key,
    mode_value,
    schema_key,
    schema_value,
    watermark_value,
)

MAX_VERSION = 2**31 - 1
MAX_CLAIMS = 50  # attempts to reserve an id while other servers keep winning


def parse_version(raw: str | int) -> int | None:
    """`latest`/-1 -> None (meaning latest); 1..2^31-1 -> int; anything else -> 42202."""
    text = str(raw).strip()
    if text.lower() == "latest" or text == "-1":
        return None
    try:
        num = int(text)
    except ValueError:
        raise InvalidVersion(raw) from None
    if not 1 <= num <= MAX_VERSION:
        raise InvalidVersion(raw)
    return num


def parse_level(raw: Any) -> Level:
    try:
        return Level(str(raw).upper())
    except ValueError:
        raise InvalidCompatibilityLevel(raw) from None


class Registry:
    """The registry's behaviour; HTTP lives in `fraudstream.registry.app`."""

    def __init__(self, state: RegistryState, log: TopicLog, write_timeout: float = 30.0):
        self.state = state
        self.log = log
        self.write_timeout = write_timeout
        self._write_lock = threading.Lock()
        self._owner = uuid.uuid4().hex  # this server, in its ID_CLAIM records
        self._claims = itertools.count()

    # ---- writes ------------------------------------------------------------------------
    def _append(self, key: bytes, value: bytes | None) -> None:
        try:
            self.log.append(key, value, timeout=self.write_timeout)
        except TopicLogError as exc:  # the toolkit's error, in Confluent's words
            raise StoreTimeout(f"Error while writing to the schemas topic: {exc}") from exc

    @staticmethod
    def _check_type(schema_type: str | None, references: Any) -> None:
        if schema_type not in (None, "", "AVRO"):
            raise InvalidSchema(
                f"Invalid schema: schemaType {schema_type!r} is not supported (only AVRO)"
            )
        if references:
            raise InvalidSchema("Invalid schema: schema references are not supported")

    def register(
        self, subject: str, text: str, schema_type: str | None = None, references: Any = None
    ) -> SubjectVersion:
        """Register `text` under `subject`; the same schema returns the existing id."""
        self.check_writable(subject)
        self._check_type(schema_type, references)
        new = parse_avro(text, new=True)
        for sv in self.state.subject_versions(subject):  # common case: already registered
            if self._same(sv, new):
                return sv
        with self._write_lock:
            for _ in range(MAX_CLAIMS):
                for sv in self.state.subject_versions(subject):  # again: a writer may have won
                    if self._same(sv, new):
                        return sv
                live = self.state.subject_versions(subject)
                level = self.state.level(subject)
                messages = check_level(level, new, [self.state.parsed(sv.id) for sv in live])
                if messages:
                    raise IncompatibleSchema(
                        f"Schema being registered is incompatible with an earlier schema for "
                        f'subject "{subject}", details: [{", ".join(messages)}]'
                    )
                with self.state.lock:
                    schema_id = self.state.ids.get(new.canonical)
                    if schema_id is None:
                        schema_id = self.state.claimed_canonical.get(
                            new.canonical, self.state.max_id + 1
                        )
                    version = self.state.last_version(subject) + 1
                seq = next(self._claims)
                claim = claim_key(self._owner, seq)
                self._append(claim, claim_value(schema_id, subject, version, new.canonical))
                won = self.state.claim_results.get((self._owner, seq), False)
                if won:
                    sv = SubjectVersion(subject, version, schema_id, text)
                    self._append(schema_key(subject, version), schema_value(sv))
                self._append(claim, None)  # released: decided, nothing to keep
                if won:
                    return sv
            raise StoreTimeout(
                f"Could not reserve a schema id for {subject}: other registry servers on the "
                f"same topic won {MAX_CLAIMS} times in a row"
            )

    def _same(self, sv: SubjectVersion, new: ParsedAvro) -> bool:
        return self.state.ids.get(new.canonical) == sv.id

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        self.check_writable(subject)
        with self._write_lock:
            every = self.state.subject_versions(subject, include_deleted=True)
            if not every:
                raise SubjectNotFound(subject)
            live = [sv for sv in every if not sv.deleted]
            if permanent:
                if live:
                    raise SubjectNotSoftDeleted(subject)
                self._append(WATERMARK_KEY, watermark_value(self.state.max_id))
                for sv in every:
                    self._append(schema_key(subject, sv.version), None)
                if subject in self.state.configs:
                    self._append(config_key(subject), None)
                return [sv.version for sv in every]
            if not live:
                raise SubjectSoftDeleted(subject)
            for sv in live:
                gone = SubjectVersion(**{**sv.__dict__, "deleted": True})
                self._append(schema_key(subject, sv.version), schema_value(gone))
            return [sv.version for sv in live]

    def delete_version(self, subject: str, raw_version: str, permanent: bool) -> int:
        self.check_writable(subject)
        with self._write_lock:
            # an explicit number may name a soft-deleted version (40406 / hard delete);
            # "latest" means the latest live one unless deleting permanently
            explicit = parse_version(raw_version) is not None
            sv = self.get_version(subject, raw_version, include_deleted=permanent or explicit)
            if permanent:
                if not sv.deleted:
                    raise VersionNotSoftDeleted(subject, sv.version)
                self._append(WATERMARK_KEY, watermark_value(self.state.max_id))
                self._append(schema_key(subject, sv.version), None)
                return sv.version
            if sv.deleted:
                raise VersionSoftDeleted(subject, sv.version)
            gone = SubjectVersion(**{**sv.__dict__, "deleted": True})
            self._append(schema_key(subject, sv.version), schema_value(gone))
            return sv.version

    def set_level(self, subject: str | None, raw_level: Any) -> Level:
        self.check_writable(subject)
        level = parse_level(raw_level)
        with self._write_lock:
            self._append(config_key(subject), config_value(level))
        return level

    def delete_level(self, subject: str | None) -> Level:
        self.check_writable(subject)
        with self._write_lock:
            if subject is not None and subject not in self.state.configs:
                raise SubjectNotFound(subject)
            previous = self.state.level(subject)
            self._append(config_key(subject), None)
            return previous

    # ---- modes (Confluent's PUT /mode: a registry that refuses writes) ------------------
    def effective_mode(self, subject: str | None) -> str:
        """READONLY_OVERRIDE globally wins over subject modes; else subject, then global."""
        top = self.state.mode(None)
        if top == "READONLY_OVERRIDE" or subject is None:
            return top
        return self.state.mode(subject)

    def check_writable(self, subject: str | None) -> None:
        """OperationNotPermitted (42205) when `subject` (or the registry) is read-only."""
        if self.effective_mode(subject) != "READWRITE":
            raise OperationNotPermitted(subject)

    def set_mode(self, subject: str | None, raw_mode: Any) -> str:
        """Set the global or a subject's mode; mode changes are allowed in any mode."""
        mode = str(raw_mode).strip().upper() if isinstance(raw_mode, str) else ""
        if mode not in MODES:
            raise InvalidMode(raw_mode)
        with self._write_lock:
            self._append(mode_key(subject), mode_value(mode))
        return mode

    def delete_mode(self, subject: str) -> str:
        """Drop a subject's mode (it follows the global one again); returns the old one."""
        with self._write_lock:
            if subject not in self.state.modes:
                raise SubjectNotFound(subject)
            previous = self.state.mode(subject)
            self._append(mode_key(subject), None)
            return previous

    # ---- reads -------------------------------------------------------------------------
    def get_version(
        self, subject: str, raw_version: str | int, include_deleted: bool = False
    ) -> SubjectVersion:
        num = parse_version(raw_version)
        every = self.state.subject_versions(subject, include_deleted=True)
        if not every:
            raise SubjectNotFound(subject)
        visible = every if include_deleted else [sv for sv in every if not sv.deleted]
        if num is None:
            if not visible:
                raise SubjectNotFound(subject)
            return visible[-1]
        for sv in visible:
            if sv.version == num:
                return sv
        raise VersionNotFound(subject, num)

    def versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        vs = self.state.subject_versions(subject, include_deleted=include_deleted)
        if not vs:
            raise SubjectNotFound(subject)
        return [sv.version for sv in vs]

    def lookup(self, subject: str, text: str, include_deleted: bool = False) -> SubjectVersion:
        parsed = parse_avro(text)
        every = self.state.subject_versions(subject, include_deleted=include_deleted)
        if not every:
            raise SubjectNotFound(subject)
        for sv in every:
            if self._same(sv, parsed):
                return sv
        raise SchemaNotFound()

    def schema_by_id(self, schema_id: int) -> str:
        with self.state.lock:
            text = self.state.schemas.get(schema_id)
        if text is None:
            raise SchemaNotFound(f"Schema {schema_id} not found")
        return text

    def usages(self, schema_id: int, include_deleted: bool = False) -> list[SubjectVersion]:
        self.schema_by_id(schema_id)
        with self.state.lock:
            return [
                sv
                for subject in sorted(self.state.versions)
                for sv in self.state.subject_versions(subject, include_deleted)
                if sv.id == schema_id
            ]

    def subject_level(self, subject: str, default_to_global: bool) -> Level:
        if subject in self.state.configs:
            return self.state.configs[subject]
        if default_to_global:
            return self.state.level(None)
        raise SubjectConfigNotFound(subject)

    def test_compatibility(
        self, subject: str, raw_version: str | None, text: str, schema_type: str | None = None
    ) -> list[str]:
        """Messages why `text` is incompatible (empty = compatible) under the subject's level.

        `raw_version` None checks against every live version the level covers.
        """
        self._check_type(schema_type, None)
        new = parse_avro(text, new=True)
        level = self.state.level(subject)
        if raw_version is None:
            live = self.state.subject_versions(subject)
            return check_level(level, new, [self.state.parsed(sv.id) for sv in live])
        target = self.get_version(subject, raw_version)
        return check_level(level, new, [self.state.parsed(target.id)])
