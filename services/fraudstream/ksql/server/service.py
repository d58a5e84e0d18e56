"""The embedded KSQL server: ksqlDB's REST API over the engine, the runtime and the command log.

`KsqlService` holds the state (engine, one `QueryRunner` per persistent query, the command
topic); `build_app` exposes it with starlette (`/info`, `/healthcheck`, `/ksql`, `/query`,
`/query-stream`) using ksqlDB's request and response shapes and error bodies; `KsqlServer`
runs both in-process (uvicorn in a thread: tests) or in the foreground (`fraudstream ksql
serve`). Statements run one at a time under a lock, like ksqlDB's single command runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fraudstream.errors import KsqlError
from fraudstream.httpserver import HttpServer, http_security_settings
from fraudstream.kafka.admin import create_topics, delete_topics, wait_for_broker
from fraudstream.kafka.clients import producer_config
from fraudstream.ksql.engine.engine import split_statements
from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError
from fraudstream.ksql.server.commandlog import Command, CommandLog, command_topic_name
from fraudstream.ksql.server.runtime import (
    PushQueryRunner,
    QueryRunner,
    encode_log_record,
    query_group_id,
)
from fraudstream.ksql.server.security import http_options
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import parse
from fraudstream.servermetrics import with_metrics

log = logging.getLogger(__name__)

VERSION = "0.29.0-fraudstream"
KSQL_V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
PROCESSING_LOG_STREAM = "KSQL_PROCESSING_LOG"


class StatementFailure(KsqlError):
    """A /ksql request failed at one statement: the ksqlDB error body and HTTP status."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("message", "")))
        self.status = status
        self.body = body


def error_body(
    error_code: int,
    message: str,
    *,
    kind: str = "statement_error",
    statement_text: str | None = None,
    entities: list[Any] | None = None,
) -> dict[str, Any]:
    """ksqlDB's KsqlErrorMessage / KsqlStatementErrorMessage JSON."""
    body: dict[str, Any] = {"@type": kind, "error_code": error_code, "message": message}
    if kind == "statement_error":
        body["statementText"] = statement_text or ""
        body["entities"] = entities or []
    body["stackTrace"] = []
    return body


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _literal(props: Mapping[str, Any], name: str) -> Any:
    for k, v in props.items():
        if k.upper() == name:
            return getattr(v, "value", v)
    return None


# -- engine adapters: read DataSource / PersistentQuery attributes defensively ---------------


def source_columns(ds: Any) -> list[tuple[str, str, bool]]:
    """(name, SQL type text, is key) for a DataSource."""
    out: list[tuple[str, str, bool]] = []
    schema = getattr(ds, "schema", None)
    cols = getattr(ds, "columns", None)
    if cols is None and schema is not None:
        cols = getattr(schema, "columns", schema)
    for c in cols or ():
        if isinstance(c, tuple):
            name, typ = c[0], c[1]
            key = bool(c[2]) if len(c) > 2 else False
        else:
            name = getattr(c, "name", "?")
            typ = getattr(c, "type", getattr(c, "sql_type", "?"))
            ns = getattr(c, "namespace", getattr(c, "kind", None))
            key = bool(getattr(c, "key", getattr(c, "is_key", False))) or _str(ns).upper() in (
                "KEY",
                "PRIMARY_KEY",
                "PRIMARY KEY",
            )
        out.append((str(name), str(typ), key))
    return out


def source_kind(ds: Any) -> str:
    return _str(getattr(ds, "kind", "STREAM")).upper() or "STREAM"


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
        self.engine: Any = None
        self.runners: dict[str, QueryRunner] = {}
        self.admin: AdminClient | None = None
        self._lock = threading.RLock()
        self._log_producer: Producer | None = None
        self._log_lock = threading.Lock()
        self.command_seq = -1
        self.started = False
        self.replay_errors: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------

    def _new_engine(self) -> Any:
        from fraudstream.ksql.engine.engine import KsqlEngine

        registry: Any = None
        if self.registry_url:
            from fraudstream.ksql.server.registry_adapter import RegistryAdapter

            registry = RegistryAdapter(self.registry_url)
        else:
            from fraudstream.ksql.engine.engine import InMemorySchemaRegistry

            registry = InMemorySchemaRegistry()
        return KsqlEngine(schema_registry=registry, properties=self.properties)

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
            commands = self.command_log.read_all(timeout=timeout)
            for offset, cmd in commands:
                try:
                    self.engine.execute(cmd.statement, cmd.variables or None)
                except KsqlError as exc:  # a command that failed at replay: report, go on
                    msg = f"command {offset} failed at replay: {exc}"
                    self.replay_errors.append(msg)
                    log.warning(msg)
                self.command_seq = offset
            if commands:
                log.info("replayed %d commands from %s", len(commands), self.command_log.topic)
            self._sync_runners()
        self.started = True

    def stop(self) -> None:
        with self._lock:
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
        return [str(ds.topic) for ds in self.engine.sources.values() if source_kind(ds) == "TABLE"]

    def _ensure_sink_topics(self) -> None:
        assert self.admin is not None
        existing = self.admin.list_topics(timeout=15).topics
        for q in self.engine.queries.values():
            sink = getattr(q, "sink_topic", None)
            if not sink or sink in existing:
                continue
            parts = self._partitions_for_sink(q)
            create_topics(self.admin, [sink], partitions=parts)

    def _partitions_for_sink(self, q: Any) -> int:
        assert self.admin is not None
        for ds in self.engine.sources.values():
            if str(getattr(ds, "topic", "")) == str(q.sink_topic) and getattr(
                ds, "partitions", None
            ):
                return int(ds.partitions)
        md = self.admin.list_topics(timeout=15).topics
        for topic in q.source_topics:
            if topic in md and md[topic].partitions:
                return len(md[topic].partitions)
        return 1

    def _sync_runners(self) -> None:
        """Start a loop for every engine query without one; stop loops of dropped queries."""
        queries = dict(self.engine.queries)
        for qid in list(self.runners):
            if qid not in queries:
                gone = self.runners.pop(qid)
                gone.stop(timeout=15)
                if gone.changelog_topic and self.admin is not None:
                    # a terminated query's state is gone with it, as in ksqlDB
                    with contextlib.suppress(Exception):
                        delete_topics(self.admin, [gone.changelog_topic])
        if any(qid not in self.runners for qid in queries):
            self._ensure_sink_topics()
        tables = self._table_topics()
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
            runner.start()
            self.runners[qid] = runner

    # -- statements -----------------------------------------------------------------------

    def execute(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run the statements of one /ksql request; raise StatementFailure at the first error.

        Statements are parsed one at a time (a DEFINE affects the statements after it) and
        each one that changed state is in the command topic before the next one runs.
        """
        session = dict(variables or {})
        entities: list[dict[str, Any]] = []
        for text in split_statements(sql):
            try:
                with self._lock:
                    stmts = parse(text, {**self.engine.variables, **session})
                    for stmt in stmts:
                        entity = self._execute_one(stmt, dict(properties or {}))
                        if entity:
                            entities.append(entity)
            except StatementFailure as exc:
                exc.body["entities"] = entities
                raise
            except KsqlError as exc:
                raise StatementFailure(
                    400,
                    error_body(
                        40001,
                        str(exc),
                        statement_text=getattr(exc, "statement_text", "") or text,
                        entities=entities,
                    ),
                ) from None
        return entities

    def _refresh_topics(self) -> set[str]:
        """Tell the engine which topics exist (and their partition counts)."""
        assert self.admin is not None
        md = self.admin.list_topics(timeout=15).topics
        self.engine.known_topics.update({t: len(m.partitions) for t, m in md.items()})
        self.engine.topic_exists = lambda topic: topic in md
        return set(md)

    def _execute_one(self, stmt: A.Statement, properties: dict[str, Any]) -> dict[str, Any] | None:
        text = stmt.text
        if isinstance(stmt, A.QueryStatement):
            raise StatementFailure(
                400,
                error_body(
                    40002,
                    "The following statement types should be issued to the websocket "
                    "endpoint '/query':\n\t* PRINT\n\t* SELECT",
                    statement_text=text,
                ),
            )
        if isinstance(stmt, A.ListStatement) and stmt.what.upper() in ("TOPICS", "QUERIES"):
            return self._list_entity(stmt)
        if isinstance(stmt, A.Describe) and stmt.name and stmt.what.upper() == "SOURCE":
            return self._describe_entity(stmt)
        self._refresh_topics()
        if isinstance(stmt, A.CreateSource):
            self._check_source_topic(stmt)
        before_queries = set(self.engine.queries)
        results = self.engine.execute(text, None, properties or None)
        changed = isinstance(
            stmt, A.CreateSource | A.CreateAsSelect | A.InsertInto | A.DropSource | A.Terminate
        )
        for r in results:
            if r.topics_to_create and self.admin is not None:
                for spec in r.topics_to_create:
                    create_topics(
                        self.admin, [spec.name], partitions=spec.partitions, config=spec.config
                    )
            if r.records:
                self._produce_records(r.records)
        if changed:
            self._sync_runners()
            for r in results:
                if r.topics_to_delete and self.admin is not None:
                    delete_topics(self.admin, r.topics_to_delete)
            self.command_seq = self.command_log.append(
                Command(statement=text, properties=properties)
            )
            log.info("command %d: %s", self.command_seq, " ".join(text.split())[:120])
        new_queries = sorted(set(self.engine.queries) - before_queries)
        entity = dict(results[-1].entity) if results and results[-1].entity else None
        if entity is None:
            if isinstance(stmt, A.DefineVariable | A.SetProperty | A.InsertValues):
                return None  # ksqlDB answers these with no entity
            return self._status_entity(stmt, new_queries, results)
        if entity.get("@type") == "currentStatus":
            entity["commandSequenceNumber"] = self.command_seq
        return entity

    def _produce_records(self, records: list[Any]) -> None:
        """INSERT ... VALUES: write the engine's records now (not recorded for replay)."""
        producer = Producer(producer_config(self.bootstrap, linger_ms=0))
        for rec in records:
            producer.produce(rec.topic, value=rec.value, key=rec.key, timestamp=rec.timestamp)
        if producer.flush(30) != 0:
            raise KsqlError("INSERT VALUES: the broker did not acknowledge the record")

    def _check_source_topic(self, stmt: A.CreateSource) -> None:
        assert self.admin is not None
        if stmt.name in self.engine.sources and (stmt.if_not_exists or not stmt.or_replace):
            return  # the engine answers (already exists / no-op)
        topic = _str(_literal(stmt.properties, "KAFKA_TOPIC")) or stmt.name
        wanted = _literal(stmt.properties, "PARTITIONS")
        md = self.admin.list_topics(timeout=15).topics
        kind = stmt.kind.lower()
        if topic not in md:
            if wanted is None:
                raise StatementFailure(
                    400,
                    error_body(
                        40001,
                        f"Topic '{topic}' does not exist. If you want to create a new topic "
                        f"for the {kind} please re-run the statement providing the required "
                        "'PARTITIONS' configuration in the WITH clause (and optionally "
                        f"'REPLICAS'). For example: CREATE {stmt.kind} {stmt.name} (ID INT) "
                        f"WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, REPLICAS=1, "
                        "FORMAT='JSON');",
                        statement_text=stmt.text,
                    ),
                )
            return
        has = len(md[topic].partitions)
        if wanted is not None and int(wanted) != has:
            raise StatementFailure(
                400,
                error_body(
                    40001,
                    f"A Kafka topic with the name '{topic}' already exists, with different "
                    "partition/replica configuration than required. KSQL expects "
                    f"{int(wanted)} partitions (topic has {has}), 1 replication factor "
                    "(topic has 1).",
                    statement_text=stmt.text,
                ),
            )

    # -- entities -------------------------------------------------------------------------

    def _status_entity(
        self, stmt: A.Statement, new_queries: list[str], results: list[Any]
    ) -> dict[str, Any]:
        query_id = new_queries[0] if new_queries else None
        message = results[-1].message if results else ""
        status: dict[str, Any] = {"status": "SUCCESS", "message": message or "OK"}
        if query_id:
            status["queryId"] = query_id
        return {
            "@type": "currentStatus",
            "statementText": stmt.text,
            "commandId": f"{type(stmt).__name__.lower()}/execute",
            "commandStatus": status,
            "commandSequenceNumber": self.command_seq,
            "warnings": [],
        }

    def _query_summary(self, qid: str, q: Any) -> dict[str, Any]:
        runner = self.runners.get(qid)
        state = runner.stats.state if runner else "UNKNOWN"
        sink_topic = getattr(q, "sink_topic", None)
        sinks = [
            name
            for name, ds in self.engine.sources.items()
            if sink_topic and str(getattr(ds, "topic", "")) == str(sink_topic)
        ]
        return {
            "queryString": _str(getattr(q, "statement_text", "")),
            "sinks": sinks,
            "sinkKafkaTopics": [sink_topic] if sink_topic else [],
            "id": qid,
            "statusCount": {state: 1},
            "queryType": "PERSISTENT",
            "state": state,
        }

    def _list_entity(self, stmt: A.ListStatement) -> dict[str, Any]:
        what = stmt.what.upper()
        base: dict[str, Any] = {"statementText": stmt.text, "warnings": []}
        if what in ("STREAMS", "TABLES"):
            kind = what[:-1]
            items = [
                {
                    "type": kind,
                    "name": name,
                    "topic": _str(getattr(ds, "topic", "")),
                    "keyFormat": _str(getattr(ds, "key_format", "KAFKA")),
                    "valueFormat": _str(getattr(ds, "value_format", "JSON")),
                    "isWindowed": bool(getattr(ds, "window", None) or False),
                }
                for name, ds in sorted(self.engine.sources.items())
                if source_kind(ds) == kind
            ]
            return {"@type": what.lower(), what.lower(): items, **base}
        if what == "QUERIES":
            queries = [self._query_summary(qid, q) for qid, q in self.engine.queries.items()]
            return {"@type": "queries", "queries": queries, **base}
        if what == "TOPICS":
            assert self.admin is not None
            md = self.admin.list_topics(timeout=15).topics
            topics = [
                {"name": name, "replicaInfo": [1 for _ in t.partitions]}
                for name, t in sorted(md.items())
                if not name.startswith("_") and not name.startswith("__")
            ]
            return {"@type": "kafka_topics", "topics": topics, **base}
        if what == "PROPERTIES":
            props = [
                {"name": k, "scope": "KSQL", "value": _str(v)}
                for k, v in sorted(self.properties.items())
            ]
            return {
                "@type": "properties",
                "properties": props,
                "overwrittenProperties": [],
                "defaultProperties": [],
                **base,
            }
        return dict(self.engine.execute(stmt.text)[-1].entity)

    def _describe_entity(self, stmt: A.Describe) -> dict[str, Any]:
        name = str(stmt.name)
        ds = self.engine.sources.get(name)
        if ds is None:
            raise StatementFailure(
                400,
                error_body(
                    40001,
                    f"Could not find STREAM/TABLE '{name}' in the Metastore",
                    statement_text=stmt.text,
                ),
            )
        topic = _str(getattr(ds, "topic", ""))
        fields = [
            {
                "name": col,
                "schema": {"type": typ, "fields": None, "memberSchema": None},
                **({"type": "KEY"} if key else {}),
            }
            for col, typ, key in source_columns(ds)
        ]
        read, write, stats = [], [], []
        for qid, q in self.engine.queries.items():
            if topic in list(q.source_topics):
                read.append(self._query_summary(qid, q))
            if str(getattr(q, "sink_topic", "")) == topic:
                write.append(self._query_summary(qid, q))
                runner = self.runners.get(qid)
                if runner:
                    s = runner.stats
                    stats.append(
                        f"{qid}: consumed {s.consumed}, produced {s.produced}, "
                        f"processing errors {s.processing_errors}"
                    )
        partitions = 0
        if self.admin is not None:
            md = self.admin.list_topics(timeout=15).topics
            if topic in md:
                partitions = len(md[topic].partitions)
        desc = {
            "name": name,
            "windowType": None,
            "readQueries": read,
            "writeQueries": write,
            "fields": fields,
            "type": source_kind(ds),
            "timestamp": _str(getattr(ds, "timestamp_column", "")),
            "statistics": "; ".join(stats),
            "errorStats": "",
            "extended": bool(stmt.extended),
            "keyFormat": _str(getattr(ds, "key_format", "KAFKA")),
            "valueFormat": _str(getattr(ds, "value_format", "JSON")),
            "topic": topic,
            "partitions": partitions,
            "replication": 1,
            "statement": _str(getattr(ds, "statement_text", getattr(ds, "statement", ""))),
            "queryOffsetSummaries": [],
            "sourceConstraints": [],
        }
        return {
            "@type": "sourceDescription",
            "statementText": stmt.text,
            "sourceDescription": desc,
            "warnings": [],
        }

    # -- push queries ---------------------------------------------------------------------

    def open_push_query(
        self,
        sql: str,
        variables: Mapping[str, str] | None,
        properties: Mapping[str, Any] | None,
    ) -> PushSession:
        try:
            stmts = parse(sql, dict(variables or {}))
        except KsqlParseError as exc:
            raise StatementFailure(
                400, error_body(40001, str(exc), statement_text=exc.statement_text or sql)
            ) from None
        if len(stmts) != 1 or not isinstance(stmts[0], A.QueryStatement):
            raise StatementFailure(
                400,
                error_body(
                    40002,
                    "Only a single SELECT ... EMIT CHANGES statement can be sent to this endpoint",
                    statement_text=sql,
                ),
            )
        stmt = stmts[0]
        try:
            with self._lock:
                tq = self.engine.transient_query(stmt.text, dict(variables or {}))
                tables = self._table_topics()
        except (KsqlStatementError, KsqlParseError, KsqlError) as exc:
            raise StatementFailure(
                400, error_body(40001, str(exc), statement_text=stmt.text)
            ) from None
        props = dict(properties or {})
        reset = str(
            props.get("auto.offset.reset")
            or props.get("ksql.streams.auto.offset.reset")
            or "latest"
        )
        return PushSession(
            tq,
            limit=stmt.query.limit,
            bootstrap=self.bootstrap,
            group_id=f"_confluent-ksql-{self.service_id}transient_{uuid.uuid4().hex[:12]}",
            offset_reset=reset,
            table_topics=tables,
        )


def _columns_of(tq: Any) -> list[tuple[str, str]]:
    schema = getattr(tq, "schema", None)
    cols = getattr(schema, "columns", schema) if schema is not None else None
    out: list[tuple[str, str]] = []
    for c in cols or ():
        if isinstance(c, tuple):
            out.append((str(c[0]), str(c[1])))
        else:
            out.append((str(getattr(c, "name", "?")), str(getattr(c, "type", "?"))))
    return out


class PushSession:
    """One running push query: a Kafka loop in a thread feeding a bounded row queue."""

    def __init__(
        self,
        tq: Any,
        *,
        limit: int | None,
        bootstrap: str,
        group_id: str,
        offset_reset: str,
        table_topics: list[str],
    ) -> None:
        self.tq = tq
        self.limit = limit
        self.query_id = str(getattr(tq, "id", "") or f"transient_{uuid.uuid4().hex[:8]}")
        self.columns = _columns_of(tq)
        self.rows: queue.Queue[list[Any]] = queue.Queue(maxsize=10_000)
        self.count = 0
        self.runner = PushQueryRunner(
            tq,
            bootstrap=bootstrap,
            group_id=group_id,
            offset_reset=offset_reset,
            table_topics=table_topics,
        )
        self.thread = threading.Thread(
            target=self.runner.run, args=(self._emit,), name=f"push-{self.query_id}", daemon=True
        )
        self.error: str | None = None

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.runner.stop()

    def _row(self, out: Any) -> list[Any]:
        values = getattr(out, "values", None)  # the engine's TransientRow
        if isinstance(values, list):
            return values
        value = orjson.loads(out.value) if out.value else {}
        if isinstance(value, dict):
            upper = {str(k).upper(): v for k, v in value.items()}
            return [upper.get(name.upper()) for name, _ in self.columns]
        return [value]

    def _emit(self, out: Any) -> bool:
        try:
            row = self._row(out)
        except Exception as exc:  # an undecodable row ends nothing; it is skipped and logged
            log.warning("push query %s: row skipped (%s)", self.query_id, exc)
            return True
        while not self.runner.stopped:
            try:
                self.rows.put(row, timeout=0.2)
                break
            except queue.Full:
                continue
        self.count += 1
        return self.limit is None or self.count < self.limit

    async def iter_rows(self) -> AsyncIterator[list[Any] | None]:
        """Rows as they come; None when the query ended (limit reached or stopped)."""
        try:
            while True:
                try:
                    yield self.rows.get_nowait()
                    continue
                except queue.Empty:
                    pass
                if not self.thread.is_alive():
                    while not self.rows.empty():
                        yield self.rows.get_nowait()
                    yield None
                    return
                await asyncio.sleep(0.02)
        finally:
            self.close()


# -- HTTP ----------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=KSQL_V1)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        # up to the 1 MiB limit: parsed off the event loop, which keeps streaming push queries
        data = await asyncio.to_thread(orjson.loads, raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise StatementFailure(
            400, error_body(40000, f"Invalid JSON in request: {exc}", kind="generic_error")
        ) from None
    if not isinstance(data, dict):
        raise StatementFailure(
            400, error_body(40000, "Request body must be a JSON object", kind="generic_error")
        )
    return data


def build_app(service: KsqlService) -> Starlette:
    """The starlette app with ksqlDB's REST endpoints."""

    async def info(_request: Request) -> Response:
        return _json(
            {
                "KsqlServerInfo": {
                    "version": VERSION,
                    "kafkaClusterId": "embedded",
                    "ksqlServiceId": service.service_id,
                    "serverStatus": "RUNNING" if service.started else "STARTING",
                }
            }
        )

    async def healthcheck(_request: Request) -> Response:
        # ksqlDB's HealthCheckAgent sets isHealthy = every detail healthy, and its
        # HealthCheckResource answers EndpointResponse.ok(...): 200 with isHealthy false in
        # the body when a check fails (not 503). A failed persistent query shows up here as
        # commandRunner unhealthy. 503 only while the server has not started.
        runners_ok = all(r.stats.state != "ERROR" for r in service.runners.values())
        started = service.started
        details = {
            "metastore": {"isHealthy": started},
            "kafka": {"isHealthy": started},
            "commandRunner": {"isHealthy": started and runners_ok},
        }
        body = {
            "isHealthy": all(d["isHealthy"] for d in details.values()),
            "details": details,
            "ksqlServiceId": service.service_id,
        }
        return _json(body, 200 if started else 503)

    def run_ksql(data: dict[str, Any]) -> Response:
        sql = data.get("ksql")
        if not isinstance(sql, str) or not sql.strip():
            raise StatementFailure(
                400, error_body(40000, "Request is missing the 'ksql' field", kind="generic_error")
            )
        entities = service.execute(sql, data.get("sessionVariables"), data.get("streamsProperties"))
        return _json(entities)

    async def ksql(request: Request) -> Response:
        try:
            data = await _body(request)
            return await asyncio.to_thread(run_ksql, data)
        except StatementFailure as exc:
            return _json(exc.body, exc.status)
        except Exception as exc:  # the server answers, it never dies with a request
            log.exception("/ksql failed")
            return _json(error_body(50000, str(exc), kind="generic_error"), 500)

    async def _open(request: Request, sql_field: str, props_field: str) -> PushSession:
        data = await _body(request)
        sql = data.get(sql_field)
        if not isinstance(sql, str) or not sql.strip():
            raise StatementFailure(
                400,
                error_body(
                    40000, f"Request is missing the '{sql_field}' field", kind="generic_error"
                ),
            )
        session = await asyncio.to_thread(
            service.open_push_query, sql, data.get("sessionVariables"), data.get(props_field)
        )
        session.start()
        return session

    async def query(request: Request) -> Response:
        try:
            session = await _open(request, "ksql", "streamsProperties")
        except StatementFailure as exc:
            return _json(exc.body, exc.status)
        except Exception as exc:
            log.exception("/query failed")
            return _json(error_body(50000, str(exc), kind="generic_error"), 500)
        schema = ", ".join(f"`{n}` {t}" for n, t in session.columns)

        async def body() -> AsyncIterator[bytes]:
            yield b"[" + orjson.dumps({"header": {"queryId": session.query_id, "schema": schema}})
            async for row in session.iter_rows():
                if row is None:
                    if session.limit is not None and session.count >= session.limit:
                        yield b",\n" + orjson.dumps({"finalMessage": "Limit Reached"})
                    break
                yield b",\n" + orjson.dumps({"row": {"columns": row}})
            yield b"]\n"

        return StreamingResponse(body(), media_type=KSQL_V1)

    async def query_stream(request: Request) -> Response:
        try:
            session = await _open(request, "sql", "properties")
        except StatementFailure as exc:
            return JSONResponse(exc.body, exc.status)
        except Exception as exc:
            log.exception("/query-stream failed")
            return JSONResponse(error_body(50000, str(exc), kind="generic_error"), 500)
        header = {
            "queryId": session.query_id,
            "columnNames": [n for n, _ in session.columns],
            "columnTypes": [t for _, t in session.columns],
        }
        delimited = DELIMITED in request.headers.get("accept", "")

        async def body() -> AsyncIterator[bytes]:
            if delimited:
                yield orjson.dumps(header) + b"\n"
                async for row in session.iter_rows():
                    if row is None:
                        break
                    yield orjson.dumps(row) + b"\n"
                return
            yield b"[" + orjson.dumps(header)
            async for row in session.iter_rows():
                if row is None:
                    break
                yield b",\n" + orjson.dumps(row)
            yield b"]\n"

        media = DELIMITED if delimited else "application/json"
        return StreamingResponse(body(), media_type=media)

    async def not_found(request: Request, _exc: Exception) -> Response:
        return _json(error_body(40400, f"Not found: {request.url.path}", kind="generic_error"), 404)

    return Starlette(
        routes=[
            Route("/info", info, methods=["GET"]),
            Route("/healthcheck", healthcheck, methods=["GET"]),
            Route("/ksql", ksql, methods=["POST"]),
            Route("/query", query, methods=["POST"]),
            Route("/query-stream", query_stream, methods=["POST"]),
        ],
        exception_handlers={404: not_found},
    )


class KsqlServer:
    """The embedded server in one object: `.start()` (background thread), `.stop()`, `.url`."""

    def __init__(
        self,
        bootstrap: str,
        registry_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8088,
        *,
        service_id: str = "default_",
        command_topic: str | None = None,
        processing_log_topic: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = http_security_settings()  # FRAUDSTREAM_HTTP_*, docs/security.md
        self.service = KsqlService(
            bootstrap,
            registry_url,
            service_id=service_id,
            command_topic=command_topic,
            processing_log_topic=processing_log_topic,
            properties=properties,
        )
        self._http: HttpServer | None = None

    @property
    def url(self) -> str:
        return f"{self.security.scheme}://{self.host}:{self.port}"

    def _server(self) -> HttpServer:
        return HttpServer(
            with_metrics(build_app(self.service), "ksql"),
            self.host,
            self.port,
            name="ksql-http",
            error=KsqlError,
            **http_options(self.security),
            graceful_timeout=2,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Replay the command topic, restart queries, then serve in a thread."""
        deadline = time.monotonic() + timeout
        self.service.start(timeout=timeout)
        self._http = self._server()
        try:
            self._http.start(timeout=max(deadline - time.monotonic(), 1.0))
        except KsqlError:
            self.stop()
            raise

    def serve_forever(self, timeout: float = 60.0) -> None:
        """Foreground mode for the CLI: serve until SIGINT/SIGTERM, then stop the queries."""
        self.service.start(timeout=timeout)
        log.info("KSQL server listening on %s", self.url)
        try:
            self._server().run()
        finally:
            self.service.stop()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None
        with contextlib.suppress(Exception):
            self.service.stop()

    def __enter__(self) -> KsqlServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
