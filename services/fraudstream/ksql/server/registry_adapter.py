"""The engine's `SchemaRegistryLike` over a Confluent-compatible Schema Registry.

The engine only needs three calls (register, schema by id, latest by subject); this adapter
maps them onto confluent-kafka's `SchemaRegistryClient` (the project's embedded registry and
Confluent's server speak the same REST API) and caches what never changes: a schema id's
text, and the id a (subject, schema) pair was registered under.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from fraudstream.errors import RegistryError


def _client_for(url: str) -> SchemaRegistryClient:
    from fraudstream.registry.client import registry_client

    return registry_client(url)


class RegistryAdapter:
    """SchemaRegistryLike: `register`, `get_schema`, `get_latest` with caching."""

    def __init__(self, url: str | None = None, *, client: Any = None) -> None:
        if client is None and url is None:
            raise ValueError("RegistryAdapter needs a url or a client")
        self._client: Any = client if client is not None else _client_for(str(url))
        self.url = url
        self._by_id: dict[int, str] = {}
        self._registered: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def register(self, subject: str, schema_str: str) -> int:
        key = (subject, schema_str)
        with self._lock:
            cached = self._registered.get(key)
        if cached is not None:
            return cached
        try:
            schema_id = int(self._client.register_schema(subject, Schema(schema_str, "AVRO")))
        except SchemaRegistryError as exc:
            raise RegistryError(f"registering {subject}: {exc}") from exc
        with self._lock:
            self._registered[key] = schema_id
            self._by_id[schema_id] = schema_str
        return schema_id

    def get_schema(self, schema_id: int) -> str:
        with self._lock:
            cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        try:
            text = str(self._client.get_schema(schema_id).schema_str)
        except SchemaRegistryError as exc:
            raise RegistryError(f"schema id {schema_id}: {exc}") from exc
        with self._lock:
            self._by_id[schema_id] = text
        return text

    def get_latest(self, subject: str) -> tuple[int, str] | None:
        try:
            reg = self._client.get_latest_version(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise RegistryError(f"latest schema of {subject}: {exc}") from exc
        schema_id = int(reg.schema_id)
        text = str(reg.schema.schema_str)
        with self._lock:
            self._by_id[schema_id] = text
        return schema_id, text
