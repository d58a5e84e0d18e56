"""The embedded KSQL engine: a metastore of streams/tables plus persistent queries.

`KsqlEngine.execute(sql)` parses and runs statements (DDL, CSAS/CTAS, INSERT, DROP,
TERMINATE, LIST/SHOW, DESCRIBE, DEFINE/UNDEFINE, SET/UNSET) and returns one
`StatementResult` per statement, carrying the ksqlDB REST entity plus whatever the caller
must do against Kafka (topics to create, records to produce, queries to start/stop).
The engine itself never touches Kafka: record processing happens in `query.process()`
(see `fraudstream.ksql.engine.topology`), which the Kafka runtime or the conformance runner drives.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.explain import ExplainResult, explain_query
from fraudstream.ksql.engine.expressions import ExpressionCompiler, Scope, cast_function
from fraudstream.ksql.engine.formats import (
    SUPPORTED_FORMATS,
    FormatSpec,
    InMemorySchemaRegistry,
    SchemaRegistryLike,
    check_supported,
    make_serde,
    sql_type_from_avro,
)
from fraudstream.ksql.engine.formats.timestamps import timestamp_extractor
from fraudstream.ksql.engine.planner import Planner
from fraudstream.ksql.engine.topology import (
    Column,
    DataSource,
    InRecord,
    OutRecord,
    PersistentQuery,
    ProcessingLogEntry,
    TransientQuery,
    TransientRow,
    WindowInfo,
)
from fraudstream.ksql.errors import (
    KsqlError,
    KsqlParseError,
    KsqlProcessingError,
    KsqlStatementError,
    KsqlUnsupportedError,
)
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql import types as T
from fraudstream.ksql.sql.parser import TIME_UNITS, parse

__all__ = [
    "Column",
    "DataSource",
    "InMemorySchemaRegistry",
    "InRecord",
    "KsqlEngine",
    "OutRecord",
    "PersistentQuery",
    "ProcessingLogEntry",
    "SchemaRegistryLike",
    "StatementResult",
    "TopicSpec",
    "TransientQuery",
    "TransientRow",
]

RESERVED_COLUMNS = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")

_CREATE_PROPS = {
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "RETENTION_MS",
    "CLEANUP_POLICY",
    "SOURCE_CONNECTOR",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
    "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
}

DEFAULT_PROPERTIES: dict[str, Any] = {
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.output.topic.name.prefix": "",
    "ksql.persistence.wrap.single.values": None,
    "auto.offset.reset": "latest",
}


@dataclass
class TopicSpec:
    """A topic the caller must make sure exists before running a query."""

    name: str
    partitions: int = 1
    replicas: int = 1
    config: dict[str, str] = field(default_factory=dict)


@dataclass
class StatementResult:
    """Outcome of one statement: the ksqlDB REST entity plus side effects to apply."""

    statement_text: str
    type: str
    message: str = ""
    entity: dict[str, Any] = field(default_factory=dict)
    query: PersistentQuery | None = None
    source: DataSource | None = None
    records: list[OutRecord] = field(default_factory=list)
    topics_to_create: list[TopicSpec] = field(default_factory=list)
    topics_to_delete: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    explain: ExplainResult | None = None  # EXPLAIN: the typed description to render


def _lit_value(lit: A.Literal) -> Any:
    return lit.value


class KsqlEngine:
    """Metastore + statement execution. Thread-compatible, not thread-safe: callers
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
        self._sources: dict[str, DataSource] = {}
        self._queries: dict[str, PersistentQuery] = {}
        self._command_seq = itertools.count(0)
        self._last_seq = -1
        self.known_topics: dict[str, int] = {}
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
        KsqlStatementError (with .statement_text and .completed = results of the
        statements before it); the failing statement leaves the state unchanged."""
        results: list[StatementResult] = []
        # statements are parsed one at a time so DEFINE affects later statements
        consumed = 0
        for text in split_statements(sql):
            merged = {**self.variables, **(variables or {})}
            # keep line numbers relative to the whole text (ksqlDB reports them that way)
            start = sql.find(text, consumed)
            lines_before = sql.count("\n", 0, start) if start >= 0 else 0
            consumed = start + len(text) if start >= 0 else consumed
            try:
                stmts = parse("\n" * lines_before + text, merged)
            except KsqlParseError as exc:
                exc.completed = results  # type: ignore[attr-defined]
                raise
            for stmt in stmts:
                try:
                    results.append(self._execute_one(stmt, properties or {}))
                except KsqlError as exc:
                    if not getattr(exc, "statement_text", ""):
                        exc.statement_text = stmt.text  # type: ignore[attr-defined]
                    exc.completed = results  # type: ignore[attr-defined]
                    raise
                except Exception as exc:  # an engine bug must surface as a statement error
                    err = KsqlStatementError(f"{type(exc).__name__}: {exc}", stmt.text)
                    err.completed = results  # type: ignore[attr-defined]
                    raise err from exc
        return results

    def transient_query(
        self,
        sql: str,
        variables: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> TransientQuery:
        """Plan a push query (`SELECT ... EMIT CHANGES [LIMIT n]`)."""
        stmts = self.parse(sql, variables)
        if len(stmts) != 1 or not isinstance(stmts[0], A.QueryStatement):
            raise KsqlStatementError("Expected exactly one SELECT statement", sql)
        stmt = stmts[0]
        q = stmt.query
        if q.emit is None:
            raise KsqlStatementError(
                "Pull queries are not supported by the embedded engine; add EMIT "
                "CHANGES for a push query.",
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
            exc.statement_text = stmt.text  # type: ignore[attr-defined]
            raise
        tq = planned.query
        assert isinstance(tq, TransientQuery)
        return tq

    def explain(
        self, stmt: A.Explain, properties: Mapping[str, Any] | None = None
    ) -> ExplainResult:
        """EXPLAIN <query id>: the running query's plan; EXPLAIN <SELECT>: the plan the
        query would run (planned as a push query, nothing started)."""
        if stmt.query is None:
            pq = self._queries.get(stmt.target)
            if pq is None or pq.plan is None:
                raise KsqlStatementError(messages.query_does_not_exist(stmt.target), stmt.text)
            return explain_query(stmt.text, pq, pq.plan, persistent=True)
        text = re.sub(r"^\s*EXPLAIN\s+", "", stmt.text, flags=re.IGNORECASE)
        planner = Planner(
            sources=self._sources,
            registry=self.schema_registry,
            properties={**self.properties, **(properties or {})},
            query_id="explain_" + stmt.query.source.name,
            statement_text=text,
            sink_name=None,
            sink_topic=None,
            sink_kind=None,
            sink_props={},
        )
        planned = planner.plan(stmt.query, transient=True)
        assert planned.plan is not None
        return explain_query(stmt.text, planned.query, planned.plan, persistent=False)

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
            return self._list(stmt)
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
        if isinstance(stmt, A.Unsupported):
            raise KsqlUnsupportedError(
                f"{stmt.construct} is not supported by the embedded engine", stmt.text
            )
        if isinstance(stmt, A.Explain):
            result = self.explain(stmt, overrides)
            return StatementResult(
                stmt.text, "queryDescription", message=result.execution_plan, explain=result
            )
        raise KsqlUnsupportedError(f"Unsupported statement: {type(stmt).__name__}", stmt.text)

    def _next_seq(self) -> int:
        self._last_seq = next(self._command_seq)
        return self._last_seq

    def _status(
        self,
        stmt: A.Statement,
        command_id: str,
        message: str,
        query_id: str | None = None,
        seq: int | None = None,
    ) -> dict[str, Any]:
        return {
            "@type": "currentStatus",
            "statementText": stmt.text,
            "commandId": command_id,
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "commandSequenceNumber": self._last_seq if seq is None else seq,
            "warnings": [],
        }

    # ------------------------------------------------------------------ CREATE STREAM/TABLE
    def _props(self, props: Mapping[str, A.Literal], allowed: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        bad = [k for k in props if k not in allowed]
        if bad:
            raise KsqlStatementError(
                f"Invalid config variable(s) in the WITH clause: {','.join(bad)}"
            )
        for k, v in props.items():
            out[k] = _lit_value(v)
        return out

    def _formats(
        self, p: dict[str, Any], kind: str, has_key: bool
    ) -> tuple[FormatSpec, FormatSpec]:
        fmt = p.get("FORMAT")
        kf = p.get("KEY_FORMAT")
        vf = p.get("VALUE_FORMAT")
        if fmt and (kf or vf):
            other = "KEY_FORMAT" if kf else "VALUE_FORMAT"
            raise KsqlStatementError(
                f"Cannot supply both '{other}' and 'FORMAT' properties, as 'FORMAT' sets both "
                "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                "'VALUE_FORMAT'."
            )
        kname = str(
            fmt or kf or self.properties.get("ksql.persistence.default.format.key") or "KAFKA"
        ).upper()
        vname = fmt or vf or self.properties.get("ksql.persistence.default.format.value")
        if not vname:
            raise KsqlStatementError(
                "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either "
                "provide one or set a default via the "
                "'ksql.persistence.default.format.value' config."
            )
        vname = str(vname).upper()
        for n in (kname, vname):
            if n not in SUPPORTED_FORMATS:
                if n in ("PROTOBUF", "JSON_SR", "PROTOBUF_NOSR"):
                    raise KsqlUnsupportedError(
                        f"The '{n}' format is not supported by the embedded engine"
                    )
                raise KsqlStatementError(f"Unknown format: {n}")
        key = FormatSpec(kname)
        value = FormatSpec(vname)
        if "KEY_FORMAT" not in p and "FORMAT" not in p and not has_key and kname == "KAFKA":
            key = FormatSpec("KAFKA")
        wrap = p.get("WRAP_SINGLE_VALUE")
        if wrap is None:
            wrap = self.properties.get("ksql.persistence.wrap.single.values")
            if isinstance(wrap, str):
                wrap = wrap.lower() == "true"
        if wrap is not None:
            if value.name in ("KAFKA", "DELIMITED") and wrap is True and "WRAP_SINGLE_VALUE" in p:
                raise KsqlStatementError(
                    f"Format '{value.name}' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
                )
            if value.name not in ("KAFKA", "DELIMITED"):
                value.wrap_single_value = bool(wrap)
        for _side, spec, prop in (
            ("VALUE", value, "VALUE_DELIMITER"),
            ("KEY", key, "KEY_DELIMITER"),
        ):
            if prop in p:
                d = str(p[prop])
                if spec.name != "DELIMITED":
                    raise KsqlStatementError(
                        f"{spec.name} does not support the following configs: [delimiter]"
                    )
                spec.delimiter = parse_delimiter(d, prop)
        if "VALUE_AVRO_SCHEMA_FULL_NAME" in p:
            value.schema_full_name = check_full_name(
                str(p["VALUE_AVRO_SCHEMA_FULL_NAME"]), value.name
            )
        if "VALUE_SCHEMA_ID" in p:
            value.schema_id = int(p["VALUE_SCHEMA_ID"])
        if "KEY_SCHEMA_ID" in p:
            key.schema_id = int(p["KEY_SCHEMA_ID"])
        return key, value

    def _create_source(self, stmt: A.CreateSource, overrides: Mapping[str, Any]) -> StatementResult:
        p = self._props(stmt.properties, _CREATE_PROPS)
        kind = stmt.kind
        name = stmt.name
        existing = self._sources.get(name)
        if existing is not None and not stmt.or_replace:
            if stmt.if_not_exists:
                return StatementResult(
                    stmt.text,
                    "currentStatus",
                    "Already exists",
                    self._status(
                        stmt,
                        "",
                        f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} "
                        "with the same name already exists",
                    ),
                )
            raise KsqlStatementError(
                f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} with "
                "the same name already exists",
                stmt.text,
            )
        topic = p.get("KAFKA_TOPIC")
        if topic is None:
            raise KsqlStatementError(
                'Missing required property "KAFKA_TOPIC" which has no default value.'
            )
        topic = str(topic)
        columns = _element_columns(stmt)
        has_key = any(c.namespace == "KEY" for c in columns)
        key_format, value_format = self._formats(p, kind, has_key)
        # schema inference from the registry (CREATE without columns / only key columns)
        if value_format.name == "AVRO" and not any(c.namespace == "VALUE" for c in columns):
            columns += self._infer_avro(
                topic, False, value_format.schema_id, value_format.wrap_single_value is False
            )
        if (
            key_format.name == "AVRO"
            and not has_key
            and self.schema_registry is not None
            and (
                key_format.schema_id is not None or self.schema_registry.get_latest(f"{topic}-key")
            )
        ):
            columns = self._infer_avro(topic, True, key_format.schema_id) + columns
            has_key = True
        if not columns:
            raise KsqlStatementError(
                "The statement does not define any columns."
                if stmt.elements is None
                else "No columns supplied."
            )
        if kind == "TABLE" and not any(c.namespace == "KEY" for c in columns):
            raise KsqlStatementError(
                "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.\n"
                "Use a partial schema to define the primary key and still let the value columns "
                "be inferred from the schema registry."
            )
        keys = [c for c in columns if c.namespace == "KEY"]
        values = [c for c in columns if c.namespace == "VALUE"]
        if (
            not keys
            and key_format.name != "KAFKA"
            and "KEY_FORMAT" in p
            and key_format.name != "NONE"
        ):
            raise KsqlStatementError("Key format specified for stream without key columns.")
        check_supported(key_format, [(c.name, c.type) for c in keys], True)
        check_supported(value_format, [(c.name, c.type) for c in values], False)
        if (
            value_format.name == "KAFKA"
            and value_format.wrap_single_value is not None
            and "WRAP_SINGLE_VALUE" in p
        ):
            raise KsqlStatementError(
                "Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
            )
        window = _window_from_props(p)
        partitions = int(p["PARTITIONS"]) if "PARTITIONS" in p else self.known_topics.get(topic, 1)
        src = DataSource(
            name=name,
            kind=kind,
            columns=keys + values,
            topic=topic,
            key_format=key_format,
            value_format=value_format,
            partitions=partitions,
            replicas=int(p.get("REPLICAS", 1)),
            timestamp_column=_col_name(p.get("TIMESTAMP")),
            timestamp_format=p.get("TIMESTAMP_FORMAT"),
            window=window,
            is_source=stmt.is_source,
            statement_text=stmt.text,
        )
        if src.timestamp_column:
            timestamp_extractor(src, src.timestamp_column, src.timestamp_format)
        # validate serdes can be built (AVRO schema names, registry presence)
        make_serde(
            key_format,
            [(c.name, c.type) for c in keys],
            topic,
            True,
            self.schema_registry or InMemorySchemaRegistry(),
        )
        vs = make_serde(
            value_format,
            [(c.name, c.type) for c in values],
            topic,
            False,
            self.schema_registry or InMemorySchemaRegistry(),
        )
        _ = vs
        if existing is not None and stmt.or_replace:
            self._check_replace(existing, src)
        topics: list[TopicSpec] = []
        exists = self.topic_exists(topic) if self.topic_exists else True
        if "PARTITIONS" in p or not exists:
            if not exists and "PARTITIONS" not in p:
                raise KsqlStatementError(
                    f"Topic '{topic}' does not exist. If you want to create a new topic for the "
                    f"{kind.lower()} please re-run the statement providing the required "
                    "'PARTITIONS' "
                    "configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                    f"CREATE {kind} {name} (...) WITH (KAFKA_TOPIC='{topic}', "
                    "PARTITIONS=2, REPLICAS=1, "
                    "...);"
                )
            topics.append(TopicSpec(topic, partitions, src.replicas))
        # commit
        seq = self._next_seq()
        self._sources[name] = src
        self.known_topics.setdefault(topic, partitions)
        word = "Stream" if kind == "STREAM" else "Table"
        msg = f"{word} created" if existing is None else f"{word} replaced"
        return StatementResult(
            stmt.text,
            "currentStatus",
            msg,
            self._status(stmt, f"{kind.lower()}/`{name}`/create", msg, seq=seq),
            source=src,
            topics_to_create=topics,
        )

    def _infer_avro(
        self, topic: str, is_key: bool, schema_id: int | None, unwrapped: bool = False
    ) -> list[Column]:
        if self.schema_registry is None:
            raise KsqlStatementError("Schema inference requires a Schema Registry")
        subject = f"{topic}-{'key' if is_key else 'value'}"
        if schema_id is not None:
            text = self.schema_registry.get_schema(schema_id)
        else:
            latest = self.schema_registry.get_latest(subject)
            if latest is None:
                raise KsqlStatementError(
                    f"Schema for message {'keys' if is_key else 'values'} on topic "
                    f"'{topic}' does not "
                    f"exist in the Schema Registry.Subject: {subject}"
                )
            text = latest[1]
        schema = json.loads(text)
        ns = "KEY" if is_key else "VALUE"
        if is_key:
            # a key schema is one key column: ROWKEY, of the schema's (struct) type
            return [Column("ROWKEY", _upper_struct(sql_type_from_avro(schema)), ns)]
        if isinstance(schema, dict) and schema.get("type") == "record" and not unwrapped:
            return [
                Column(f["name"].upper(), _upper_struct(sql_type_from_avro(f["type"])), ns)
                for f in schema["fields"]
            ]
        return [Column("ROWVAL", _upper_struct(sql_type_from_avro(schema)), ns)]

    def _check_replace(self, old: DataSource, new: DataSource) -> None:
        if old.kind != new.kind:
            raise KsqlStatementError(
                f"Cannot add {new.kind.lower()} '{new.name}': A {old.kind.lower()} with "
                "the same name already exists"
            )

    # ------------------------------------------------------------------ CSAS / CTAS / INSERT
    def _sink_topic(self, name: str, p: Mapping[str, Any]) -> str:
        if p.get("KAFKA_TOPIC"):
            return str(p["KAFKA_TOPIC"])
        return f"{self.properties.get('ksql.output.topic.name.prefix') or ''}{name}"

    def _create_as_select(
        self, stmt: A.CreateAsSelect, overrides: Mapping[str, Any]
    ) -> StatementResult:
        p = self._props(stmt.properties, _CREATE_PROPS - {"WINDOW_TYPE", "WINDOW_SIZE"})
        name = stmt.name
        existing = self._sources.get(name)
        if existing is not None and not stmt.or_replace:
            if stmt.if_not_exists:
                return StatementResult(stmt.text, "currentStatus", "Already exists", {})
            raise KsqlStatementError(
                f"Cannot add {stmt.kind.lower()} '{name}': A {existing.kind.lower()} "
                "with the same name already exists",
                stmt.text,
            )
        if "FORMAT" in p and ("KEY_FORMAT" in p or "VALUE_FORMAT" in p):
            self._formats(p, stmt.kind, True)
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
            self._check_replace(
                existing,
                DataSource(name, stmt.kind, [], topic, planned.key_format, planned.value_format),
            )
            old_q = [
                q for q in self._queries.values() if q.sink_name == name and q.kind == "PERSISTENT"
            ]
            qid = old_q[0].id if old_q else qid
            planned.query.id = qid
        sink = DataSource(
            name=name,
            kind=stmt.kind,
            columns=planned.key_columns + planned.value_columns,
            topic=topic,
            key_format=planned.key_format,
            value_format=planned.value_format,
            partitions=planned.partitions,
            replicas=int(p.get("REPLICAS", 1)),
            timestamp_column=_col_name(p.get("TIMESTAMP")),
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
            self._status(stmt, f"{stmt.kind.lower()}/`{name}`/create", msg, qid),
            query=query,
            source=sink,
            topics_to_create=[TopicSpec(topic, sink.partitions, sink.replicas)],
        )

    def _insert_into(self, stmt: A.InsertInto, overrides: Mapping[str, Any]) -> StatementResult:
        p = self._props(stmt.properties, {"QUERY_ID"})
        target = self._sources.get(stmt.target)
        if target is None:
            where = stmt.target.where if isinstance(stmt.target, A.Name) else ""
            raise KsqlStatementError(f"{where}Source `{stmt.target}` does not exist.")
        if target.kind != "STREAM":
            raise KsqlStatementError(
                f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
            )
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
            self._status(stmt, f"stream/`{target.name}`/create", msg, qid),
            query=query,
            source=target,
        )

    def _insert_values(self, stmt: A.InsertValues) -> StatementResult:
        target = self._sources.get(stmt.target)
        if target is None:
            hint = ""
            similar = [n for n in self._sources if n.upper() == stmt.target.upper()]
            if similar and stmt.target == stmt.target.upper():
                hint = (
                    f'\nDid you mean "{similar[0]}"? Hint: wrap the source name in double '
                    "quotes to make it case-sensitive."
                )
            elif similar:
                hint = (
                    f"\nDid you mean {similar[0]}? Hint: try removing double quotes from the "
                    "source name."
                )
            raise KsqlStatementError(
                f"Cannot insert values into an unknown stream/table: `{stmt.target}`{hint}"
            )
        if target.window is not None:
            raise KsqlStatementError("Inserting into windowed sources is not supported.")
        all_cols = [c.name for c in target.columns]
        names = stmt.columns if stmt.columns is not None else all_cols
        if len(names) != len(stmt.values):
            raise KsqlStatementError(
                f"Expected a value for each column. Expected Columns: {names}. Got "
                f"{[A.format_expr(v) for v in stmt.values]}"
            )
        comp = ExpressionCompiler(Scope([]), "VALUES")
        values: dict[str, Any] = {}
        ts = None
        for n, e in zip(names, stmt.values, strict=True):
            c = comp.compile(e)
            v = c.fn(())
            if n == "ROWTIME":
                ts = v
                continue
            col = target.column(n)
            if col is None:
                raise KsqlStatementError(f"Column name {n} does not exist.")
            if v is not None and c.type != col.type:
                try:
                    v = cast_function(c.type, col.type, A.format_expr(e))(v)
                except (KsqlProcessingError, KsqlStatementError) as exc:
                    raise KsqlStatementError(
                        f"Expected type {col.type} for field {n} but got {c.type}({v})"
                    ) from exc
            values[n] = v
        keys = [values.get(c.name) for c in target.key_columns]
        vals = [values.get(c.name) for c in target.value_columns]
        reg = self.schema_registry
        try:
            kb = make_serde(
                target.key_format,
                [(c.name, c.type) for c in target.key_columns],
                target.topic,
                True,
                reg,
            ).serialize(keys)
            vb = make_serde(
                target.value_format,
                [(c.name, c.type) for c in target.value_columns],
                target.topic,
                False,
                reg,
            ).serialize(vals)
        except SerdeError as exc:
            raise KsqlStatementError(
                f"Failed to insert values into '{target.name}'. {exc}"
            ) from exc
        if ts is None:
            import time

            ts = int(time.time() * 1000)
        rec = OutRecord(target.topic, kb, vb, int(ts))
        return StatementResult(stmt.text, "insertValues", "", {}, source=target, records=[rec])

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
                    self._status(stmt, "", f"Source `{stmt.name}` does not exist."),
                )
            raise KsqlStatementError(f"{word} {stmt.name} does not exist.")
        if src.kind != stmt.kind:
            raise KsqlStatementError(
                f"Incompatible data source type is {src.kind}, but statement was DROP {stmt.kind}"
            )
        readers = sorted(
            q.id
            for q in self._queries.values()
            if src.topic in q.source_topics and q.sink_name != src.name
        )
        writers = sorted(
            q.id for q in self._queries.values() if q.sink_name == src.name and q.kind == "INSERT"
        )
        if readers or writers:
            raise KsqlStatementError(
                f"Cannot drop {src.name}.\nThe following queries read from this source: "
                f"[{', '.join(readers)}].\nThe following queries write into this source: "
                f"[{', '.join(writers)}].\nYou need to terminate them before dropping {src.name}."
            )
        terminated = [q.id for q in self._queries.values() if q.sink_name == src.name]
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
            self._status(stmt, f"{stmt.kind.lower()}/`{src.name}`/drop", msg, seq=seq),
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
                stmt, f"terminate/{stmt.query_id or 'ALL'}/execute", "Query terminated.", seq=seq
            ),
            terminated=ids,
        )

    # ------------------------------------------------------------------ LIST / DESCRIBE
    def _source_summary(self, s: DataSource) -> dict[str, Any]:
        return {
            "type": s.kind,
            "name": s.name,
            "topic": s.topic,
            "keyFormat": s.key_format.name,
            "valueFormat": s.value_format.name,
            "isWindowed": s.window is not None,
        }

    def _list(self, stmt: A.ListStatement) -> StatementResult:
        w = stmt.what
        entity: dict[str, Any]
        if w in ("STREAMS", "TABLES"):
            kind = "STREAM" if w == "STREAMS" else "TABLE"
            items = [
                self._source_summary(s)
                for s in sorted(self._sources.values(), key=lambda s: s.name)
                if s.kind == kind
            ]
            if stmt.extended:
                entity = {
                    "@type": "source_descriptions",
                    "statementText": stmt.text,
                    "sourceDescriptions": [
                        self.describe_source(s, True)
                        for s in self._sources.values()
                        if s.kind == kind
                    ],
                    "warnings": [],
                }
            else:
                entity = {
                    "@type": w.lower(),
                    "statementText": stmt.text,
                    w.lower(): items,
                    "warnings": [],
                }
            return StatementResult(stmt.text, w.lower(), "", entity)
        if w == "QUERIES":
            entity = {
                "@type": "queries",
                "statementText": stmt.text,
                "queries": [q.describe() for q in self._queries.values()],
                "warnings": [],
            }
            return StatementResult(stmt.text, "queries", "", entity)
        if w == "TOPICS":
            topics = sorted(set(self.known_topics) | {s.topic for s in self._sources.values()})
            entity = {
                "@type": "kafka_topics",
                "statementText": stmt.text,
                "topics": [
                    {"name": t, "replicaInfo": [1] * max(1, self.known_topics.get(t, 1))}
                    for t in topics
                ],
                "warnings": [],
            }
            return StatementResult(stmt.text, "kafka_topics", "", entity)
        if w == "PROPERTIES":
            props = {k: ("" if v is None else str(v)) for k, v in self.properties.items()}
            entity = {
                "@type": "properties",
                "statementText": stmt.text,
                "properties": props,
                "overwrittenProperties": [],
                "defaultProperties": [],
                "warnings": [],
            }
            return StatementResult(stmt.text, "properties", "", entity)
        if w == "VARIABLES":
            entity = {
                "@type": "variables",
                "statementText": stmt.text,
                "variables": [{"name": k, "value": v} for k, v in self.variables.items()],
                "warnings": [],
            }
            return StatementResult(stmt.text, "variables", "", entity)
        if w == "FUNCTIONS":
            from fraudstream.ksql.engine.expressions import AGGREGATE_NAMES
            from fraudstream.ksql.engine.functions import _REGISTRY

            names = sorted(set(_REGISTRY) | set(AGGREGATE_NAMES))
            entity = {
                "@type": "function_names",
                "statementText": stmt.text,
                "functions": [
                    {
                        "name": n,
                        "type": "AGGREGATE" if n in AGGREGATE_NAMES else "SCALAR",
                        "category": "",
                    }
                    for n in names
                ],
                "warnings": [],
            }
            return StatementResult(stmt.text, "function_names", "", entity)
        raise KsqlUnsupportedError(f"LIST {w} is not supported by the embedded engine", stmt.text)

    def describe_source(self, s: DataSource, extended: bool = False) -> dict[str, Any]:
        readq = [q.id for q in self._queries.values() if s.topic in q.source_topics]
        writeq = [q.id for q in self._queries.values() if q.sink_name == s.name]
        return {
            "name": s.name,
            "windowType": s.window.type if s.window else None,
            "readQueries": [
                {
                    "queryString": self._queries[q].statement_text,
                    "sinks": [self._queries[q].sink_name],
                    "sinkKafkaTopics": [self._queries[q].sink_topic],
                    "id": q,
                    "statusCount": {"RUNNING": 1},
                    "queryType": "PERSISTENT",
                    "state": "RUNNING",
                }
                for q in readq
            ],
            "writeQueries": [
                {
                    "queryString": self._queries[q].statement_text,
                    "sinks": [s.name],
                    "sinkKafkaTopics": [s.topic],
                    "id": q,
                    "statusCount": {"RUNNING": 1},
                    "queryType": "PERSISTENT",
                    "state": "RUNNING",
                }
                for q in writeq
            ],
            "fields": [field_entity(c) for c in s.columns],
            "type": s.kind,
            "timestamp": s.timestamp_column or "",
            "statistics": "",
            "errorStats": "",
            "extended": extended,
            "keyFormat": s.key_format.name,
            "valueFormat": s.value_format.name,
            "topic": s.topic,
            "partitions": s.partitions if extended else 0,
            "replication": s.replicas if extended else 0,
            "statement": s.statement_text,
            "queryOffsetSummaries": [],
            "sourceConstraints": [],
            "clusterErrorStats": [],
            "clusterStatistics": [],
        }

    def _describe(self, stmt: A.Describe) -> StatementResult:
        if stmt.what == "STREAMS":
            return self._list(A.ListStatement("STREAMS", True, stmt.text))
        if stmt.what == "FUNCTION":
            raise KsqlUnsupportedError(
                "DESCRIBE FUNCTION is not supported by the embedded engine", stmt.text
            )
        assert stmt.name is not None
        s = self._sources.get(stmt.name)
        if s is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        entity = {
            "@type": "sourceDescription",
            "statementText": stmt.text,
            "sourceDescription": self.describe_source(s, stmt.extended),
            "warnings": [],
        }
        return StatementResult(stmt.text, "sourceDescription", "", entity, source=s)

    def _define(self, stmt: A.DefineVariable) -> StatementResult:
        if stmt.value is None:
            if stmt.name not in self.variables and stmt.name.upper() not in {
                k.upper() for k in self.variables
            }:
                return StatementResult(
                    stmt.text,
                    "warning_entity",
                    f"Cannot undefine variable '{stmt.name}' which was never defined",
                    {
                        "@type": "warning_entity",
                        "statementText": stmt.text,
                        "message": f"Cannot undefine variable '{stmt.name}' which was "
                        "never defined",
                        "warnings": [],
                    },
                )
            for k in [k for k in self.variables if k.upper() == stmt.name.upper()]:
                del self.variables[k]
        else:
            self.variables[stmt.name] = stmt.value
        return StatementResult(stmt.text, "variable", "", {})

    def _set(self, stmt: A.SetProperty) -> StatementResult:
        if stmt.value is None:
            self.properties.pop(stmt.name, None)
            if stmt.name in DEFAULT_PROPERTIES:
                self.properties[stmt.name] = DEFAULT_PROPERTIES[stmt.name]
        else:
            self.properties[stmt.name] = stmt.value
        return StatementResult(stmt.text, "property", "", {})

    # ------------------------------------------------------------------ helpers for runtimes
    def queries_for_topic(self, topic: str) -> list[PersistentQuery]:
        return [q for q in self._queries.values() if topic in q.source_topics]

    def snapshot(self) -> KsqlEngine:
        """A deep copy (used to validate a batch of statements without side effects)."""
        return copy.deepcopy(self)


def _element_columns(stmt: A.CreateSource) -> list[Column]:
    """The declared columns of CREATE STREAM/TABLE, with ksqlDB's KEY/PRIMARY KEY rules."""
    kind = stmt.kind
    columns: list[Column] = []
    seen: set[str] = set()
    for el in stmt.elements or []:
        if el.name in RESERVED_COLUMNS:
            raise KsqlStatementError(f"'{el.name}' is a reserved column name.")
        if el.name in seen:
            raise KsqlStatementError(f"Duplicate column names: `{el.name}`")
        seen.add(el.name)
        ns = "VALUE"
        if el.constraint in ("KEY", "PRIMARY KEY"):
            if kind == "STREAM" and el.constraint == "PRIMARY KEY":
                raise KsqlStatementError(
                    f"Column `{el.name}` is a 'PRIMARY KEY' column: please use "
                    "'KEY' for streams.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NULL constraints."
                )
            if kind == "TABLE" and el.constraint == "KEY":
                raise KsqlStatementError(
                    f"Column `{el.name}` is a 'KEY' column: please use 'PRIMARY "
                    "KEY' for tables.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NULL constraints."
                )
            ns = "KEY"
        elif el.constraint in ("HEADERS", "HEADER"):
            raise KsqlUnsupportedError("HEADER columns are not supported by the embedded engine")
        columns.append(Column(el.name, el.type, ns))
    return columns


def _window_from_props(p: Mapping[str, Any]) -> WindowInfo | None:
    """WINDOW_TYPE / WINDOW_SIZE of a CREATE over a windowed topic."""
    if "WINDOW_TYPE" not in p:
        return None
    wt = str(p["WINDOW_TYPE"]).upper()
    if wt not in ("TUMBLING", "HOPPING", "SESSION"):
        raise KsqlStatementError(f"Invalid window type: {wt}")
    size = None
    if "WINDOW_SIZE" in p:
        size = parse_duration(str(p["WINDOW_SIZE"]))
    elif wt != "SESSION":
        raise KsqlStatementError(
            f"{wt} windows require 'WINDOW_SIZE' to be provided in the WITH "
            "clause. For example: 'WINDOW_SIZE'='10 SECONDS'"
        )
    return WindowInfo(wt, size)


def _upper_struct(t: T.SqlType) -> T.SqlType:
    """Inferred struct field names are upper-cased, as ksqlDB does for Avro records."""
    if t.base == T.STRUCT:
        return T.struct_of([(n.upper(), _upper_struct(ft)) for n, ft in t.fields])
    if t.base == T.ARRAY and t.item is not None:
        return T.array_of(_upper_struct(t.item))
    if t.base == T.MAP and t.item is not None and t.key is not None:
        return T.map_of(t.key, _upper_struct(t.item))
    return t


def field_entity(c: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "schema": schema_entity(c.type)}
    if c.namespace == "KEY":
        out["type"] = "KEY"
    return out


def schema_entity(t: T.SqlType) -> dict[str, Any]:
    if t.base == T.ARRAY:
        return {"type": "ARRAY", "fields": None, "memberSchema": schema_entity(t.item)}  # type: ignore[arg-type]
    if t.base == T.MAP:
        return {"type": "MAP", "fields": None, "memberSchema": schema_entity(t.item)}  # type: ignore[arg-type]
    if t.base == T.STRUCT:
        return {
            "type": "STRUCT",
            "fields": [{"name": n, "schema": schema_entity(ft)} for n, ft in t.fields],
            "memberSchema": None,
        }
    if t.base == T.DECIMAL:
        return {
            "type": "DECIMAL",
            "fields": None,
            "memberSchema": None,
            "parameters": {"precision": t.precision, "scale": t.scale},
        }
    return {"type": t.base, "fields": None, "memberSchema": None}


def _col_name(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v)
    if s.startswith("`") and s.endswith("`"):
        return s[1:-1]
    return s.upper()


def check_full_name(name: str, fmt: str) -> str:
    """VALUE_AVRO_SCHEMA_FULL_NAME is an AVRO-only, non-empty setting (ksqlDB's messages)."""
    if fmt != "AVRO":
        raise KsqlStatementError(f"{fmt} does not support the following configs: [fullSchemaName]")
    if not name.strip():
        raise KsqlStatementError(
            "fullSchemaName cannot be empty. Format configuration: {fullSchemaName="
            + name.strip()
            + "}"
        )
    return name


def parse_duration(text: str) -> int:
    parts = text.strip().split()
    if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
        raise KsqlStatementError(f"Invalid duration: '{text}'")
    unit = parts[1].upper()
    if unit not in TIME_UNITS:
        raise KsqlParseError(
            f"Configuration WINDOW_SIZE is invalid: Invalid duration: '{text}'. Unknown "
            f"time unit: '{unit}'"
        )
    return int(parts[0]) * TIME_UNITS[unit]


def parse_delimiter(d: str, prop: str) -> str:
    if d.strip() == "":
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Delimiter cannot be "
            "empty, if you meant to have a tab or space for delimiter, please use the special "
            "values 'TAB' or 'SPACE'\nExample valid value: ';'"
        )
    if d.upper() == "TAB":
        return "\t"
    if d.upper() == "SPACE":
        return " "
    if len(d) != 1:
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Invalid delimiter "
            f"value: '{d}'. Delimiter must be a single character or TAB,SPACE\nExample "
            "valid value: ';'"
        )
    return d


def split_statements(sql: str) -> list[str]:
    """Split text into statements at top-level `;` (outside quotes and comments), so that
    variables defined by one statement apply to the next. Returns the raw pieces."""
    out: list[str] = []
    buf: list[str] = []
    i = 0
    n = len(sql)
    quote: str | None = None
    while i < n:
        c = sql[i]
        if quote:
            buf.append(c)
            if c == quote:
                if i + 1 < n and sql[i + 1] == quote:
                    buf.append(sql[i + 1])
                    i += 2
                    continue
                quote = None
            i += 1
            continue
        if c in "'\"`":
            quote = c
            buf.append(c)
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            buf.append(sql[i:j])
            i = j
            continue
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            buf.append(sql[i:j])
            i = j
            continue
        elif c == ";":
            buf.append(c)
            out.append("".join(buf))
            buf = []
            i += 1
            continue
        else:
            buf.append(c)
        i += 1
    rest = "".join(buf)
    if rest.strip() and _has_code(rest):
        out.append(rest)
    return out


def _has_code(text: str) -> bool:
    try:
        return bool(parse(text))
    except KsqlParseError:
        return True
