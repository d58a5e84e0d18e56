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
            self.versions.setdefault(subject, {})[version] = sv
            if sv.id not in self.schemas:
                self.schemas[sv.id] = sv.schema
                self.ids.setdefault(self._canonical(sv.schema), sv.id)
            self.max_id = max(self.max_id, sv.id)

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
