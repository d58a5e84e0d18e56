"""Client helpers: a cached confluent-kafka `SchemaRegistryClient` per URL, plus shortcuts.

Everything talks to the registry through confluent-kafka's own client, so the same code
works against the embedded server and against Confluent's registry in docker compose.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from fraudstream.errors import RegistryError


@lru_cache(maxsize=32)
def registry_client(url: str) -> SchemaRegistryClient:
    """One client (with its schema caches) per registry URL, shared process-wide."""
    return SchemaRegistryClient({"url": url})


def _schema_str(schema: dict[str, Any] | list[Any] | str) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema)


def register_schema(
    client: SchemaRegistryClient, subject: str, schema: dict[str, Any] | list[Any] | str
) -> int:
    """Register `schema` (dict or JSON text) under `subject`; return its global id."""
    try:
        return int(client.register_schema(subject, Schema(_schema_str(schema), "AVRO")))
    except SchemaRegistryError as exc:
        raise RegistryError(
            f"registering {subject} failed: {exc.error_message} "
            f"(HTTP {exc.http_status_code}, error_code {exc.error_code})"
        ) from exc


def latest_schema(client: SchemaRegistryClient, subject: str) -> tuple[int, dict[str, Any]]:
    """(id, schema dict) of the latest version of `subject`: how services *read* schemas."""
    try:
        reg = client.get_latest_version(subject)
    except SchemaRegistryError as exc:
        raise RegistryError(
            f"no schema for subject {subject}: {exc.error_message} (error_code {exc.error_code})"
        ) from exc
    if reg.schema_id is None or reg.schema.schema_str is None:
        raise RegistryError(f"registry answered without id/schema for subject {subject}")
    return int(reg.schema_id), json.loads(reg.schema.schema_str)


def value_subject(topic: str) -> str:
    """`<topic>-value`: Confluent's TopicNameStrategy, the names ksqlDB registers."""
    return f"{topic}-value"


def key_subject(topic: str) -> str:
    return f"{topic}-key"
