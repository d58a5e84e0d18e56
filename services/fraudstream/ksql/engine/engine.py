"""The embedded KSQL engine: a metastore of streams/tables plus persistent queries.

`KsqlEngine.execute(sql)` parses and runs statements (DDL, CSAS/CTAS, INSERT, DROP,
TERMINATE, LIST/SHOW, DESCRIBE, DEFINE/UNDEFINE, SET/UNSET) and returns one
`StatementResult` per statement, carrying a typed outcome (`engine.results`; the server
renders it as ksqlDB's REST entity) plus whatever the caller must do against Kafka (topics
to create, records to produce, queries to start/stop).
The engine itself never touches Kafka: record processing happens in `query.process()`
(see `fraudstream.ksql.engine.topology`), which the Kafka runtime or the conformance runner drives.
"""

from __future__ import annotations

import copy
import itertools
import random
import string
from collections.abc import Callable, Mapping
from typing import Any

from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.ddl import (
    build_source,
    check_replace,
    check_serdes,
    check_sink_schema_id,
    check_wrap_single_value,
    resolve_formats,
)
from fraudstream.ksql.engine.explain import ExplainResult, explain
from fraudstream.ksql.engine.formats import (
    SUPPORTED_FORMATS,
    InMemorySchemaRegistry,
    SchemaRegistryLike,
)
from fraudstream.ksql.engine.formats.timestamps import timestamp_extractor
from fraudstream.ksql.engine.metastore import Metastore
from fraudstream.ksql.engine.planner import Planner
from fraudstream.ksql.engine.pull import PullQuery, plan_pull
from fraudstream.ksql.engine.results import (
    CommandStatus,
    FunctionList,
    PropertyList,
    SourceDescription,
    StatementResult,
    TopicSpec,
    VariableList,
    WarningMessage,
)
from fraudstream.ksql.engine.topology import (
    Column,
    DataSource,
    InRecord,
    OutRecord,
    PersistentQuery,
    ProcessingLogEntry,
    TransientQuery,
    TransientRow,
)
from fraudstream.ksql.engine.values import unknown_target, values_record
from fraudstream.ksql.errors import (
    KsqlError,
    KsqlStatementError,
    KsqlUnsupportedError,
    bind_statement,
)
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import parse
from fraudstream.ksql.sql.properties import (
    CREATE_AS_PROPERTIES,
    CREATE_PROPERTIES,
    DEFAULT_PROPERTIES,
    INSERT_PROPERTIES,
    check_full_name,
    column_name,
    parse_delimiter,
    with_properties,
)
from fraudstream.ksql.sql.statements import split_statements

__all__ = [
    "Column",
    "DataSource",
    "InMemorySchemaRegistry",
    "InRecord",
    "KsqlEngine",
    "OutRecord",
    "PersistentQuery",
    "ProcessingLogEntry",
    "PullQuery",
    "SchemaRegistryLike",
    "StatementResult",
    "TopicSpec",
    "TransientQuery",
    "TransientRow",
]


class KsqlEngine:
    """Statement execution over a `Metastore`. Thread-compatible, not thread-safe: callers
    serialise `execute` (ksqlDB does the same through its command topic)."""

    def __init__(
        self,
        *,
        schema_registry: SchemaRegistryLike | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema_registry: SchemaRegistryLike | None = schema_registry
        self.properties: dict[str, Any] = dict(DEFAULT_PROPERTIES)
        if properties:
            self.properties.update(properties)
        self.variables: dict[str, str] = {}
        self.metastore = Metastore()
        # the metastore's own dicts, under the names the planner and runtimes use
        self._sources = self.metastore.sources
        self._queries = self.metastore.queries
        self.known_topics = self.metastore.known_topics
        self._command_seq = itertools.count(0)
        self._last_seq = -1
        # optional hook: does a topic exist on the broker? (None: assume yes)
        self.topic_exists: Callable[[str], bool] | None = None
        self.on_error: Callable[[ProcessingLogEntry], None] | None = None

    # ------------------------------------------------------------------ public API
    @property
    def sources(self) -> Mapping[str, DataSource]:
        return dict(self._sources)

    @property
    def queries(self) -> Mapping[str, PersistentQuery]:
        return dict(self._queries)

    def parse(self, sql: str, variables: Mapping[str, str] | None = None) -> list[A.Statement]:
        merged = {**self.variables, **(variables or {})}
        return parse(sql, merged)

    def execute(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[StatementResult]:
        """Parse and run statements in order. On error raises KsqlParseError /
        KsqlStatementError naming the failing statement (`statement_text`); the failing
        statement leaves the state unchanged, the ones before it stay applied."""
        results: list[StatementResult] = []
        # statements are parsed one at a time so DEFINE affects later statements
        for piece in split_statements(sql):
            merged = {**self.variables, **(variables or {})}
            # line numbers stay relative to the whole text (ksqlDB reports them that way)
            for stmt in parse(piece.parser_input(sql), merged):
                results.append(self.execute_statement(stmt, properties))
        return results

    def execute_statement(
        self, stmt: A.Statement, properties: Mapping[str, Any] | None = None
    ) -> StatementResult:
        """Run one parsed statement (the server parses each statement once, then calls this)."""
        try:
            return self._execute_one(stmt, properties or {})
        except KsqlError as exc:
            bind_statement(exc, stmt.text)
            raise
        except Exception as exc:  # an engine bug must surface as a statement error
            raise KsqlStatementError(f"{type(exc).__name__}: {exc}", stmt.text) from exc

    def transient_query(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> TransientQuery:
        """Plan a push query (`SELECT ... EMIT CHANGES [LIMIT n]`) from its text."""
        return self.plan_push_query(self._one_select(sql, variables), properties)

    def _one_select(self, sql: str, variables: Mapping[str, str] | None) -> A.QueryStatement:
        """The one SELECT statement `sql` must be (push and pull queries from their text)."""
        stmts = self.parse(sql, variables)
        if len(stmts) != 1 or not isinstance(stmts[0], A.QueryStatement):
            raise KsqlStatementError("Expected exactly one SELECT statement", sql)
        return stmts[0]

    def plan_push_query(
        self, stmt: A.QueryStatement, properties: Mapping[str, Any] | None = None
    ) -> TransientQuery:
        """Plan a parsed push query."""
        q = stmt.query
        if q.limit is not None and q.limit < 0:
            kind = "Pull" if q.emit is None else "Push"
            raise KsqlStatementError(
                f"{kind} queries don't support negative integers in the LIMIT clause. See "
                "https://cnfl.io/queries for more info.",
                stmt.text,
            )
        if q.emit is None:
            raise KsqlUnsupportedError(
                messages.not_supported(
                    "pull queries (SELECT without EMIT CHANGES); add EMIT CHANGES for a push query"
                ),
                stmt.text,
            )
        props = {**self.properties, **(properties or {})}
        if self._is_scalable_push(q, props):
            raise KsqlUnsupportedError(
                messages.not_supported(
                    "scalable push queries (ksql.query.push.v2.enabled=true over a "
                    "persistent query's output with auto.offset.reset=latest)"
                ),
                stmt.text,
            )
        qid = "transient_" + q.source.name + "_" + "".join(random.choices(string.digits, k=19))
        planner = Planner(
            sources=self._sources,
            registry=self.schema_registry,
            properties={**self.properties, **(properties or {})},
            query_id=qid,
            statement_text=stmt.text,
            sink_name=None,
            sink_topic=None,
            sink_kind=None,
            sink_props={},
        )
        try:
            planned = planner.plan(q, transient=True)
        except KsqlError as exc:
            bind_statement(exc, stmt.text, replace=True)
            raise
        tq = planned.query
        assert isinstance(tq, TransientQuery)
        return tq

    def pull_query(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> PullQuery:
        """Plan a pull query (`SELECT ... [WHERE ...] [LIMIT n]`, no EMIT) from its text."""
        return self.plan_pull_query(self._one_select(sql, variables), properties)

    def plan_pull_query(
        self, stmt: A.QueryStatement, properties: Mapping[str, Any] | None = None
    ) -> PullQuery:
        """Plan a parsed pull query against the tables' current state (see `engine.pull`)."""
        try:
            return plan_pull(
                stmt,
                sources=self._sources,
                queries=self._queries,
                registry=self.schema_registry,
                properties={**self.properties, **(properties or {})},
            )
        except KsqlError as exc:
            bind_statement(exc, stmt.text, replace=True)
            raise

    def _is_scalable_push(self, q: A.Query, props: Mapping[str, Any]) -> bool:
        """Would ksqlDB run this push query as a scalable push query (v2)? It does when
        `ksql.query.push.v2.enabled` is on, the query reads `latest` from the output of a
        persistent query and neither joins, groups, windows nor repartitions."""
        if str(props.get("ksql.query.push.v2.enabled", "false")).lower() != "true":
            return False
        if str(props.get("auto.offset.reset", "latest")).lower() != "latest":
            return False
        if q.joins or q.group_by or q.window or q.partition_by:
            return False
        return any(
            isinstance(pq, PersistentQuery) and pq.sink_name == q.source.name
            for pq in self._queries.values()
        )

    def explain(
        self, stmt: A.Explain, properties: Mapping[str, Any] | None = None
    ) -> ExplainResult:
        """EXPLAIN <query id>: the running query's plan; EXPLAIN <SELECT>: the plan the
        query would run (planned as a push query, nothing started)."""
        props = {**self.properties, **(properties or {})}
        return explain(stmt, self._queries, self._sources, self.schema_registry, props)

    # ------------------------------------------------------------------ dispatch
    def _execute_one(self, stmt: A.Statement, overrides: Mapping[str, Any]) -> StatementResult:
        if isinstance(stmt, A.CreateSource):
            return self._create_source(stmt, overrides)
        if isinstance(stmt, A.CreateAsSelect):
            return self._create_as_select(stmt, overrides)
        if isinstance(stmt, A.InsertInto):
            return self._insert_into(stmt, overrides)
        if isinstance(stmt, A.InsertValues):
            return self._insert_values(stmt)
        if isinstance(stmt, A.DropSource):
            return self._drop(stmt)
        if isinstance(stmt, A.Terminate):
            return self._terminate(stmt)
        if isinstance(stmt, A.ListStatement):
            return self._list(stmt, overrides)
        if isinstance(stmt, A.Describe):
            return self._describe(stmt)
        if isinstance(stmt, A.DefineVariable):
            return self._define(stmt)
        if isinstance(stmt, A.SetProperty):
            return self._set(stmt)
        if isinstance(stmt, A.QueryStatement):
            raise KsqlStatementError(
                "The following statement types should be issued to the websocket endpoint '/query':"
                "\n\t* PRINT\n\t* SELECT",
                stmt.text,
            )
        if isinstance(stmt, A.AlterSource):
            return self._alter(stmt)
        if isinstance(stmt, A.Unsupported):
            raise KsqlUnsupportedError(
                f"{stmt.construct} is not supported by the embedded engine", stmt.text
            )
        if isinstance(stmt, A.Explain):
            result = self.explain(stmt, overrides)
            return StatementResult(
                stmt.text, "queryDescription", message=result.execution_plan, outcome=result
            )
        raise KsqlUnsupportedError(f"Unsupported statement: {type(stmt).__name__}", stmt.text)

    def _next_seq(self) -> int:
        self._last_seq = next(self._command_seq)
        return self._last_seq

    def _status(
        self,
        command_id: str,
        message: str,
        query_id: str | None = None,
        seq: int | None = None,
    ) -> CommandStatus:
        return CommandStatus(command_id, message, query_id, self._last_seq if seq is None else seq)

    # ------------------------------------------------------------------ CREATE STREAM/TABLE
    def _create_source(self, stmt: A.CreateSource, overrides: Mapping[str, Any]) -> StatementResult:
        p = with_properties(stmt.properties, CREATE_PROPERTIES)
        kind = stmt.kind
        name = stmt.name
        existing = self._sources.get(name)
        if stmt.or_replace and (stmt.is_source or (existing is not None and existing.is_source)):
            raise KsqlStatementError(
                f"Cannot add {kind.lower()} '{name}': CREATE OR REPLACE is not supported on "
                f"source {kind.lower()}s.",
                stmt.text,
            )
        if existing is not None and not stmt.or_replace:
            message = (
                f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} "
                "with the same name already exists"
            )
            if stmt.if_not_exists:
                status = self._status("", message)
                return StatementResult(stmt.text, "currentStatus", "Already exists", status)
            raise KsqlStatementError(message, stmt.text)
        topic = p.get("KAFKA_TOPIC")
        if topic is None:
            raise KsqlStatementError(
                'Missing required property "KAFKA_TOPIC" which has no default value.'
            )
        topic = str(topic)
        src = build_source(
            stmt,
            p,
            topic=topic,
            known_partitions=self.known_topics.get(topic, 1),
            properties=self.properties,
            registry=self.schema_registry,
        )
        if src.timestamp_column:
            timestamp_extractor(src, src.timestamp_column, src.timestamp_format)
        check_serdes(src, self.schema_registry)
        if existing is not None and stmt.or_replace:
            check_replace(existing, src)
        topics = self._source_topics(stmt, src, "PARTITIONS" in p)
        # commit
        seq = self._next_seq()
        self._sources[name] = src
        self.known_topics.setdefault(topic, src.partitions)
        word = "Stream" if kind == "STREAM" else "Table"
        msg = f"{word} created" if existing is None else f"{word} replaced"
        return StatementResult(
            stmt.text,
            "currentStatus",
            msg,
            self._status(f"{kind.lower()}/`{name}`/create", msg, seq=seq),
            source=src,
            topics_to_create=topics,
        )

    def _source_topics(
        self, stmt: A.CreateSource, src: DataSource, declared: bool
    ) -> list[TopicSpec]:
        """The topic to create: declared PARTITIONS, or refused when it does not exist."""
        exists = self.topic_exists(src.topic) if self.topic_exists else True
        if not declared and exists:
            return []
        if not declared:
            raise KsqlStatementError(
                f"Topic '{src.topic}' does not exist. If you want to create a new topic for the "
                f"{src.kind.lower()} please re-run the statement providing the required "
                "'PARTITIONS' "
                "configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                f"CREATE {src.kind} {stmt.name} (...) WITH (KAFKA_TOPIC='{src.topic}', "
                "PARTITIONS=2, REPLICAS=1, "
                "...);"
            )
        return [TopicSpec(src.topic, src.partitions, src.replicas)]

    # ------------------------------------------------------------------ CSAS / CTAS / INSERT
    def _sink_topic(self, name: str, p: Mapping[str, Any]) -> str:
        if p.get("KAFKA_TOPIC"):
            return str(p["KAFKA_TOPIC"])
        return f"{self.properties.get('ksql.output.topic.name.prefix') or ''}{name}"

    def _create_as_select(
        self, stmt: A.CreateAsSelect, overrides: Mapping[str, Any]
    ) -> StatementResult:
        if stmt.query.limit is not None:
            raise KsqlStatementError(
                f"CREATE {stmt.kind} AS SELECT statements don't support LIMIT clause.", stmt.text
            )
        p = with_properties(stmt.properties, CREATE_AS_PROPERTIES)
        name = stmt.name
        existing = self._sources.get(name)
        if existing is not None and not stmt.or_replace:
            if stmt.if_not_exists:
                return StatementResult(stmt.text, "currentStatus", "Already exists")
            raise KsqlStatementError(
                f"Cannot add {stmt.kind.lower()} '{name}': A {existing.kind.lower()} "
                "with the same name already exists",
                stmt.text,
            )
        if "FORMAT" in p and ("KEY_FORMAT" in p or "VALUE_FORMAT" in p):
            resolve_formats(p, self.properties, True)
        for fk in ("KEY_FORMAT", "VALUE_FORMAT", "FORMAT"):
            if fk in p:
                n = str(p[fk]).upper()
                if n in ("PROTOBUF", "JSON_SR", "PROTOBUF_NOSR"):
                    raise KsqlUnsupportedError(
                        f"The '{n}' format is not supported by the embedded engine"
                    )
                if n not in SUPPORTED_FORMATS:
                    raise KsqlStatementError(f"Unknown format: {n}")
                p[fk] = n
        if "VALUE_AVRO_SCHEMA_FULL_NAME" in p:
            src_vf = self._sources.get(stmt.query.source.name)
            fmt_name = str(
                p.get("VALUE_FORMAT")
                or p.get("FORMAT")
                or (src_vf.value_format.name if src_vf else "AVRO")
            ).upper()
            check_full_name(str(p["VALUE_AVRO_SCHEMA_FULL_NAME"]), fmt_name)
        if "VALUE_DELIMITER" in p:
            vf = p.get("VALUE_FORMAT") or p.get("FORMAT")
            if vf and vf != "DELIMITED":
                raise KsqlStatementError(
                    f"{vf} does not support the following configs: [delimiter]"
                )
            p["VALUE_DELIMITER"] = parse_delimiter(str(p["VALUE_DELIMITER"]), "VALUE_DELIMITER")
        topic = self._sink_topic(name, p)
        kind_prefix = "CSAS" if stmt.kind == "STREAM" else "CTAS"
        seq = self._last_seq + 1
        qid = f"{kind_prefix}_{name}_{seq}"
        planner = Planner(
            sources=self._sources,
            registry=self.schema_registry,
            properties={**self.properties, **overrides},
            query_id=qid,
            statement_text=stmt.text,
            sink_name=name,
            sink_topic=topic,
            sink_kind=stmt.kind,
            sink_props=p,
        )
        planned = planner.plan(stmt.query, transient=False)
        if planned.kind != stmt.kind:
            if stmt.kind == "STREAM":
                raise KsqlStatementError(
                    "Invalid result type. Your SELECT query produces a TABLE. Please "
                    "use CREATE TABLE AS SELECT statement instead."
                )
            raise KsqlStatementError(
                "Invalid result type. Your SELECT query produces a STREAM. Please use "
                "CREATE STREAM AS SELECT statement instead."
            )
        if existing is not None and stmt.or_replace:
            check_replace(
                existing,
                DataSource(name, stmt.kind, [], topic, planned.key_format, planned.value_format),
            )
            old_q = [
                q for q in self._queries.values() if q.sink_name == name and q.kind == "PERSISTENT"
            ]
            qid = old_q[0].id if old_q else qid
            planned.query.id = qid
        check_wrap_single_value(p, planned.value_columns)
        if planned.value_format.name == "AVRO" and "VALUE_SCHEMA_ID" in p:
            check_sink_schema_id(
                self.schema_registry, int(p["VALUE_SCHEMA_ID"]), planned.value_columns
            )
        sink = DataSource(
            name=name,
            kind=stmt.kind,
            columns=planned.key_columns + planned.value_columns,
            topic=topic,
            key_format=planned.key_format,
            value_format=planned.value_format,
            partitions=planned.partitions,
            replicas=int(p.get("REPLICAS", 1)),
            timestamp_column=column_name(p.get("TIMESTAMP")),
            timestamp_format=p.get("TIMESTAMP_FORMAT"),
            window=planned.window,
            statement_text=stmt.text,
        )
        query = planned.query
        assert isinstance(query, PersistentQuery)
        if self.on_error is not None:
            query.on_error = self.on_error
        self._next_seq()
        self._sources[name] = sink
        self.known_topics.setdefault(topic, sink.partitions)
        if existing is not None and stmt.or_replace and qid in self._queries:
            del self._queries[qid]
        self._queries[qid] = query
        msg = f"Created query with ID {qid}"
        return StatementResult(
            stmt.text,
            "currentStatus",
            msg,
            self._status(f"{stmt.kind.lower()}/`{name}`/create", msg, qid),
            query=query,
            source=sink,
            topics_to_create=[TopicSpec(topic, sink.partitions, sink.replicas)],
        )

    def _insert_into(self, stmt: A.InsertInto, overrides: Mapping[str, Any]) -> StatementResult:
        p = with_properties(stmt.properties, INSERT_PROPERTIES)
        target = self._sources.get(stmt.target)
        if target is None:
            where = stmt.target.where if isinstance(stmt.target, A.Name) else ""
            raise KsqlStatementError(f"{where}Source `{stmt.target}` does not exist.")
        if target.kind != "STREAM":
            raise KsqlStatementError(
                f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
            )
        if target.is_source:
            raise KsqlStatementError(f"Cannot insert into read-only stream: {target.name}")
        seq = self._last_seq + 1
        qid = str(p["QUERY_ID"]).upper() if "QUERY_ID" in p else f"INSERTQUERY_{seq}"
        planner = Planner(
            sources=self._sources,
            registry=self.schema_registry,
            properties={**self.properties, **overrides},
            query_id=qid,
            statement_text=stmt.text,
            sink_name=target.name,
            sink_topic=target.topic,
            sink_kind="STREAM",
            sink_props={},
            existing_sink=target,
        )
        planned = planner.plan(stmt.query, transient=False)
        if planned.kind != "STREAM":
            raise KsqlStatementError(
                f"Incompatible data sink and query result. Data sink ({target.name}) "
                "type is STREAM but select query result is TABLE."
            )
        query = planned.query
        assert isinstance(query, PersistentQuery)
        query.kind = "INSERT"
        if self.on_error is not None:
            query.on_error = self.on_error
        self._next_seq()
        self._queries[qid] = query
        msg = f"Created query with ID {qid}"
        return StatementResult(
            stmt.text,
            "currentStatus",
            msg,
            self._status(f"stream/`{target.name}`/create", msg, qid),
            query=query,
            source=target,
        )

    def _insert_values(self, stmt: A.InsertValues) -> StatementResult:
        target = self._sources.get(stmt.target)
        if target is None:
            raise unknown_target(stmt.target, self._sources)
        if target.is_source:
            raise KsqlStatementError(
                f"Cannot insert values into read-only {target.kind.lower()}: {target.name}"
            )
        rec = values_record(stmt, target, self.schema_registry)
        return StatementResult(stmt.text, "insertValues", "", source=target, records=[rec])

    def _alter(self, stmt: A.AlterSource) -> StatementResult:
        """ALTER STREAM/TABLE ... ADD COLUMN: refused on read-only sources as ksqlDB does;
        otherwise outside the embedded engine."""
        src = self._sources.get(stmt.name)
        if src is not None and src.is_source:
            kind = src.kind.lower()
            raise KsqlStatementError(
                f"Cannot alter {kind} '{src.name}': ALTER operations are not supported on "
                f"source {kind}s."
            )
        raise KsqlUnsupportedError(messages.not_supported(f"ALTER {stmt.kind}"), stmt.text)

    # ------------------------------------------------------------------ DROP / TERMINATE
    def _drop(self, stmt: A.DropSource) -> StatementResult:
        src = self._sources.get(stmt.name)
        word = "Stream" if stmt.kind == "STREAM" else "Table"
        if src is None:
            if stmt.if_exists:
                return StatementResult(
                    stmt.text,
                    "currentStatus",
                    "",
                    self._status("", f"Source `{stmt.name}` does not exist."),
                )
            raise KsqlStatementError(f"{word} {stmt.name} does not exist.")
        if src.kind != stmt.kind:
            raise KsqlStatementError(
                f"Incompatible data source type is {src.kind}, but statement was DROP {stmt.kind}"
            )
        if stmt.delete_topic and src.is_source:
            raise KsqlStatementError(f"Cannot delete topic for read-only source: {src.name}")
        readers = sorted(q.id for q in self.metastore.readers(src) if q.sink_name != src.name)
        writers = sorted(q.id for q in self.metastore.writers(src) if q.kind == "INSERT")
        if readers or writers:
            raise KsqlStatementError(
                f"Cannot drop {src.name}.\nThe following queries read from this source: "
                f"[{', '.join(readers)}].\nThe following queries write into this source: "
                f"[{', '.join(writers)}].\nYou need to terminate them before dropping {src.name}."
            )
        terminated = [q.id for q in self.metastore.writers(src)]
        seq = self._next_seq()
        for qid in terminated:
            self._queries[qid].state = "TERMINATED"
            del self._queries[qid]
        del self._sources[src.name]
        msg = f"Source `{src.name}` (topic: {src.topic}) was dropped."
        return StatementResult(
            stmt.text,
            "currentStatus",
            msg,
            self._status(f"{stmt.kind.lower()}/`{src.name}`/drop", msg, seq=seq),
            source=src,
            topics_to_delete=[src.topic] if stmt.delete_topic else [],
            terminated=terminated,
        )

    def _terminate(self, stmt: A.Terminate) -> StatementResult:
        if stmt.query_id is None:
            ids = list(self._queries)
        else:
            qid = stmt.query_id
            match = [k for k in self._queries if k.upper() == qid.upper()]
            if not match:
                raise KsqlStatementError(f"Unknown queryId: {qid}")
            ids = match
        seq = self._next_seq()
        for qid in ids:
            self._queries[qid].state = "TERMINATED"
            del self._queries[qid]
        return StatementResult(
            stmt.text,
            "currentStatus",
            "Query terminated.",
            self._status(
                f"terminate/{stmt.query_id or 'ALL'}/execute", "Query terminated.", seq=seq
            ),
            terminated=ids,
        )

    # ------------------------------------------------------------------ LIST / DESCRIBE
    def _list(self, stmt: A.ListStatement, overrides: Mapping[str, Any]) -> StatementResult:
        w = stmt.what
        if w in ("STREAMS", "TABLES"):
            kind = "STREAM" if w == "STREAMS" else "TABLE"
            if stmt.extended:
                descriptions = self.metastore.descriptions(kind)
                return StatementResult(stmt.text, w.lower(), "", descriptions)
            return StatementResult(stmt.text, w.lower(), "", self.metastore.source_list(kind))
        if w == "QUERIES":
            return StatementResult(stmt.text, "queries", "", self.metastore.query_list())
        if w == "TOPICS":
            return StatementResult(stmt.text, "kafka_topics", "", self.metastore.topic_list())
        if w == "PROPERTIES":
            return StatementResult(stmt.text, "properties", "", self.property_list(overrides))
        if w == "VARIABLES":
            variables = VariableList(tuple(self.variables.items()))
            return StatementResult(stmt.text, "variables", "", variables)
        if w == "FUNCTIONS":
            from fraudstream.ksql.engine.expressions import AGGREGATE_NAMES, LAMBDA_FUNCTIONS
            from fraudstream.ksql.engine.functions import _REGISTRY
            from fraudstream.ksql.engine.table_functions import TABLE_FUNCTIONS

            names = sorted(set(_REGISTRY) | AGGREGATE_NAMES | LAMBDA_FUNCTIONS | TABLE_FUNCTIONS)
            functions = tuple(
                (
                    n,
                    "AGGREGATE"
                    if n in AGGREGATE_NAMES
                    else "TABLE"
                    if n in TABLE_FUNCTIONS
                    else "SCALAR",
                )
                for n in names
            )
            return StatementResult(stmt.text, "function_names", "", FunctionList(functions))
        raise KsqlUnsupportedError(f"LIST {w} is not supported by the embedded engine", stmt.text)

    def property_list(self, overrides: Mapping[str, Any] | None = None) -> PropertyList:
        """The engine's properties merged with a request's overrides, as ksqlDB lists them."""

        def text(value: Any) -> str:
            return "" if value is None else str(value)

        merged = {**self.properties, **(overrides or {})}
        own = {k: text(v) for k, v in self.properties.items()}
        values = {k: text(v) for k, v in merged.items()}
        names = sorted(values)
        return PropertyList(
            properties=tuple((k, values[k]) for k in names),
            overwritten=tuple(k for k in names if own.get(k) != values[k]),
            defaults=tuple(
                k
                for k in names
                if k in DEFAULT_PROPERTIES and text(DEFAULT_PROPERTIES[k]) == values[k]
            ),
        )

    def describe_source(self, s: DataSource, extended: bool = False) -> SourceDescription:
        """A source with the queries reading its topic and the queries writing into it."""
        return self.metastore.describe(s, extended)

    def _describe(self, stmt: A.Describe) -> StatementResult:
        if stmt.what == "STREAMS":
            return self._list(A.ListStatement("STREAMS", True, stmt.text), {})
        if stmt.what == "FUNCTION":
            raise KsqlUnsupportedError(
                "DESCRIBE FUNCTION is not supported by the embedded engine", stmt.text
            )
        assert stmt.name is not None
        s = self._sources.get(stmt.name)
        if s is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        description = self.describe_source(s, stmt.extended)
        return StatementResult(stmt.text, "sourceDescription", "", description, source=s)

    def _define(self, stmt: A.DefineVariable) -> StatementResult:
        if stmt.value is None:
            if stmt.name not in self.variables and stmt.name.upper() not in {
                k.upper() for k in self.variables
            }:
                message = f"Cannot undefine variable '{stmt.name}' which was never defined"
                return StatementResult(
                    stmt.text, "warning_entity", message, WarningMessage(message)
                )
            for k in [k for k in self.variables if k.upper() == stmt.name.upper()]:
                del self.variables[k]
        else:
            self.variables[stmt.name] = stmt.value
        return StatementResult(stmt.text, "variable", "")

    def _set(self, stmt: A.SetProperty) -> StatementResult:
        if stmt.value is None:
            self.properties.pop(stmt.name, None)
            if stmt.name in DEFAULT_PROPERTIES:
                self.properties[stmt.name] = DEFAULT_PROPERTIES[stmt.name]
        else:
            self.properties[stmt.name] = stmt.value
        return StatementResult(stmt.text, "property", "")

    # ------------------------------------------------------------------ helpers for runtimes
    def queries_for_topic(self, topic: str) -> list[PersistentQuery]:
        return self.metastore.queries_for_topic(topic)

    def snapshot(self) -> KsqlEngine:
        """A deep copy (used to validate a batch of statements without side effects)."""
        return copy.deepcopy(self)
