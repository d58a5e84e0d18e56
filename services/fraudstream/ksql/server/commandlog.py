"""The command topic: every statement that changed the engine's state, in order.

Like ksqlDB's `_confluent-ksql-<service id>_command_topic`: a single-partition topic with
infinite retention. On start the server replays it into a fresh engine (same statements,
same variables, same order, so the same query ids), then restarts each persistent query's
loop, which resumes from its consumer group's committed offsets. Storage is the shared
single-partition log (`fraudstream.kafka.topiclog`); its errors become `KsqlError` here.

A record that is not a command (not JSON, wrong fields: written by a bug or by hand) is
skipped and reported (`read_all` returns it as a `BadCommand`), so one bad record never
stops the server from starting; the commands around it replay.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka.admin import AdminClient
from pydantic import BaseModel, Field, ValidationError

from fraudstream.errors import KsqlError
from fraudstream.kafka.errors import TopicLogError
from fraudstream.kafka.topiclog import FOREVER, TopicLog


class Command(BaseModel):
    """One recorded statement (the value of a command-topic record, JSON)."""

    statement: str
    variables: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)


class BadCommand(BaseModel):
    """A command-topic record that could not be read as a `Command` (skipped at replay)."""

    offset: int
    reason: str


def command_topic_name(service_id: str) -> str:
    return f"_confluent-ksql-{service_id}_command_topic"


class CommandLog:
    """Append and replay commands on a Kafka topic (one partition: a total order)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._log = TopicLog(bootstrap, topic, config=FOREVER)

    def ensure_topic(self, admin: AdminClient) -> None:
        """Create the topic and open the producer now (not at the first statement)."""
        try:
            self._log.ensure_topic(admin=admin)
        except TopicLogError as exc:
            raise KsqlError(f"command topic {self.topic}: {exc}") from exc

    def read_all(self, timeout: float = 30.0) -> list[tuple[int, Command]]:
        """Every command up to the current end of the topic, with its offset (records that
        are not commands are left out: `read_all_reporting` lists them)."""
        commands, _ = self.read_all_reporting(timeout)
        return commands

    def read_all_reporting(
        self, timeout: float = 30.0
    ) -> tuple[list[tuple[int, Command]], list[BadCommand]]:
        """(every command up to the current end of the topic with its offset, the records
        that are not commands)."""
        try:
            entries = self._log.replay(timeout=timeout)
        except TopicLogError as exc:
            raise KsqlError(f"reading command topic {self.topic}: {exc}") from exc
        commands: list[tuple[int, Command]] = []
        bad: list[BadCommand] = []
        for off, _key, value in entries:
            if not value:
                continue
            try:
                commands.append((off, Command.model_validate_json(value)))
            except ValidationError as exc:
                details = exc.errors()
                why = (f"{details[0]['type']}: {details[0]['msg']}" if details else str(exc))[:200]
                bad.append(BadCommand(offset=off, reason=why))
        return commands, bad

    def append(self, command: Command, timeout: float = 30.0) -> int:
        """Write one command and wait for the broker's ack; returns its offset."""
        try:
            return self._log.append(None, command.model_dump_json().encode(), timeout=timeout)
        except TopicLogError as exc:
            raise KsqlError(f"could not write command topic {self.topic}: {exc}") from exc

    def close(self) -> None:
        self._log.stop()


__all__ = ["BadCommand", "Command", "CommandLog", "command_topic_name"]
