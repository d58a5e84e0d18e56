"""The command topic comes first (issue 21 item 6): a statement is in the command topic
before the server acts on it (topics created, queries started, topics deleted), a statement
that could not be recorded leaves nothing behind, and one malformed command record is
skipped and reported instead of stopping the server from starting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from fraudstream.errors import KsqlError
from fraudstream.kafka.clients import producer_config
from fraudstream.ksql.server.commandlog import Command
from fraudstream.ksql.server.entities import StatementFailure
from fraudstream.ksql.server.service import KsqlService

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def services(kafka_bootstrap: str, unique_id: str) -> Iterator[list[KsqlService]]:
    started: list[KsqlService] = []
    yield started
    for s in started:
        s.stop()


def _service(bootstrap: str, unique_id: str, started: list[KsqlService]) -> KsqlService:
    service = KsqlService(bootstrap, None, service_id=f"c{unique_id}_")
    service.start(timeout=60)
    started.append(service)
    return service


def test_a_statement_that_could_not_be_recorded_is_not_acted_on(
    kafka_bootstrap: str,
    unique_id: str,
    services: list[KsqlService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, out = f"cs-{unique_id}", f"co-{unique_id}"
    service = _service(kafka_bootstrap, unique_id, services)
    service.execute(
        f"CREATE STREAM s (id VARCHAR KEY, a DOUBLE) WITH (kafka_topic='{src}',"
        " value_format='JSON', partitions=1);"
    )
    actions: list[str] = []
    real_sync, real_append = service._sync_runners, service.command_log.append

    def sync() -> None:
        actions.append("act")
        real_sync()

    def append(command: Command, timeout: float = 30.0) -> int:
        actions.append("record")
        return real_append(command, timeout)

    monkeypatch.setattr(service, "_sync_runners", sync)
    monkeypatch.setattr(service.command_log, "append", append)
    service.execute(f"CREATE STREAM o WITH (kafka_topic='{out}') AS SELECT * FROM s EMIT CHANGES;")
    assert actions == ["record", "act"], "the command is recorded before the query starts"
    assert len(service.runners) == 1

    def broken(command: Command, timeout: float = 30.0) -> int:
        raise KsqlError("could not write command topic: broker down")

    monkeypatch.setattr(service.command_log, "append", broken)
    other = f"cx-{unique_id}"
    with pytest.raises(StatementFailure, match="broker down"):
        service.execute(
            f"CREATE STREAM x WITH (kafka_topic='{other}', partitions=3) AS SELECT * FROM s"
            " EMIT CHANGES;"
        )
    assert "X" not in service.engine.sources and len(service.engine.queries) == 1
    assert len(service.runners) == 1
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert other not in admin.list_topics(timeout=10).topics
    with pytest.raises(StatementFailure, match="broker down"):
        service.execute("DROP STREAM o DELETE TOPIC;")
    assert "O" in service.engine.sources and out in admin.list_topics(timeout=10).topics
    assert len(service.runners) == 1

    # what was recorded replays: the same sources and the same query id, nothing else
    monkeypatch.undo()
    qids = set(service.engine.queries)
    service.stop()
    again = _service(kafka_bootstrap, unique_id, services)
    assert set(again.engine.queries) == qids
    assert {"S", "O"} <= set(again.engine.sources) and "X" not in again.engine.sources


def test_a_malformed_command_record_is_skipped_and_reported(
    kafka_bootstrap: str, unique_id: str, services: list[KsqlService]
) -> None:
    src = f"cm-{unique_id}"
    first = _service(kafka_bootstrap, unique_id, services)
    first.execute(
        f"CREATE STREAM s (id VARCHAR KEY, a DOUBLE) WITH (kafka_topic='{src}',"
        " value_format='JSON', partitions=1);"
    )
    topic = first.command_log.topic
    first.stop()
    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(topic, b"\xff not a command")
    producer.produce(topic, b'{"statement": 42}')
    producer.produce(
        topic,
        Command(
            statement=f"CREATE STREAM t (id VARCHAR KEY) WITH (kafka_topic='{src}',"
            " value_format='JSON');"
        )
        .model_dump_json()
        .encode(),
    )
    assert producer.flush(30) == 0

    second = _service(kafka_bootstrap, unique_id, services)
    assert {"S", "T"} <= set(second.engine.sources), "commands on both sides still replay"
    assert second.bad_commands == 2
    assert len(second.replay_errors) == 2
    assert all("malformed command" in e for e in second.replay_errors)
