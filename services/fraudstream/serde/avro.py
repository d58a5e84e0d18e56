"""Confluent wire-format Avro: encode dicts for a subject, decode by the writer's schema id.

Decoding always uses the WRITER schema fetched by the id in the header (through the one
registry client, `serde.registry_client.RegistryClient`, which caches it; parsed once per
id here), so data from ksqlDB, from confluent-kafka's AvroSerializer and from
`AvroEncoder` all decode alike. Encoding registers (or looks up) the schema once and then
writes with fastavro's schemaless writer.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from typing import Any, Protocol

import fastavro
import orjson

from fraudstream.serde.errors import (
    EncodeError,
    PayloadDecodeError,
    RegistryRefusedError,
    SchemaNotFoundError,
    SerdeFailure,
)
from fraudstream.serde.wire import header, split

__all__ = ["AvroDecoder", "AvroEncoder", "SchemaRegistry", "strip_logical_types"]


class SchemaRegistry(Protocol):
    """The calls of `RegistryClient` the codecs use (a test double may stand in)."""

    def register(self, subject: str, schema: dict[str, Any] | list[Any] | str) -> int: ...
    def lookup(self, subject: str, schema: dict[str, Any] | list[Any] | str) -> int: ...
    def schema_text(self, schema_id: int) -> str: ...


class AvroEncoder:
    """Encode dicts for one subject: `encode(record) -> bytes` in Confluent's framing.

    `auto_register=False` only looks the schema up (services should read schemas that the
    owner of the topic registered); `True` registers it (idempotent on the registry).
    """

    def __init__(
        self,
        client: SchemaRegistry,
        subject: str,
        schema: dict[str, Any],
        auto_register: bool = True,
    ) -> None:
        self.client = client
        self.subject = subject
        self.schema = schema
        self.auto_register = auto_register
        self.parsed = fastavro.parse_schema(schema)
        self._header: bytes | None = None
        self._schema_id = 0
        self._lock = threading.Lock()

    @property
    def schema_id(self) -> int:
        """The registry id of the schema (registered or looked up on first use)."""
        if self._header is None:
            with self._lock:
                if self._header is None:
                    self._schema_id = self._resolve_id()
                    self._header = header(self._schema_id)
        return self._schema_id

    def _resolve_id(self) -> int:
        text = orjson.dumps(self.schema).decode()
        try:
            if self.auto_register:
                return self.client.register(self.subject, text)
            return self.client.lookup(self.subject, text)
        except RegistryRefusedError as exc:
            raise EncodeError(f"registry refused the schema for {self.subject}: {exc}") from exc

    def encode(self, record: dict[str, Any]) -> bytes:
        if self._header is None:
            _ = self.schema_id
        assert self._header is not None
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            fastavro.schemaless_writer(buf, self.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"record does not match schema of {self.subject}: {exc}") from exc
        return buf.getvalue()

    def encode_many(self, records: Iterable[dict[str, Any]]) -> list[bytes]:
        return [self.encode(r) for r in records]


def strip_logical_types(node: Any) -> Any:
    """The schema without `logicalType` annotations: values stay raw (ints, bytes)."""
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(v) for v in node]
    return node


class AvroDecoder:
    """Decode Confluent-framed Avro with the writer schema looked up by id (cached).

    `logical_types=True` (default, like confluent-kafka's AvroDeserializer) turns e.g.
    timestamp-millis into `datetime`; `False` keeps the raw int/bytes, which is faster and
    what a hot path that only computes with numbers wants.
    """

    def __init__(self, client: SchemaRegistry, logical_types: bool = True) -> None:
        self.client = client
        self.logical_types = logical_types
        self._schemas: dict[int, Any] = {}
        self._lock = threading.Lock()

    def writer_schema(self, schema_id: int) -> Any:
        """fastavro-parsed writer schema for `schema_id` (fetched once, then cached)."""
        parsed = self._schemas.get(schema_id)
        if parsed is not None:
            return parsed
        text = self.client.schema_text(schema_id)  # SchemaNotFoundError / RegistryUnavailable
        with self._lock:
            try:
                raw = orjson.loads(text)
                if not self.logical_types:
                    raw = strip_logical_types(raw)
                parsed = fastavro.parse_schema(raw)
            except Exception as exc:
                raise SchemaNotFoundError(
                    f"schema id {schema_id} is not a usable Avro schema: {exc}"
                ) from exc
            self._schemas[schema_id] = parsed
            return parsed

    def decode(self, data: bytes) -> dict[str, Any]:
        """One record; PayloadDecodeError / SchemaNotFoundError say why it cannot be read."""
        schema_id, body = split(data)
        writer = self.writer_schema(schema_id)
        return self._read(schema_id, writer, body)

    @staticmethod
    def _read(schema_id: int, writer: Any, body: memoryview) -> dict[str, Any]:
        buf = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(buf, writer, None)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise PayloadDecodeError(
                f"corrupt Avro body for schema id {schema_id}: {type(exc).__name__}: {exc}"
            ) from exc
        if buf.tell() != len(body):
            raise PayloadDecodeError(
                f"corrupt Avro body for schema id {schema_id}: "
                f"{len(body) - buf.tell()} trailing bytes"
            )
        if not isinstance(record, dict):
            raise PayloadDecodeError(f"schema id {schema_id} does not describe a record")
        return record

    def decode_many(self, payloads: Iterable[bytes]) -> list[dict[str, Any] | SerdeFailure]:
        """Decode a batch; each position holds the record or the SerdeFailure for it.

        Schema lookups happen once per id in the batch; a RegistryUnavailableError (not a
        per-record problem) propagates so the caller can retry the whole batch.
        """
        out: list[dict[str, Any] | SerdeFailure] = []
        schemas = self._schemas
        read = self._read
        for data in payloads:
            try:
                schema_id, body = split(data)
                writer = schemas.get(schema_id)
                if writer is None:
                    writer = self.writer_schema(schema_id)
                out.append(read(schema_id, writer, body))
            except SerdeFailure as exc:
                out.append(exc)
        return out
