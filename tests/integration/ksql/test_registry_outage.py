"""KSQL loses nothing while the Schema Registry is down (issue 21 item 1).

An Avro sink's schema is registered lazily, at the query's first output. With the registry
down, that output used to become a processing-log entry and its offset was committed: a KSQL
restart during a registry outage dropped every event until the registry returned. Now a
registry (or broker) error is retriable: the query pauses on the batch, commits nothing, and
resumes when the registry answers again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.kafka.clients import producer_config
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _registry(bootstrap: str, port: int, topic: str) -> RegistryServer:
    server = RegistryServer(bootstrap, port=port, topic=topic)
    server.start(timeout=60)
    return server


def test_a_ksql_restart_during_a_registry_outage_loses_no_event(
    kafka_bootstrap: str,
    produce_json: Callable[[str, list[tuple[str | None, Any]]], None],
    read_topic: Callable[..., list[Any]],
    unique_id: str,
) -> None:
    src, out = f"ro-src-{unique_id}", f"ro-out-{unique_id}"
    reg_port, reg_topic = free_port(), f"_schemas-{uuid.uuid4().hex[:10]}"
    registry = _registry(kafka_bootstrap, reg_port, reg_topic)
    url = f"http://127.0.0.1:{reg_port}"
    servers: list[KsqlServer] = []

    def ksql() -> KsqlServer:
        server = KsqlServer(kafka_bootstrap, url, port=free_port(), service_id=f"r{unique_id}_")
        server.start(timeout=60)
        servers.append(server)
        return server

    def events(lo: int, hi: int) -> list[tuple[str | None, Any]]:
        return [(f"id{i}", {"amount": float(i)}) for i in range(lo, hi)]

    try:
        first = ksql()
        with KsqlClient(first.url) as client:
            client.ksql(
                f"CREATE STREAM src (id VARCHAR KEY, amount DOUBLE) WITH (kafka_topic='{src}',"
                " value_format='JSON', partitions=2);"
                f"CREATE STREAM outs WITH (kafka_topic='{out}', value_format='AVRO') AS"
                " SELECT id, amount FROM src EMIT CHANGES;"
            )
        (runner,) = first.service.runners.values()
        assert runner.wait_ready(60)

        registry.stop()  # before the first output: its schema is not registered yet
        produce_json(src, events(0, 40))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and runner.stats.consumed < 40:
            time.sleep(0.2)
        assert runner.stats.consumed >= 40
        time.sleep(3.0)  # several commit intervals: nothing may be committed, nothing logged
        assert runner.stats.processing_errors == 0, runner.stats.last_error
        assert runner.stats.state == "RUNNING"

        first.stop()  # restart while the registry is still down
        produce_json(src, events(40, 100))
        second = ksql()
        (runner2,) = second.service.runners.values()
        assert runner2.wait_ready(60)
        time.sleep(3.0)
        assert read_topic(out, 1, timeout=1.0) == []  # paused, nothing produced

        registry = _registry(kafka_bootstrap, reg_port, reg_topic)
        msgs = read_topic(out, 100, timeout=90.0, settle=2.0)
        keys = {m.key().decode() for m in msgs}
        assert keys == {f"id{i}" for i in range(100)}, f"lost {100 - len(keys)}"
        assert runner2.stats.processing_errors == 0, runner2.stats.last_error
    finally:
        for s in servers:
            s.stop()
        registry.stop()


def test_an_avro_table_is_not_skipped_while_the_registry_is_down(
    kafka_bootstrap: str,
    read_topic: Callable[..., list[Any]],
    unique_id: str,
) -> None:
    """A stream-table join whose table is Avro: a server started during a registry outage
    must not read the table as empty (every join would miss); it waits for the registry."""
    src, users, out = f"tj-src-{unique_id}", f"tj-users-{unique_id}", f"tj-out-{unique_id}"
    reg_port, reg_topic = free_port(), f"_schemas-{uuid.uuid4().hex[:10]}"
    registry = _registry(kafka_bootstrap, reg_port, reg_topic)
    url = f"http://127.0.0.1:{reg_port}"
    servers: list[KsqlServer] = []

    def ksql() -> KsqlServer:
        server = KsqlServer(kafka_bootstrap, url, port=free_port(), service_id=f"j{unique_id}_")
        server.start(timeout=60)
        servers.append(server)
        return server

    try:
        first = ksql()
        with KsqlClient(first.url) as client:
            client.ksql(
                f"CREATE TABLE users (id VARCHAR PRIMARY KEY, city VARCHAR) WITH"
                f" (kafka_topic='{users}', value_format='AVRO', partitions=1);"
                f"CREATE STREAM src (id VARCHAR KEY, amount DOUBLE) WITH (kafka_topic='{src}',"
                " value_format='JSON', partitions=1);"
                f"CREATE STREAM joined WITH (kafka_topic='{out}', value_format='JSON') AS"
                " SELECT s.id AS id, s.amount AS amount, u.city AS city FROM src s"
                " LEFT JOIN users u ON s.id = u.id EMIT CHANGES;"
            )
            for i in range(5):
                client.ksql(f"INSERT INTO users (id, city) VALUES ('u{i}', 'city{i}');")
        first.stop()
        registry.stop()

        second = ksql()  # the table's schema is not cached by this server
        producer = Producer(producer_config(kafka_bootstrap))
        for i in range(5):
            producer.produce(src, orjson.dumps({"amount": float(i)}), f"u{i}".encode())
        assert producer.flush(30) == 0
        time.sleep(4.0)
        assert read_topic(out, 1, timeout=1.0) == [], "joined before the table was read"
        registry = _registry(kafka_bootstrap, reg_port, reg_topic)
        msgs = read_topic(out, 5, timeout=60.0, settle=1.0)
        cities = {orjson.loads(m.value())["CITY"] for m in msgs}
        assert cities == {f"city{i}" for i in range(5)}, cities
        assert all(r.stats.state == "RUNNING" for r in second.service.runners.values())
    finally:
        for s in servers:
            s.stop()
        registry.stop()
