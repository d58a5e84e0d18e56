"""Shared fixtures: one real Kafka broker per test session, unique topics per test.

`FRAUDSTREAM_KAFKA_BOOTSTRAP` set: use that cluster. Unset: start the project's own local
broker (deploy/local) on free ports under a temporary directory, once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.kafka.admin import create_topics, delete_topics, wait_for_broker
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE_CSV_DIR = SHARED / "data" / "creditcard"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real, running Kafka broker."""
    configured = os.environ.get("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    if configured:
        wait_for_broker(configured, timeout=30)
        yield configured
        return
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("local-stack"),
        port=free_port(),
        controller_port=free_port(),
        log_level="WARN",
    )
    broker.start(timeout=90)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return wait_for_broker(kafka_bootstrap, timeout=30)


@pytest.fixture
def topic_factory(kafka_admin: AdminClient) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics for one test; deleted afterwards."""
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        create_topics(kafka_admin, [name], partitions=partitions, config=config)
        created.append(name)
        return name

    yield make
    delete_topics(kafka_admin, created)


@pytest.fixture
def unique_id() -> str:
    """A short unique string for group ids, transactional ids and the like."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def schema_registry_url(kafka_bootstrap: str) -> Iterator[str]:
    """URL of the embedded Schema Registry: in-process, on a free port, over the session broker.

    Its storage is a unique `_schemas-<hex>` topic, so sessions never see each other's schemas.
    """
    from fraudstream.registry.server import RegistryServer

    server = RegistryServer(
        kafka_bootstrap, port=free_port(), topic=f"_schemas-{uuid.uuid4().hex[:10]}"
    )
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()
