"""What every format shares: the format names, `FormatSpec` (a name plus its options), the
`Serde` pair a format builds, the column checks ksqlDB makes per format, and the Schema
Registry seam (`SchemaRegistryLike`, and an in-memory registry for tests and benchmarks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fraudstream.errors import SerdeError
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = [
    "KNOWN_FORMATS",
    "SUPPORTED_FORMATS",
    "Column",
    "FormatSpec",
    "InMemorySchemaRegistry",
    "SchemaRegistryLike",
    "Serde",
    "Values",
    "check_supported",
]

KNOWN_FORMATS = (
    "JSON",
    "AVRO",
    "DELIMITED",
    "KAFKA",
    "NONE",
    "PROTOBUF",
    "JSON_SR",
    "PROTOBUF_NOSR",
)
SUPPORTED_FORMATS = ("JSON", "AVRO", "DELIMITED", "KAFKA", "NONE")


class SchemaRegistryLike(Protocol):
    """What the engine needs from a Schema Registry (the REST client or the in-memory one)."""

    def register(self, subject: str, schema_str: str) -> int: ...

    def get_schema(self, schema_id: int) -> str: ...

    def get_latest(self, subject: str) -> tuple[int, str] | None: ...


class InMemorySchemaRegistry:
    """A process-local registry: same schema text -> same id; versions per subject."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._subjects: dict[str, list[int]] = {}

    def register(self, subject: str, schema_str: str, schema_id: int | None = None) -> int:
        canon = _canonical(schema_str)
        with self._lock:
            sid = self._ids.get(canon)
            if sid is None:
                sid = schema_id if schema_id is not None else max(self._by_id, default=0) + 1
                self._ids[canon] = sid
                self._by_id[sid] = schema_str
            versions = self._subjects.setdefault(subject, [])
            if not versions or versions[-1] != sid:
                versions.append(sid)
            return sid

    def get_schema(self, schema_id: int) -> str:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SerdeError(f"Schema {schema_id} not found") from None

    def get_latest(self, subject: str) -> tuple[int, str] | None:
        versions = self._subjects.get(subject)
        if not versions:
            return None
        return versions[-1], self._by_id[versions[-1]]

    def subjects(self) -> list[str]:
        return sorted(self._subjects)


def _canonical(schema_str: str) -> str:
    try:
        return json.dumps(json.loads(schema_str), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return schema_str


@dataclass
class FormatSpec:
    """A format name plus its options (WRAP_SINGLE_VALUE, delimiter, schema id/name)."""

    name: str
    wrap_single_value: bool | None = None
    delimiter: str = ","
    schema_id: int | None = None
    schema_full_name: str | None = None
    features: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name


Values = list[Any]


@dataclass
class Serde:
    serialize: Callable[[Sequence[Any]], bytes | None]
    deserialize: Callable[[bytes], Values]
    schema_str: str | None = None


Column = tuple[str, T.SqlType]


def check_supported(fmt: FormatSpec, columns: Sequence[Column], is_key: bool) -> None:
    """Reject column types a format cannot carry, with ksqlDB's messages."""
    n = fmt.name
    if n not in KNOWN_FORMATS:
        raise KsqlStatementError(f"Unknown format: {n}")
    for cname, ctype in columns:
        if is_key and ctype.contains_map():
            raise KsqlStatementError(
                "Map keys, including types that contain maps, are not supported as they may "
                "lead to unexpected behavior due to inconsistent serialization. "
                f"Key column name: `{cname}`. Column type: {ctype}. "
                "See https://github.com/confluentinc/ksql/issues/6621 for more."
            )
    if n in ("KAFKA", "DELIMITED"):
        for cname, ctype in columns:
            if ctype.base in (T.ARRAY, T.MAP, T.STRUCT) or (
                n == "KAFKA" and ctype.base in (T.BOOLEAN, T.DECIMAL, T.DATE, T.TIME, T.TIMESTAMP)
            ):
                if is_key:
                    cols = ", ".join(f"`{c}` {t} KEY" for c, t in columns)
                    col_suffix = f", column: `{cname}`" if n == "DELIMITED" else ""
                    raise KsqlStatementError(
                        f"Key format does not support schema.{chr(10)}format: {n}{chr(10)}"
                        f"schema: Persistence{{columns=[{cols}], features=[]}}{chr(10)}"
                        f"reason: The '{n}' format does not support type '{ctype.base}'{col_suffix}"
                    )
                raise KsqlStatementError(f"The '{n}' format does not support type '{ctype.base}'")
    if n == "KAFKA" and len(columns) > 1:
        if is_key:
            cols = ", ".join(f"`{c}` {t} KEY" for c, t in columns)
            raise KsqlStatementError(
                f"Key format does not support schema.{chr(10)}format: KAFKA{chr(10)}"
                f"schema: Persistence{{columns=[{cols}], features=[]}}{chr(10)}"
                "reason: The 'KAFKA' format only supports a single field. Got: "
                f"[{cols}]"
            )
        raise KsqlStatementError(
            "The 'KAFKA' format only supports a single field. Got: "
            f"[{', '.join(f'`{c}` {t}' for c, t in columns)}]"
        )
    if n in ("JSON", "AVRO"):
        for _cname, ctype in columns:
            if _has_non_string_map_key(ctype):
                raise KsqlStatementError(
                    "JSON only supports MAP types with STRING keys"
                    if n == "JSON"
                    else "Avro only supports MAPs with STRING keys"
                )


def _has_non_string_map_key(t: T.SqlType) -> bool:
    if t.base == T.MAP:
        return (t.key is not None and t.key.base != T.STRING) or (
            t.item is not None and _has_non_string_map_key(t.item)
        )
    if t.base == T.ARRAY and t.item:
        return _has_non_string_map_key(t.item)
    if t.base == T.STRUCT:
        return any(_has_non_string_map_key(ft) for _, ft in t.fields)
    return False
