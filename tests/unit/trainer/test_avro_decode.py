"""The trainer's snapshot decoder: KSQL records -> a Dataset in RAW_COLUMNS order, rejects
counted by reason, a writer schema without the model's fields refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from fraudstream.serde.schemas import load_schema
from fraudstream.testing.messages import Msg
from fraudstream.testing.scorer import MemorySchemas, avro
from fraudstream.trainer.avro_source import SnapshotDecoder, parse_since
from fraudstream.trainer.data import RAW_COLUMNS
from fraudstream.trainer.errors import InputSchemaError, TrainerError

SCHEMA = load_schema("preprocessed")


def _record(rng: np.random.Generator) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "ID": int(rng.integers(0, 2**62)),
        "TIMESTAMP": "2026-01-01T00:00:00Z",
        "TIME": int(rng.integers(0, 2**31 - 1)),
        "AMOUNT": float(rng.exponential(100)),
        "CLASS": int(rng.choice([0, 1, -1])),
    }
    rec.update({f"V{k}": float(rng.normal(0, 10)) for k in range(1, 29)})
    return rec


def test_snapshot_decoder_builds_raw_columns_and_counts_skips() -> None:
    rng = np.random.default_rng(2)
    recs = [_record(rng) for _ in range(30)]
    recs[3]["V7"] = None
    recs[4]["AMOUNT"] = -5.0
    values = [avro(SCHEMA, r, 1) for r in recs] + [b"garbage"]
    schemas = MemorySchemas({1: SCHEMA})
    dec = SnapshotDecoder(schemas)
    msgs = [Msg(v, i) for i, v in enumerate(values)]
    dec.add(msgs[:10])  # type: ignore[arg-type]
    dec.add(msgs[10:])  # type: ignore[arg-type]
    raw, label = dec.dataset_parts()
    assert dict(dec.skipped) == {"missing_field": 1, "invalid_value": 1, "decode_error": 1}
    kept = [r for i, r in enumerate(recs) if i not in (3, 4)]
    assert raw.shape == (28, len(RAW_COLUMNS))
    for j, name in enumerate(RAW_COLUMNS):
        np.testing.assert_array_equal(raw[:, j], [r[name.upper()] for r in kept])
    assert label.tolist() == [r["CLASS"] for r in kept]
    assert schemas.lookups == 1
    assert list(dec.fingerprints()) == [1] and len(dec.fingerprints()[1]) == 64


def test_writer_schema_without_needed_fields_names_them() -> None:
    schema = {**SCHEMA, "fields": [f for f in SCHEMA["fields"] if f["name"] not in ("V9", "TIME")]}
    dec = SnapshotDecoder(MemorySchemas({1: schema}))
    with pytest.raises(InputSchemaError, match="lacks fields the model needs: Time, V9"):
        dec.add([Msg(b"\x00\x00\x00\x00\x01xyz")])  # type: ignore[list-item]


def test_empty_snapshot() -> None:
    raw, label = SnapshotDecoder(MemorySchemas({})).dataset_parts()
    assert raw.shape == (0, len(RAW_COLUMNS)) and label.shape == (0,)


def test_parse_since() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 1, 2, 0, 0, tzinfo=UTC)
    assert parse_since("1d", now) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2026-01-01T05:00:00Z") == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert parse_since("2026-01-01T05:00:00").tzinfo is UTC
    with pytest.raises(TrainerError, match="not an ISO-8601"):
        parse_since("yesterday")
