"""Helpers for tests, benchmarks and demos: a TensorFlow-free model artifact and live events.

`publish_pca_model` writes a real artifact through `fraudstream.model.save_model`: a linear
autoencoder whose weights are the top principal components of standardized synthetic
events (the classic PCA-reconstruction detector), so scores are meaningful without
training. `live_value` encodes an event exactly as KSQL's live stream does (uppercase
fields, masked user, CLASS -1 when unknown) in the Confluent wire format.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from confluent_kafka import Producer
from numpy.typing import NDArray

from fraudstream.events import FEATURE_COLUMNS, NUMERIC_COLUMNS, V_COLUMNS
from fraudstream.kafka import producer_config
from fraudstream.model import (
    LayerSpec,
    ModelManifest,
    NumpyModel,
    Preprocessing,
    make_version,
    save_model,
    write_latest,
)
from fraudstream.scorer.service import Scorer
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.serde import wire
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.errors import SchemaNotFoundError
from fraudstream.serde.registry_client import RegistryClient
from fraudstream.serde.schemas import load_schema, parsed_schema

__all__ = [
    "BackgroundSend",
    "LiveProducer",
    "MemorySchemas",
    "RunningScorer",
    "Weights",
    "avro",
    "decode_all",
    "get_schema",
    "live_record",
    "live_value",
    "make_events",
    "mask_left",
    "numeric",
    "pca_model",
    "publish_pca_model",
    "register",
]

Weights = list[tuple[NDArray[np.float64], NDArray[np.float64]]]


def pca_model(
    x_raw: NDArray[np.float64],
    components: int = 12,
    quantile: float = 0.99,
    hours: bool = False,
    time: NDArray[np.float64] | None = None,
    bias: float = 0.0,
) -> tuple[ModelManifest, Weights]:
    """(manifest, weights) of a PCA linear autoencoder over FEATURE_COLUMNS[, hour_sin/cos].

    `bias` shifts the decoder's output (a different but valid model, for reload tests).
    """
    features = list(FEATURE_COLUMNS)
    sources = list(FEATURE_COLUMNS)
    transforms: list[Any] = ["identity"] * 28 + ["log1p"]
    cols = [x_raw[:, :28], np.log1p(np.maximum(x_raw[:, 28:29], 0.0))]
    if hours:
        if time is None:
            raise ValueError("hours=True needs time")
        ang = 2 * np.pi * (np.mod(time, 86_400.0) / 86_400.0)
        cols += [np.sin(ang)[:, None], np.cos(ang)[:, None]]
        features += ["hour_sin", "hour_cos"]
        sources += ["Time", "Time"]
        transforms += ["hour_sin", "hour_cos"]
    x = np.hstack(cols)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std <= 0] = 1.0
    z = (x - mean) / std
    _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    v = vt[:components].T  # (n_features, k)
    n = len(features)
    weights: Weights = [(v, np.zeros(components)), (v.T.copy(), np.full(n, bias))]
    recon = (z @ v + 0.0) @ v.T + bias
    scores = ((z - recon) ** 2).mean(axis=1)
    threshold = float(np.quantile(scores, quantile))
    layers = [LayerSpec(units=components), LayerSpec(units=n)]
    payload = {"features": features, "threshold": threshold, "bias": bias}
    manifest = ModelManifest(
        version=make_version(weights, payload),
        features=features,
        preprocessing=Preprocessing(
            sources=sources, transforms=transforms, mean=mean.tolist(), std=std.tolist()
        ),
        layers=layers,
        threshold=threshold,
        threshold_strategy="quantile",
        threshold_params={"quantile": quantile},
        lineage={"source": "fraudstream.testing.scorer.pca_model"},
    )
    return manifest, weights


def publish_pca_model(
    model_dir: Path,
    x_raw: NDArray[np.float64] | None = None,
    seed: int = 1,
    publish: bool = True,
    drift: bool = False,
    **kwargs: Any,
) -> str:
    """Save a PCA model into `model_dir` (and point LATEST at it); return its version.

    `drift`: store the drift reference of `x_raw` as the trainer does, so scorers export PSI.
    """
    if x_raw is None:
        from fraudstream.producer.synthetic import generate_arrays

        x_raw, time, _ = generate_arrays(20_000, seed=seed)
        if kwargs.get("hours"):
            kwargs.setdefault("time", time.astype(np.float64))
    manifest, weights = pca_model(x_raw, **kwargs)
    if drift:
        from fraudstream.trainer.reference import drift_reference

        scores = NumpyModel(manifest, weights).score(x_raw)
        ref = drift_reference(x_raw, FEATURE_COLUMNS, scores)
        manifest = manifest.model_copy(update={"drift_reference": ref})
    save_model(model_dir, manifest, weights)
    if publish:
        write_latest(model_dir, manifest.version)
    return manifest.version


def mask_left(value: str, n: int = 2) -> str:
    """KSQL's MASK_LEFT(value, n) (the engine's one implementation)."""
    from fraudstream.ksql.engine.functions import mask_left as engine_mask_left

    return engine_mask_left(value, n)


def live_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """A raw event (contract keys) as KSQL's live stream writes it."""
    rec: dict[str, Any] = {
        "ID": event["Id"],
        "TIMESTAMP": event["Timestamp"],
        "USERID": mask_left(str(event["User"])),
        "TIME": event["Time"],
    }
    for c in V_COLUMNS:
        rec[c] = event[c]
    rec["AMOUNT"] = event["Amount"]
    cls = event.get("Class")
    rec["CLASS"] = -1 if cls is None else cls
    return rec


def live_value(event: Mapping[str, Any], schema_id: int) -> bytes:
    """Confluent wire-format Avro of `live_record(event)` (live.avsc as registered)."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema("live"), live_record(event))
    return wire.frame(schema_id, buf.getvalue())


def register(registry_url: str, subject: str, schema: dict[str, Any]) -> int:
    with RegistryClient(registry_url) as client:
        return client.register(subject, schema)


def get_schema(registry_url: str, schema_id: int) -> Any:
    with RegistryClient(registry_url) as client:
        return fastavro.parse_schema(client.schema(schema_id))


def make_events(n: int, id_offset: int = 0, seed: int = 5) -> list[dict[str, Any]]:
    """n synthetic events stamped now (so latency metrics are meaningful)."""
    from fraudstream.producer.synthetic import generate_events

    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return list(
        generate_events(n, seed=seed, id_offset=id_offset, start=now, unlabelled=0.3, users=50)
    )


@dataclass
class LiveProducer:
    bootstrap: str
    registry_url: str
    topic: str
    schema_id: int = 0
    producer: Producer = field(init=False)

    def __post_init__(self) -> None:
        self.producer = Producer(producer_config(self.bootstrap))
        self.schema_id = register(self.registry_url, f"{self.topic}-value", load_schema("live"))

    def send(self, events: list[dict[str, Any]], rate: float | None = None) -> None:
        start = time.monotonic()
        for i, ev in enumerate(events):
            self.producer.produce(
                self.topic, live_value(ev, self.schema_id), str(ev["User"]).encode()
            )
            if i % 500 == 0:
                self.producer.poll(0)
                if rate:
                    ahead = i / rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
        assert self.producer.flush(30) == 0

    def send_raw(self, values: list[bytes | None], key: bytes = b"k") -> None:
        for v in values:
            self.producer.produce(self.topic, v, key)
        assert self.producer.flush(30) == 0


def decode_all(registry_url: str, msgs: list[Any]) -> list[dict[str, Any]]:
    """Decode Confluent-framed Avro values with their writer schemas from the registry."""
    with RegistryClient(registry_url) as client:
        decoder = AvroDecoder(client)
        return [decoder.decode(m.value()) for m in msgs]


class RunningScorer:
    """A Scorer in a background thread (stopped by the fixture)."""

    def __init__(self, settings: ScorerSettings) -> None:
        self.scorer = Scorer(settings)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.scorer.run(self.stop)
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def start(self) -> RunningScorer:
        self.thread.start()
        return self

    def close(self, timeout: float = 30) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "scorer did not stop"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.scorer.settings.metrics_port}{path}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.error is None, self.error
            if self.scorer.ready()[0]:
                return
            time.sleep(0.1)
        raise AssertionError(f"scorer not ready: {self.scorer.ready()[1]}")


class MemorySchemas:
    """Writer schemas over a dict (the registry HTTP path has its own tests)."""

    def __init__(self, schemas: dict[int, dict[str, Any]]) -> None:
        self.schemas = schemas
        self.lookups = 0

    def schema(self, schema_id: int) -> dict[str, Any]:
        self.lookups += 1
        if schema_id not in self.schemas:
            raise SchemaNotFoundError(f"schema id {schema_id} unknown")
        return self.schemas[schema_id]


def avro(schema: dict[str, Any], rec: dict[str, Any], schema_id: int) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return wire.frame(schema_id, buf.getvalue())


def numeric(events: list[dict[str, Any]]) -> NDArray[np.float64]:
    """The decoded numeric matrix (NUMERIC_COLUMNS order) expected for `events`."""
    return np.array([[e[c] for c in NUMERIC_COLUMNS] for e in events], dtype=np.float64)


class BackgroundSend:
    """Produce events at a steady rate from a thread."""

    def __init__(self, producer: LiveProducer, events: list[dict[str, Any]], rate: float) -> None:
        self.thread = threading.Thread(target=producer.send, args=(events, rate), daemon=True)
        self.thread.start()

    def join(self, timeout: float = 60) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive()
