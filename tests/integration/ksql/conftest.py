"""Fixtures for the KSQL integration tests: an in-process KSQL server on the session broker
and registry, unique topic names per test, and helpers to produce and read records."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.local.procs import free_port

ROOT = Path(__file__).resolve().parents[3]
KSQL_DIR = ROOT / "ksql"


@pytest.fixture
def ksql_vars(unique_id: str) -> dict[str, str]:
    """The statements' variables with topic names unique to this test."""
    return {
        "source_topic": f"src-{unique_id}",
        "source_partitions": "2",
        "users_topic": f"users-{unique_id}",
        "users_partitions": "1",
        "training_topic": f"train-{unique_id}",
        "live_topic": f"live-{unique_id}",
        "live_partitions": "2",
        "enriched_topic": f"enriched-{unique_id}",
        "per_user_topic": f"peruser-{unique_id}",
        "per_user_min_v1": "5",
        "labels_topic": f"labels-{unique_id}",
        "labelled_topic": f"labelled-{unique_id}",
    }


@pytest.fixture
def make_server(
    kafka_bootstrap: str, schema_registry_url: str, unique_id: str
) -> Iterator[Callable[..., KsqlServer]]:
    """Start KSQL servers sharing one service id (so a second one replays the first's log)."""
    started: list[KsqlServer] = []

    def make(**kwargs: Any) -> KsqlServer:
        server = KsqlServer(
            kafka_bootstrap,
            schema_registry_url,
            port=free_port(),
            service_id=f"t{unique_id}_",
            **kwargs,
        )
        server.start(timeout=60)
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def produce_json(kafka_bootstrap: str) -> Callable[[str, list[tuple[str | None, Any]]], None]:
    def produce(topic: str, records: list[tuple[str | None, Any]]) -> None:
        p = Producer(producer_config(kafka_bootstrap))
        for key, value in records:
            data = value if isinstance(value, bytes) else orjson.dumps(value)
            p.produce(topic, key=None if key is None else key.encode(), value=data)
        assert p.flush(30) == 0

    return produce


@pytest.fixture
def payments_server(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[..., None],
    unique_id: str,
) -> Callable[[list[float]], tuple[KsqlServer, str]]:
    """make(amounts) -> a server with stream PAYMENTS over a fresh topic holding one JSON
    record per amount (ID i, WHO user<i>, key k<i>), and that topic."""

    def make(amounts: list[float]) -> tuple[KsqlServer, str]:
        server = make_server()
        topic = f"payments-{unique_id}"
        with KsqlClient(server.url) as c:
            c.ksql(
                "CREATE STREAM PAYMENTS (ID BIGINT, WHO VARCHAR, AMOUNT DOUBLE) "
                f"WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', PARTITIONS=1);"
            )
        records = [
            (f"k{i}", {"ID": i, "WHO": f"user{i}", "AMOUNT": a}) for i, a in enumerate(amounts)
        ]
        produce_json(topic, records)
        return server, topic

    return make


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> Callable[..., list[Any]]:
    """Read `expected` messages (or until `timeout` s without reaching it) from a topic."""

    def read(topic: str, expected: int, timeout: float = 60.0, settle: float = 0.0) -> list[Any]:
        c = Consumer(consumer_config(kafka_bootstrap, f"reader-{uuid.uuid4().hex[:8]}"))
        c.subscribe([topic])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and len(out) < expected:
                for m in c.consume(500, 0.5):
                    if m.error() is None:
                        out.append(m)
                    elif m.error().code() != KafkaError._PARTITION_EOF:
                        raise AssertionError(str(m.error()))
            end = time.monotonic() + settle  # catch any extra (duplicate) records
            while time.monotonic() < end:
                out.extend(m for m in c.consume(500, 0.2) if m.error() is None)
        finally:
            c.close()
        return out

    return read


def raw_event(i: int, user: str, *, cls: int | None, v1: float = 0.5) -> dict[str, Any]:
    """A raw source event as the producer writes it (contract keys)."""
    ev: dict[str, Any] = {
        "Id": i,
        "Timestamp": "2013-09-01T00:00:00Z",
        "User": user,
        "Time": i,
    }
    for k in range(1, 29):
        ev[f"V{k}"] = float(k) / 10.0
    ev["V1"] = v1
    ev["Amount"] = 12.5 + i
    ev["Class"] = cls
    return ev


@pytest.fixture
def event_factory() -> Callable[..., dict[str, Any]]:
    return raw_event
