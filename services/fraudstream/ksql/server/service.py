"""The embedded KSQL service: the engine, one runner per persistent query, the command topic.

`KsqlService` runs /ksql requests one statement at a time under a lock (like ksqlDB's single
command runner): each statement is split out once (`sql.statements`), parsed once, run by the
engine (`KsqlEngine.execute_statement`), applied against Kafka (topics, INSERT VALUES
records, runners) and recorded in the command topic before the next one runs; its typed
result is rendered by `server.entities`. `open_push_query` plans a push query for
`server.push`. HTTP lives in `server.app`.

A state-changing statement is first run by the engine in memory (validation and planning),
then written to the command topic, and only then acted on (topics created, queries started
or stopped, topics deleted): a statement the command topic did not take is rolled back in
the engine and leaves nothing behind, and everything acted on replays after a restart.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._metadata import TopicMetadata

from fraudstream.errors import KsqlError
from fraudstream.kafka.admin import create_topics, delete_topics, wait_for_broker
from fraudstream.kafka.clients import producer_config
from fraudstream.kafka.errors import TopicReadError
from fraudstream.kafka.reader import iter_snapshot, open_snapshot, reader_consumer
from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, KsqlEngine, SchemaRegistryLike
from fraudstream.ksql.engine.pull import PullQuery, PullResult
from fraudstream.ksql.engine.results import (
    SourceDescription,
    SourceDescriptionList,
    StatementResult,
)
from fraudstream.ksql.engine.topology import InRecord, OutRecord, PersistentQuery
from fraudstream.ksql.errors import KsqlParseError, statement_text_of
from fraudstream.ksql.server import entities
from fraudstream.ksql.server.commandlog import Command, CommandLog, command_topic_name
from fraudstream.ksql.server.entities import Entity, StatementFailure
from fraudstream.ksql.server.push import PushSession
from fraudstream.ksql.server.runtime import (
    QueryRunner,
    RunnerStats,
    SharedMember,
    SharedQueryRunner,
    encode_log_record,
    query_group_id,
    share_groups,
    shared_group_id,
)
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import parse
from fraudstream.ksql.sql.properties import offset_reset
from fraudstream.ksql.sql.statements import split_statements

__all__ = ["PROCESSING_LOG_STREAM", "KsqlService"]

log = logging.getLogger(__name__)

PROCESSING_LOG_STREAM = "KSQL_PROCESSING_LOG"
# statements that change what the command topic must replay
_COMMANDS = (A.CreateSource, A.CreateAsSelect, A.InsertInto, A.DropSource, A.Terminate)
# statements ksqlDB answers with no entity
_SILENT = (A.DefineVariable, A.SetProperty, A.InsertValues)
PUSH_ENDPOINT_ONLY = (
    "The following statement types should be issued to the websocket endpoint '/query':"
    "\n\t* PRINT\n\t* SELECT"
)


# sources, queries, query states, last command sequence number
_EngineSnapshot = tuple[dict[str, Any], dict[str, Any], dict[str, str], int]


def _literal(props: Mapping[str, A.Literal], name: str) -> Any:
    for key, literal in props.items():
        if key.upper() == name:
            return literal.value
    return None


SHARED_RUNTIMES = "ksql.runtime.feature.shared.enabled"


class KsqlService:
    """Engine + persistent-query runners + command topic + processing log."""

    def __init__(
        self,
        bootstrap: str,
        registry_url: str | None = None,
        *,
        service_id: str = "default_",
        command_topic: str | None = None,
        processing_log_topic: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.service_id = service_id
        self.properties = dict(properties or {})
        self.command_log = CommandLog(bootstrap, command_topic or command_topic_name(service_id))
        self.processing_log_topic = processing_log_topic or f"{service_id}ksql_processing_log"
        self.engine = self._new_engine()
        self.runners: dict[str, QueryRunner | SharedMember] = {}
        # stateless queries reading the same topics share one consumer (by those topics)
        self.shared: dict[frozenset[str], SharedQueryRunner] = {}
        self.admin: AdminClient | None = None
        self._lock = threading.RLock()
        self._log_producer: Producer | None = None
        self._log_lock = threading.Lock()
        self.command_seq = -1
        self.started = False
        self.replay_errors: list[str] = []
        self.bad_commands = 0  # command-topic records skipped at replay (not commands)

    # -- lifecycle ------------------------------------------------------------------------

    def _new_engine(self) -> KsqlEngine:
        registry: SchemaRegistryLike
        if self.registry_url:
            from fraudstream.ksql.server.registry_adapter import RegistryAdapter

            registry = RegistryAdapter(self.registry_url)
        else:
            registry = InMemorySchemaRegistry()
        return KsqlEngine(schema_registry=registry, properties=self.properties)

    def _admin(self) -> AdminClient:
        if self.admin is None:
            raise KsqlError("the KSQL service is not started (no Kafka admin client)")
        return self.admin

    def _topics(self) -> dict[str, TopicMetadata]:
        topics: dict[str, TopicMetadata] = self._admin().list_topics(timeout=15).topics
        return topics

    def start(self, timeout: float = 60.0) -> None:
        """Connect, replay the command topic, restart every persistent query."""
        self.admin = wait_for_broker(self.bootstrap, timeout=timeout)
        self.command_log.ensure_topic(self.admin)
        create_topics(self.admin, [self.processing_log_topic], partitions=1)
        self._log_producer = Producer(producer_config(self.bootstrap, linger_ms=20))
        with self._lock:
            self.engine = self._new_engine()
            self._refresh_topics()
            self._ensure_processing_log_stream()
            commands, bad = self.command_log.read_all_reporting(timeout=timeout)
            for skipped in bad:
                self._report_replay_error(
                    f"malformed command at offset {skipped.offset} skipped: {skipped.reason}",
                    skipped.offset,
                )
            self.bad_commands += len(bad)
            for offset, cmd in commands:
                try:
                    results = self.engine.execute(cmd.statement, cmd.variables or None)
                except KsqlError as exc:  # a command that failed at replay: report, go on
                    self._report_replay_error(f"command {offset} failed at replay: {exc}", offset)
                else:
                    # a server that stopped between recording and acting: act now (idempotent)
                    for result in results:
                        self._create_topics(result)
                self.command_seq = offset
            if commands:
                log.info("replayed %d commands from %s", len(commands), self.command_log.topic)
            self._sync_runners()
        self.started = True

    def _report_replay_error(self, message: str, offset: int) -> None:
        """A command that could not be replayed: logged, kept for /healthcheck-style views
        and written to the processing log, never a reason not to start."""
        self.replay_errors.append(message)
        log.warning(message)
        self.write_processing_log(
            {
                "LOGGER": "commandRunner",
                "LEVEL": "ERROR",
                "TIME": int(time.time() * 1000),
                "MESSAGE": {
                    "TYPE": "COMMAND_REPLAY_ERROR",
                    "ERRORMESSAGE": message,
                    "RECORD": None,
                    "TOPIC": self.command_log.topic,
                    "PARTITION": 0,
                    "OFFSET": offset,
                },
            }
        )

    def stop(self) -> None:
        with self._lock:
            for shared in list(self.shared.values()):
                shared.stop(timeout=15)
            self.shared.clear()
            for runner in list(self.runners.values()):
                runner.stop(timeout=15)
            self.runners.clear()
        self.command_log.close()
        if self._log_producer is not None:
            self._log_producer.flush(10)
            self._log_producer = None
        self.started = False

    def _ensure_processing_log_stream(self) -> None:
        if PROCESSING_LOG_STREAM in self.engine.sources:
            return
        ddl = (
            f"CREATE STREAM {PROCESSING_LOG_STREAM} (LOGGER VARCHAR, LEVEL VARCHAR, "
            "`TIME` BIGINT, MESSAGE STRUCT<`TYPE` VARCHAR, ERRORMESSAGE VARCHAR, "
            "RECORD VARCHAR, `TOPIC` VARCHAR, `PARTITION` INT, `OFFSET` BIGINT>) "
            f"WITH (KAFKA_TOPIC='{self.processing_log_topic}', VALUE_FORMAT='JSON');"
        )
        try:
            self.engine.execute(ddl)
        except KsqlError as exc:
            log.warning(
                "processing-log stream not declared (%s); the topic still gets entries", exc
            )

    def write_processing_log(self, record: dict[str, Any]) -> None:
        """Append one entry to the processing-log topic (called from query threads)."""
        with self._log_lock:
            if self._log_producer is None:
                return
            try:
                self._log_producer.produce(self.processing_log_topic, encode_log_record(record))
            except BufferError:
                self._log_producer.poll(0.1)
                self._log_producer.produce(self.processing_log_topic, encode_log_record(record))
            self._log_producer.poll(0)

    # -- runners --------------------------------------------------------------------------

    def _table_topics(self) -> list[str]:
        return [ds.topic for ds in self.engine.sources.values() if ds.kind == "TABLE"]

    def _ensure_sink_topics(self) -> None:
        existing = self._topics()
        for q in self.engine.queries.values():
            if not q.sink_topic or q.sink_topic in existing:
                continue
            parts = self._partitions_for_sink(q, existing)
            create_topics(self._admin(), [q.sink_topic], partitions=parts)

    def _partitions_for_sink(self, q: PersistentQuery, md: Mapping[str, TopicMetadata]) -> int:
        for ds in self.engine.sources.values():
            if ds.topic == q.sink_topic and ds.partitions:
                return ds.partitions
        for topic in q.source_topics:
            if topic in md and md[topic].partitions:
                return len(md[topic].partitions)
        return 1

    def _sync_runners(self) -> None:
        """Start loops for engine queries without one; stop loops of dropped queries.

        Stateless queries reading the same topics run in one shared runtime (one consumer,
        one decode per record); a runtime whose members change is stopped (it commits every
        member's position) and replaced, and each member resumes at its own position."""
        queries = dict(self.engine.queries)
        tables = self._table_topics()
        # ksqlDB's switch for shared runtimes; off: one consumer per query, as before
        enabled = str(self.properties.get(SHARED_RUNTIMES, "true")).strip().lower() != "false"
        wanted = share_groups(queries, tables) if enabled else {}
        shared_ids = {qid for ids in wanted.values() for qid in ids}
        carried: dict[str, RunnerStats] = {}
        for topics, shared in list(self.shared.items()):
            members = tuple(sorted(m.query_id for m in shared.members))  # run order aside
            if wanted.get(topics) == members:
                continue
            shared.stop(timeout=15)
            del self.shared[topics]
            for m in shared.members:
                self.runners.pop(m.query_id, None)
                carried[m.query_id] = m.stats
        for qid in list(self.runners):
            gone = self.runners[qid]
            if qid in queries and not (qid in shared_ids and isinstance(gone, QueryRunner)):
                continue
            del self.runners[qid]
            gone.stop(timeout=15)  # a clean stop commits: the shared runtime resumes there
            if qid in queries:
                carried[qid] = gone.stats
            elif gone.changelog_topic and self.admin is not None:
                # a terminated query's state is gone with it, as in ksqlDB
                with contextlib.suppress(Exception):
                    delete_topics(self.admin, [gone.changelog_topic])
        if any(qid not in self.runners for qid in queries):
            self._ensure_sink_topics()
        for topics, ids in wanted.items():
            if topics in self.shared:
                continue
            runtime = SharedQueryRunner(
                [queries[qid] for qid in ids],
                bootstrap=self.bootstrap,
                group_id=shared_group_id(self.service_id, topics),
                member_group_ids={qid: query_group_id(self.service_id, qid) for qid in ids},
                processing_log=self.write_processing_log,
                stats=carried,
                shared_prefix=shared_group_id(self.service_id, ()),
            )
            runtime.start()
            self.shared[topics] = runtime
            for member in runtime.members:
                self.runners[member.query_id] = member
        for qid, q in queries.items():
            if qid in self.runners:
                continue
            runner = QueryRunner(
                q,
                bootstrap=self.bootstrap,
                group_id=query_group_id(self.service_id, qid),
                table_topics=tables,
                processing_log=self.write_processing_log,
            )
            if qid in carried:
                runner.stats = carried[qid]
                runner.stats.state = "PENDING"
            runner.start()
            self.runners[qid] = runner

    def runtime_view(self, *, with_topics: bool = True) -> entities.RuntimeView:
        """What the entities need from the running service: runner states and counters,
        and (when asked: DESCRIBE reads partitions and replication) the broker's topics."""
        queries = {
            qid: entities.QueryStats(
                state=r.stats.state,
                consumed=r.stats.consumed,
                produced=r.stats.produced,
                processing_errors=r.stats.processing_errors,
            )
            for qid, r in self.runners.items()
        }
        topics: dict[str, entities.TopicInfo] = {}
        if with_topics and self.admin is not None:
            for name, md in self._topics().items():
                parts = list(md.partitions.values())
                replication = len(parts[0].replicas) if parts and parts[0].replicas else 1
                topics[name] = entities.TopicInfo(len(parts), replication)
        return entities.RuntimeView(queries=queries, topics=topics)

    # -- statements -----------------------------------------------------------------------

    def execute(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[Entity]:
        """Run the statements of one /ksql request; raise StatementFailure at the first error.

        Statements are parsed one at a time (a DEFINE affects the statements after it) and
        each one that changed state is in the command topic before the next one runs.
        """
        session = dict(variables or {})
        overrides = dict(properties or {})
        done: list[Entity] = []
        for piece in split_statements(sql):
            try:
                with self._lock:
                    # each piece parsed on its own: error lines count from the piece's start
                    variables_now = {**self.engine.variables, **session}
                    for stmt in parse(piece.piece(sql), variables_now):
                        entity = self._execute_one(stmt, overrides)
                        if entity is not None:
                            done.append(entity)
            except StatementFailure as exc:
                exc.entities = done
                raise
            except KsqlError as exc:
                failure = StatementFailure(
                    400, 40001, str(exc), statement_text=statement_text_of(exc) or piece.text
                )
                failure.entities = done
                raise failure from None
        return done

    def _refresh_topics(self) -> set[str]:
        """Tell the engine which topics exist (and their partition counts)."""
        md = self._topics()
        self.engine.known_topics.update({t: len(m.partitions) for t, m in md.items()})
        self.engine.topic_exists = lambda topic: topic in md
        return set(md)

    def _execute_one(self, stmt: A.Statement, properties: dict[str, Any]) -> Entity | None:
        if isinstance(stmt, A.QueryStatement):
            raise StatementFailure(400, 40002, PUSH_ENDPOINT_ONLY, statement_text=stmt.text)
        if isinstance(stmt, A.ListStatement) and stmt.what == "TOPICS":
            return self._list_topics(stmt)
        self._refresh_topics()
        if isinstance(stmt, A.CreateSource):
            self._check_source_topic(stmt)
        before_queries = set(self.engine.queries)
        snapshot = self._snapshot() if isinstance(stmt, _COMMANDS) else None
        result = self.engine.execute_statement(stmt, properties or None)
        if snapshot is not None:
            # recorded before acted on: what the command topic did not take never happened
            try:
                self.command_seq = self.command_log.append(
                    Command(statement=stmt.text, properties=properties)
                )
            except KsqlError:
                self._restore(snapshot)
                raise
            log.info("command %d: %s", self.command_seq, " ".join(stmt.text.split())[:120])
        self._apply(result)
        if isinstance(stmt, _COMMANDS):
            self._sync_runners()
            if result.topics_to_delete and self.admin is not None:
                delete_topics(self.admin, result.topics_to_delete)
        if result.outcome is None:
            if isinstance(stmt, _SILENT):
                return None
            # a no-op the engine reports without an outcome (CSAS IF NOT EXISTS, existing)
            new_queries = sorted(set(self.engine.queries) - before_queries)
            return entities.status_entity(
                stmt.text,
                f"{type(stmt).__name__.lower()}/execute",
                result.message or "OK",
                self.command_seq,
                new_queries[0] if new_queries else None,
                with_null_query_id=False,
            )
        described = isinstance(result.outcome, SourceDescription | SourceDescriptionList)
        runtime = self.runtime_view(with_topics=described)
        return entities.render(result, runtime=runtime, seq=self.command_seq)

    def _snapshot(self) -> _EngineSnapshot:
        """What a command statement changes in the engine (sources, queries and their
        states, the command sequence query ids are numbered from), to roll it back."""
        engine = self.engine
        states = {qid: q.state for qid, q in engine._queries.items()}
        return dict(engine._sources), dict(engine._queries), states, engine._last_seq

    def _restore(self, snapshot: _EngineSnapshot) -> None:
        sources, queries, states, last_seq = snapshot
        engine = self.engine
        engine._sources.clear()
        engine._sources.update(sources)
        engine._queries.clear()
        engine._queries.update(queries)
        for qid, state in states.items():
            queries[qid].state = state
        engine._last_seq = last_seq
        engine._command_seq = itertools.count(last_seq + 1)

    def _create_topics(self, result: StatementResult) -> None:
        if self.admin is not None:
            for spec in result.topics_to_create:
                create_topics(
                    self.admin, [spec.name], partitions=spec.partitions, config=spec.config
                )

    def _apply(self, result: StatementResult) -> None:
        """Create the topics a statement needs and write its INSERT VALUES records."""
        self._create_topics(result)
        if result.records:
            self._produce_records(result.records)

    def _list_topics(self, stmt: A.ListStatement) -> Entity:
        """LIST TOPICS asks the broker (ksqlDB does too), hiding internal `_` topics."""
        topics = [
            (name, len(md.partitions))
            for name, md in sorted(self._topics().items())
            if not name.startswith("_")
        ]
        return entities.kafka_topics(stmt.text, topics)

    def _produce_records(self, records: list[OutRecord]) -> None:
        """INSERT ... VALUES: write the engine's records now (not recorded for replay)."""
        producer = Producer(producer_config(self.bootstrap, linger_ms=0))
        for rec in records:
            producer.produce(rec.topic, value=rec.value, key=rec.key, timestamp=rec.timestamp)
        if producer.flush(30) != 0:
            raise KsqlError("INSERT VALUES: the broker did not acknowledge the record")

    def _check_source_topic(self, stmt: A.CreateSource) -> None:
        """ksqlDB's checks of a CREATE STREAM/TABLE's topic against the broker."""
        if stmt.name in self.engine.sources and (stmt.if_not_exists or not stmt.or_replace):
            return  # the engine answers (already exists / no-op)
        topic = str(_literal(stmt.properties, "KAFKA_TOPIC") or "") or stmt.name
        wanted = _literal(stmt.properties, "PARTITIONS")
        md = self._topics()
        kind = stmt.kind.lower()
        if topic not in md:
            if wanted is None:
                raise StatementFailure(
                    400,
                    40001,
                    f"Topic '{topic}' does not exist. If you want to create a new topic "
                    f"for the {kind} please re-run the statement providing the required "
                    "'PARTITIONS' configuration in the WITH clause (and optionally "
                    f"'REPLICAS'). For example: CREATE {stmt.kind} {stmt.name} (ID INT) "
                    f"WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, REPLICAS=1, "
                    "FORMAT='JSON');",
                    statement_text=stmt.text,
                )
            return
        has = len(md[topic].partitions)
        if wanted is not None and int(wanted) != has:
            raise StatementFailure(
                400,
                40001,
                f"A Kafka topic with the name '{topic}' already exists, with different "
                "partition/replica configuration than required. KSQL expects "
                f"{int(wanted)} partitions (topic has {has}), 1 replication factor "
                "(topic has 1).",
                statement_text=stmt.text,
            )

    # -- pull queries ---------------------------------------------------------------------

    def run_pull_query(
        self, stmt: A.QueryStatement, properties: Mapping[str, Any] | None
    ) -> tuple[PullQuery, PullResult]:
        """Answer one pull query: planned under the engine lock, then read from the table's
        materialized store (a snapshot; the query runners keep writing), or for a stream or
        source table from a scan of its topic up to the end offsets of now."""
        try:
            with self._lock:
                pq = self.engine.plan_pull_query(stmt, properties)
            records = None if pq.scan_topic is None else self._scan_topic(pq.scan_topic)
            return pq, pq.execute(records)
        except KsqlError as exc:
            raise StatementFailure(400, 40001, str(exc), statement_text=stmt.text) from None
        except TopicReadError as exc:
            raise StatementFailure(500, 50000, str(exc), statement_text=stmt.text) from None

    def _scan_topic(self, topic: str, timeout: float = 60.0) -> list[InRecord]:
        """Every record of `topic` from its start to its end offsets at the time of the call."""
        consumer = reader_consumer(self.bootstrap)
        try:
            snap = open_snapshot(consumer, topic)
            return [
                InRecord(
                    topic,
                    m.key(),
                    m.value(),
                    m.timestamp()[1],
                    m.partition() or 0,
                    m.offset() or 0,
                    _headers(m.headers()),
                )
                for batch in iter_snapshot(consumer, snap, timeout=timeout)
                for m in batch
            ]
        finally:
            with contextlib.suppress(Exception):
                consumer.close()

    # -- push queries ---------------------------------------------------------------------

    def parse_query(self, sql: str, variables: Mapping[str, str] | None) -> A.QueryStatement:
        """The one SELECT a query endpoint was sent (push or pull), or a StatementFailure."""
        try:
            stmts = parse(sql, dict(variables or {}))
        except KsqlParseError as exc:
            raise StatementFailure(
                400, 40001, str(exc), statement_text=exc.statement_text or sql
            ) from None
        if len(stmts) != 1 or not isinstance(stmts[0], A.QueryStatement):
            raise StatementFailure(
                400,
                40002,
                "Only a single SELECT ... EMIT CHANGES statement can be sent to this endpoint",
                statement_text=sql,
            )
        return stmts[0]

    def open_push_query(
        self,
        sql: str,
        variables: Mapping[str, str] | None,
        properties: Mapping[str, Any] | None,
    ) -> PushSession:
        """Plan one `SELECT ... EMIT CHANGES` and wrap it in a (not yet started) session."""
        stmt = self.parse_query(sql, variables)
        try:
            with self._lock:
                tq = self.engine.plan_push_query(stmt)
                tables = self._table_topics()
        except KsqlError as exc:
            raise StatementFailure(400, 40001, str(exc), statement_text=stmt.text) from None
        return PushSession(
            tq,
            limit=stmt.query.limit,
            bootstrap=self.bootstrap,
            group_id=f"_confluent-ksql-{self.service_id}transient_{uuid.uuid4().hex[:12]}",
            offset_reset=offset_reset(properties),
            table_topics=tables,
        )


def _headers(raw: Any) -> list[tuple[str, bytes | None]]:
    """A consumed record's headers as the engine's records carry them."""
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(str(k), v.encode() if isinstance(v, str) else v) for k, v in items]
