"""Unit-test helpers for the scorer: message stand-ins and an in-memory schema source."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pytest

from fraudstream.producer.synthetic import generate_events
from fraudstream.scorer.errors import RecordError
from fraudstream.scorer.schemas import SchemaSource
from fraudstream.scorer.testing import live_record, publish_pca_model


@dataclass
class Msg:
    """The subset of confluent_kafka.Message the decoder reads."""

    _value: bytes | None
    _offset: int = 0
    _key: bytes | None = b"k"
    _headers: list[tuple[str, bytes]] | None = field(default=None)

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str:
        return "in"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers


class MemorySchemas(SchemaSource):
    """SchemaSource over a dict (the registry HTTP path is covered by integration tests)."""

    def __init__(self, schemas: dict[int, dict[str, Any]]) -> None:
        self.schemas = schemas
        self.lookups = 0

    def get(self, schema_id: int) -> dict[str, Any]:
        self.lookups += 1
        if schema_id not in self.schemas:
            raise RecordError("schema_not_found", f"schema id {schema_id} unknown")
        return self.schemas[schema_id]


def avro(schema: dict[str, Any], rec: dict[str, Any], schema_id: int) -> bytes:
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return buf.getvalue()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return list(generate_events(200, seed=9, unlabelled=0.5, start="2026-01-01T00:00:00Z"))


@pytest.fixture
def live_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [live_record(e) for e in events]


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("models")
    return d, publish_pca_model(d, seed=2)


def numeric(events: list[dict[str, Any]]) -> np.ndarray:
    from fraudstream.scorer.decode import NUMERIC_COLUMNS

    return np.array([[e[c] for c in NUMERIC_COLUMNS] for e in events], dtype=np.float64)
