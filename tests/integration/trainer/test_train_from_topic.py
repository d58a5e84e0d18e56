"""`fraudstream train` against the real broker and the embedded Schema Registry.

Records are produced the way KSQL writes them (ksqlDB Avro, uppercase optional fields,
Confluent wire format), plus bad records that must be skipped and counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.model import load_model, resolve_latest
from fraudstream.serde.avro import AvroEncoder
from fraudstream.serde.registry_client import RegistryClient
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.datasets import synthetic_dataset
from fraudstream.trainer.avro_source import read_dataset, registry_lookup
from fraudstream.trainer.data import RAW_COLUMNS
from fraudstream.trainer.errors import InputSchemaError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(700)]

V = [f"V{i}" for i in range(1, 29)]


def _records(n: int, seed: int, upper: bool = True) -> list[dict[str, Any]]:
    ds = synthetic_dataset(n, seed=seed, fraud_rate=0.05)
    out = []
    for i, (row, label) in enumerate(zip(ds.raw, ds.label, strict=True)):
        col = dict(zip(RAW_COLUMNS, row.tolist(), strict=True))
        rec: dict[str, Any] = {
            "ID": i,
            "TIMESTAMP": "2026-01-01T00:00:00Z",
            "TIME": int(col["Time"]),
        }
        rec.update({v.upper(): col[v] for v in V})
        rec["AMOUNT"] = col["Amount"]
        rec["CLASS"] = int(label)
        out.append(rec if upper else {k.lower(): v for k, v in rec.items()})
    return out


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer(producer_config(bootstrap))
    for i, v in enumerate(values):
        p.produce(topic, key=str(i).encode(), value=v)
        if i % 5000 == 0:
            p.poll(0)
    assert p.flush(30) == 0


def _env(bootstrap: str, registry: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(FRAUDSTREAM_KAFKA_BOOTSTRAP=bootstrap, FRAUDSTREAM_REGISTRY_URL=registry, **extra)
    return env


@pytest.fixture
def ksql_topic(
    kafka_bootstrap: str, schema_registry_url: str, topic_factory: Callable[..., str]
) -> tuple[str, int]:
    """A 2-partition topic with 1,500 KSQL-style records and 3 bad ones."""
    topic = topic_factory("preproc", partitions=2)
    enc = AvroEncoder(
        RegistryClient(schema_registry_url), f"{topic}-value", load_schema("preprocessed")
    )
    recs = _records(1500, seed=11)
    recs[10]["CLASS"] = -1  # unlabelled: never evaluated
    recs[20]["V3"] = None  # missing value: skipped
    values = [enc.encode(r) for r in recs]
    values.append(b"not avro at all")
    values.append(values[0][:5] + b"\x01")  # truncated body
    _produce(kafka_bootstrap, topic, values)
    return topic, len(values)


def test_train_from_topic_end_to_end(
    ksql_topic: tuple[str, int],
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    tmp_path: Path,
) -> None:
    topic, total = ksql_topic
    models_topic = topic_factory("models")
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "train", "--topic", topic, "--epochs", "3",
         "--model-dir", str(tmp_path / "models"), "--log-dir", str(tmp_path / "runs"),
         "--announce"],
        env=_env(kafka_bootstrap, schema_registry_url, FRAUDSTREAM_TOPIC_MODELS=models_topic,
                 FRAUDSTREAM_TRAINER_CLASSIFIER_EPOCHS="5"),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    version_dir = resolve_latest(tmp_path / "models")
    assert version_dir is not None and version_dir.name in res.stdout
    model = load_model(tmp_path / "models")
    # ~75 labelled frauds in the topic: the hybrid (autoencoder + supervised part) is served
    assert model.is_hybrid and "(hybrid)" in res.stdout
    assert model.raw_inputs == [*V, "Amount"]
    m = model.manifest
    parts = m.lineage["partitions"]
    assert m.lineage["topic"] == topic
    assert sum(p["end"] - p["start"] for p in parts.values()) == total
    assert all(p["read_to"] == p["end"] for p in parts.values())
    assert m.training["skipped"] == {"missing_field": 1, "decode_error": 2}
    assert m.training["rows"] == total - 3
    assert len(m.input_schema_fingerprint) == 64
    assert "skipped 3 rows" in res.stderr
    # the scorer's view: score raw columns and get finite numbers, frauds ranked higher
    ds = synthetic_dataset(1500, seed=11, fraud_rate=0.05)
    scores = model.score(ds.raw[:, [RAW_COLUMNS.index(c) for c in model.raw_inputs]])
    assert np.isfinite(scores).all()
    assert scores[ds.label == 1].mean() > scores[ds.label == 0].mean()

    c = Consumer(consumer_config(kafka_bootstrap, group_id=f"t-{topic}"))
    c.subscribe([models_topic])
    msg = None
    for _ in range(30):
        msg = c.poll(1.0)
        if msg is not None and msg.error() is None:
            break
    c.close()
    assert msg is not None and msg.error() is None
    assert msg.key() == m.version.encode()
    body = json.loads(msg.value())
    assert body["version"] == m.version and body["threshold"] == m.threshold


def test_case_insensitive_fields_max_records_and_since(
    kafka_bootstrap: str, schema_registry_url: str, topic_factory: Callable[..., str]
) -> None:
    """A lower-case writer schema (our own producer, not KSQL) reads the same."""
    topic = topic_factory("lower")
    schema = json.loads(json.dumps(load_schema("preprocessed")))
    for f in schema["fields"]:
        f["name"] = f["name"].lower()
    schema["name"] = "lowercase_record"
    enc = AvroEncoder(RegistryClient(schema_registry_url), f"{topic}-value", schema)
    _produce(kafka_bootstrap, topic, [enc.encode(r) for r in _records(300, 2, upper=False)])
    lookup = registry_lookup(schema_registry_url)
    ds = read_dataset(kafka_bootstrap, topic, lookup)
    assert len(ds) == 300 and not ds.skipped
    expected = synthetic_dataset(300, seed=2, fraud_rate=0.05)
    np.testing.assert_allclose(ds.raw[:, 1:], expected.raw[:, 1:])  # V1..V28, Amount
    assert len(read_dataset(kafka_bootstrap, topic, lookup, max_records=50)) == 50
    from datetime import UTC, datetime, timedelta

    future = datetime.now(UTC) + timedelta(hours=1)
    assert len(read_dataset(kafka_bootstrap, topic, lookup, since=future)) == 0


def test_schema_missing_fields_is_a_clear_error(
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
    tmp_path: Path,
) -> None:
    topic = topic_factory("noamount")
    schema = load_schema("preprocessed")
    schema = {
        **schema,
        "fields": [f for f in schema["fields"] if f["name"] not in ("AMOUNT", "V5")],
    }
    enc = AvroEncoder(RegistryClient(schema_registry_url), f"{topic}-value", schema)
    recs = _records(10, 3)
    for r in recs:
        del r["AMOUNT"], r["V5"]
    _produce(kafka_bootstrap, topic, [enc.encode(r) for r in recs])
    with pytest.raises(InputSchemaError, match="lacks fields the model needs: V5, Amount"):
        read_dataset(kafka_bootstrap, topic, registry_lookup(schema_registry_url))
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "train", "--topic", topic,
         "--model-dir", str(tmp_path / "models"), "--log-dir", str(tmp_path / "runs")],
        env=_env(kafka_bootstrap, schema_registry_url),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1
    assert "V5, Amount" in res.stderr
    assert resolve_latest(tmp_path / "models") is None


def test_missing_topic_is_a_clear_error(kafka_bootstrap: str, schema_registry_url: str) -> None:
    from fraudstream.trainer.errors import TrainerError

    with pytest.raises(TrainerError, match="does not exist"):
        read_dataset(kafka_bootstrap, "no-such-topic-x1", registry_lookup(schema_registry_url))
