"""In-memory registry state, rebuilt only by replaying records of the `_schemas` topic.

The topic is the source of truth (like Confluent's KafkaStore): the server never changes
this state directly, it writes a record and waits for its own reader to apply it. Keys and
values are Confluent's JSON shapes, so the topic stays readable by familiar tooling:

    key   {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
    value {"subject":S,"version":V,"id":ID,"schema":TEXT,"deleted":false}   (null = hard delete)
    key   {"keytype":"CONFIG","subject":S|null,"magic":0}
    value {"compatibilityLevel":"BACKWARD"}                                  (null = cleared)
    key   {"keytype":"NOOP","magic":0}                                       (ignored)
    key   {"keytype":"ID_WATERMARK","magic":0}   (ours: survives hard deletes)
    value {"maxId":N}
    key   {"keytype":"ID_CLAIM","owner":O,"seq":N,"magic":0}        (ours: id reservation)
    value {"id":ID,"subject":S,"version":V,"canonical":TEXT}         (null = claim released)

Several servers may write one topic (replicas, a rolling restart). Confluent elects a single
leader that allocates ids; here ids are reserved through the topic itself: before writing a
new version a server appends an ID_CLAIM and reads it back. Every server applies claims in
log order with the same rule, so all agree on the winner: the first claim of an id (unless
for the same schema), of a subject version, or of a schema already holding another id wins;
later ones lose and their server picks again. Only a winner writes its SCHEMA record, so two
schemas never get one id, nor one subject version. A SCHEMA record that contradicts what is
already applied (an id taken by another schema, a version taken by another id: a writer that
does not claim) is skipped and counted in `conflicts`.

A hard delete tombstones the version; once no version refers to an id, the id's schema is
forgotten (40403), but the watermark written first keeps it from ever being handed out
again, before or after a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from fraudstream.registry.avroschema import ParsedAvro, parse_avro
from fraudstream.registry.compat import Level
from fraudstream.registry.errors import InvalidSchema

log = logging.getLogger(__name__)

DEFAULT_LEVEL = Level.BACKWARD


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False
    schema_type: str = "AVRO"

    def to_json(self) -> dict[str, Any]:
        """The REST shape (`schemaType` is omitted for AVRO, as Confluent does)."""
        out: dict[str, Any] = {
            "subject": self.subject,
            "version": self.version,
            "id": self.id,
            "schema": self.schema,
        }
        if self.schema_type != "AVRO":
            out["schemaType"] = self.schema_type
        return out


def schema_key(subject: str, version: int) -> bytes:
    return orjson.dumps({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})


def schema_value(sv: SubjectVersion) -> bytes:
    value: dict[str, Any] = {
        "subject": sv.subject,
        "version": sv.version,
        "id": sv.id,
        "schema": sv.schema,
        "deleted": sv.deleted,
    }
    if sv.schema_type != "AVRO":
        value["schemaType"] = sv.schema_type
    return orjson.dumps(value)


WATERMARK_KEY = orjson.dumps({"keytype": "ID_WATERMARK", "magic": 0})


def watermark_value(max_id: int) -> bytes:
    return orjson.dumps({"maxId": max_id})


def claim_key(owner: str, seq: int) -> bytes:
    return orjson.dumps({"keytype": "ID_CLAIM", "owner": owner, "seq": seq, "magic": 0})


def claim_value(schema_id: int, subject: str, version: int, canonical: str) -> bytes:
    return orjson.dumps(
        {"id": schema_id, "subject": subject, "version": version, "canonical": canonical}
    )


def config_key(subject: str | None) -> bytes:
    return orjson.dumps({"keytype": "CONFIG", "subject": subject, "magic": 0})


def config_value(level: Level) -> bytes:
    return orjson.dumps({"compatibilityLevel": level.value})


MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE")
DEFAULT_MODE = "READWRITE"


def mode_key(subject: str | None) -> bytes:
    return orjson.dumps({"keytype": "MODE", "subject": subject, "magic": 0})


def mode_value(mode: str) -> bytes:
    return orjson.dumps({"mode": mode})


class RegistryState:
    """Subjects, versions, ids and configs as of the last applied topic record."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.versions: dict[str, dict[int, SubjectVersion]] = {}
        self.schemas: dict[int, str] = {}
        self.ids: dict[str, int] = {}
        self.configs: dict[str | None, Level] = {}
        self.modes: dict[str | None, str] = {}
        self.max_id = 0
        self.skipped = 0
        self.conflicts = 0  # SCHEMA records skipped: they contradicted an applied one
        # id reservations not yet fulfilled by their SCHEMA record
        self.claimed_ids: dict[int, str] = {}  # id -> canonical schema
        self.claimed_canonical: dict[str, int] = {}  # canonical schema -> id
        self.claimed_versions: dict[str, dict[int, int]] = {}  # subject -> version -> id
        self.claim_results: dict[tuple[str, int], bool] = {}  # (owner, seq) -> won
        self._parsed: dict[int, ParsedAvro] = {}

    # ---- replay -------------------------------------------------------------------------
    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one topic record; malformed ones are logged and counted, never fatal."""
        try:
            k = orjson.loads(key) if key else None
            v = orjson.loads(value) if value else None
            if not isinstance(k, dict):
                raise ValueError("key is not a JSON object")
            keytype = k.get("keytype")
            if keytype == "SCHEMA":
                self._apply_schema(k, v)
            elif keytype == "CONFIG":
                self._apply_config(k, v)
            elif keytype in ("DELETE_SUBJECT", "CLEAR_SUBJECT"):
                self._apply_subject_delete(str(k["subject"]), keytype, v)
            elif keytype == "ID_CLAIM":
                self._apply_claim(k, v)
            elif keytype == "ID_WATERMARK":
                if not isinstance(v, dict):
                    raise ValueError("watermark value is not a JSON object")
                with self.lock:
                    self.max_id = max(self.max_id, int(v["maxId"]))
            elif keytype == "MODE":
                self._apply_mode(k, v)
            elif keytype in ("NOOP", "CONTEXT"):
                pass
            else:
                raise ValueError(f"unknown keytype {keytype!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self.skipped += 1
            log.warning("skipping malformed _schemas record (key=%r): %s", key, exc)

    def _apply_schema(self, k: dict[str, Any], v: Any) -> None:
        subject, version = str(k["subject"]), int(k["version"])
        with self.lock:
            if v is None:
                gone = self.versions.get(subject, {}).pop(version, None)
                if subject in self.versions and not self.versions[subject]:
                    del self.versions[subject]
                if gone is not None:
                    self._forget_if_unused(gone.id)
                return
            if not isinstance(v, dict):
                raise ValueError("schema value is not a JSON object")
            sv = SubjectVersion(
                subject=subject,
                version=version,
                id=int(v["id"]),
                schema=str(v["schema"]),
                deleted=bool(v.get("deleted", False)),
                schema_type=str(v.get("schemaType") or "AVRO"),
            )
            if self._contradicts(sv):
                self.conflicts += 1
                log.warning(
                    "skipping _schemas record %s v%d id %d: contradicts an applied one",
                    subject, version, sv.id,
                )  # fmt: skip
                return
            self._fulfil(sv)
            self.versions.setdefault(subject, {})[version] = sv
            if sv.id not in self.schemas:
                self.schemas[sv.id] = sv.schema
                self.ids.setdefault(self._canonical(sv.schema), sv.id)
            self.max_id = max(self.max_id, sv.id)

    def _contradicts(self, sv: SubjectVersion) -> bool:
        """First writer wins: an id already holding another schema, or a subject version
        already holding another id, is not overwritten."""
        held = self.versions.get(sv.subject, {}).get(sv.version)
        if held is not None and held.id != sv.id:
            return True
        text = self.schemas.get(sv.id)
        return (
            text is not None
            and text != sv.schema
            and (self._canonical(text) != self._canonical(sv.schema))
        )

    def _fulfil(self, sv: SubjectVersion) -> None:
        """A SCHEMA record ends the reservations it was claimed under."""
        canonical = self.claimed_ids.pop(sv.id, None)
        if canonical is not None and self.claimed_canonical.get(canonical) == sv.id:
            del self.claimed_canonical[canonical]
        claimed = self.claimed_versions.get(sv.subject)
        if claimed is not None:
            claimed.pop(sv.version, None)
            if not claimed:
                del self.claimed_versions[sv.subject]

    def _apply_claim(self, k: dict[str, Any], v: Any) -> None:
        """Decide an ID_CLAIM, identically on every server (log order)."""
        owner, seq = str(k["owner"]), int(k["seq"])
        if v is None:  # released: decided, and its owner has read the decision
            with self.lock:
                self.claim_results.pop((owner, seq), None)
            return
        if not isinstance(v, dict):
            raise ValueError("claim value is not a JSON object")
        schema_id, subject = int(v["id"]), str(v["subject"])
        version, canonical = int(v["version"]), str(v["canonical"])
        with self.lock:
            holder = self.ids.get(canonical, self.claimed_canonical.get(canonical))
            # a schema with an id keeps it; a new id is above every id ever seen or claimed
            won = holder == schema_id if holder is not None else schema_id > self.max_id
            won = won and version > self.last_version(subject)
            if won:
                self.claimed_ids[schema_id] = canonical
                self.claimed_canonical.setdefault(canonical, schema_id)
                self.claimed_versions.setdefault(subject, {})[version] = schema_id
                self.max_id = max(self.max_id, schema_id)
            self.claim_results[(owner, seq)] = won

    def last_version(self, subject: str) -> int:
        """The highest version of `subject` written or claimed (deleted ones count)."""
        with self.lock:
            written = max(self.versions.get(subject, {}), default=0)
            return max(written, max(self.claimed_versions.get(subject, {}), default=0))

    def _forget_if_unused(self, schema_id: int) -> None:
        if any(sv.id == schema_id for vs in self.versions.values() for sv in vs.values()):
            return
        text = self.schemas.pop(schema_id, None)
        self._parsed.pop(schema_id, None)
        if text is not None:
            canonical = self._canonical(text)
            if self.ids.get(canonical) == schema_id:
                del self.ids[canonical]

    def _apply_config(self, k: dict[str, Any], v: Any) -> None:
        subject = k.get("subject")
        with self.lock:
            if v is None:
                self.configs.pop(subject, None)
                return
            level = v.get("compatibilityLevel") or v.get("compatibility")
            self.configs[subject] = Level(str(level).upper())

    def _apply_mode(self, k: dict[str, Any], v: Any) -> None:
        subject = k.get("subject")
        with self.lock:
            if v is None:
                self.modes.pop(subject, None)
                return
            mode = str(v["mode"]).upper()
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}")
            self.modes[subject] = mode

    def _apply_subject_delete(self, subject: str, keytype: str, v: Any) -> None:
        upto = int(v["version"]) if isinstance(v, dict) and "version" in v else 2**31
        with self.lock:
            versions = self.versions.get(subject, {})
            for num, sv in list(versions.items()):
                if num <= upto:
                    if keytype == "CLEAR_SUBJECT":
                        del versions[num]
                    else:
                        versions[num] = SubjectVersion(**{**sv.__dict__, "deleted": True})

    def _canonical(self, text: str) -> str:
        try:
            return parse_avro(text).canonical
        except InvalidSchema:
            return text

    # ---- queries ------------------------------------------------------------------------
    def parsed(self, schema_id: int) -> ParsedAvro:
        with self.lock:
            p = self._parsed.get(schema_id)
            if p is None:
                p = parse_avro(self.schemas[schema_id])
                self._parsed[schema_id] = p
            return p

    def subject_versions(self, subject: str, include_deleted: bool = False) -> list[SubjectVersion]:
        with self.lock:
            vs = self.versions.get(subject, {})
            return [vs[n] for n in sorted(vs) if include_deleted or not vs[n].deleted]

    def subjects(self, include_deleted: bool = False, deleted_only: bool = False) -> list[str]:
        with self.lock:
            out = []
            for name, vs in self.versions.items():
                live = any(not sv.deleted for sv in vs.values())
                if deleted_only:
                    if vs and not live:
                        out.append(name)
                elif live or (include_deleted and vs):
                    out.append(name)
            return sorted(out)

    def level(self, subject: str | None) -> Level:
        with self.lock:
            if subject is not None and subject in self.configs:
                return self.configs[subject]
            return self.configs.get(None, DEFAULT_LEVEL)

    def mode(self, subject: str | None) -> str:
        """The subject's mode, else the global one (READWRITE unless set)."""
        with self.lock:
            if subject is not None and subject in self.modes:
                return self.modes[subject]
            return self.modes.get(None, DEFAULT_MODE)
