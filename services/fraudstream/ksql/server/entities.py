"""THE one place that renders ksqlDB's REST bodies: statuses, LIST/SHOW/DESCRIBE, errors.

The engine answers with typed results (`fraudstream.ksql.engine.results`); this module turns
them into the JSON entities of ksqlDB's rest-model (`io.confluent.ksql.rest.entity`):
`currentStatus`, `streams`/`tables`, `source_descriptions`, `sourceDescription`, `queries`,
`kafka_topics`, `properties`, `variables`, `function_names`, `warning_entity`, and the
`statement_error`/`generic_error` bodies. What only the running server knows (query states and
counters, the broker's topics) comes in as a `RuntimeView`; without one (the engine alone,
the conformance runner) queries show their planned state and sources no statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fraudstream.errors import KsqlError
from fraudstream.ksql.engine.explain import ExplainResult
from fraudstream.ksql.engine.results import (
    CommandStatus,
    FunctionList,
    Outcome,
    PropertyList,
    QueryList,
    SourceDescription,
    SourceDescriptionList,
    SourceList,
    StatementResult,
    TopicList,
    VariableList,
    WarningMessage,
)
from fraudstream.ksql.engine.topology import Column, DataSource, PersistentQuery
from fraudstream.ksql.sql import types as T

__all__ = [
    "Entity",
    "QueryStats",
    "RuntimeView",
    "StatementFailure",
    "TopicInfo",
    "error_body",
    "kafka_topics",
    "render",
    "render_outcome",
    "status_entity",
]

Entity = dict[str, Any]

STATISTICS_DEPRECATED = (
    "The statistics field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use statisticsMap instead.\n"
)
ERROR_STATS_DEPRECATED = (
    "The errorStats field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use errorStatsMap instead.\n"
)


# -- what the running server adds ------------------------------------------------------------


@dataclass(frozen=True)
class QueryStats:
    """A persistent query's runner as the server sees it."""

    state: str
    consumed: int = 0
    produced: int = 0
    processing_errors: int = 0


@dataclass(frozen=True)
class TopicInfo:
    """A topic as the broker describes it."""

    partitions: int
    replication: int = 1


@dataclass(frozen=True)
class RuntimeView:
    """The server's runners (by query id) and the broker's topics (by name).

    A query without a runner is `UNKNOWN` (it is being started or failed to start)."""

    queries: Mapping[str, QueryStats] = field(default_factory=dict)
    topics: Mapping[str, TopicInfo] = field(default_factory=dict)


# -- errors ----------------------------------------------------------------------------------


def error_body(
    error_code: int,
    message: str,
    *,
    kind: str = "statement_error",
    statement_text: str | None = None,
    entities: Sequence[Entity] | None = None,
) -> Entity:
    """ksqlDB's KsqlErrorMessage (`generic_error`) / KsqlStatementErrorMessage JSON."""
    body: Entity = {"@type": kind, "error_code": error_code, "message": message}
    if kind == "statement_error":
        body["statementText"] = statement_text or ""
        body["entities"] = list(entities or [])
    body["stackTrace"] = []
    return body


class StatementFailure(KsqlError):
    """A request failed: the HTTP status and ksqlDB error body to answer with.

    `entities` are the entities of the statements of the same /ksql request that ran before
    the failing one (ksqlDB answers them inside the error body)."""

    def __init__(
        self,
        status: int,
        error_code: int,
        message: str,
        *,
        kind: str = "statement_error",
        statement_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.kind = kind
        self.statement_text = statement_text
        self.entities: list[Entity] = []

    @classmethod
    def generic(cls, status: int, error_code: int, message: str) -> StatementFailure:
        """A request-level error (bad JSON, missing field): no statement."""
        return cls(status, error_code, message, kind="generic_error")

    @property
    def body(self) -> Entity:
        return error_body(
            self.error_code,
            self.message,
            kind=self.kind,
            statement_text=self.statement_text,
            entities=self.entities,
        )


# -- statuses --------------------------------------------------------------------------------


def status_entity(
    statement_text: str,
    command_id: str,
    message: str,
    seq: int,
    query_id: str | None = None,
    *,
    with_null_query_id: bool = True,
) -> Entity:
    """ksqlDB's CommandStatusEntity (`currentStatus`)."""
    status: Entity = {"status": "SUCCESS", "message": message}
    if query_id is not None or with_null_query_id:
        status["queryId"] = query_id
    return {
        "@type": "currentStatus",
        "statementText": statement_text,
        "commandId": command_id,
        "commandStatus": status,
        "commandSequenceNumber": seq,
        "warnings": [],
    }


# -- schemas ---------------------------------------------------------------------------------


def schema_entity(t: T.SqlType) -> Entity:
    """ksqlDB's SchemaInfo: type, struct fields, array/map member schema, decimal parameters."""
    if t.base in (T.ARRAY, T.MAP) and t.item is not None:
        return {"type": t.base, "fields": None, "memberSchema": schema_entity(t.item)}
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


def field_entity(c: Column) -> Entity:
    """ksqlDB's FieldInfo; key columns carry `"type": "KEY"`."""
    out: Entity = {"name": c.name, "schema": schema_entity(c.type)}
    if c.namespace == "KEY":
        out["type"] = "KEY"
    return out


# -- sources and queries ---------------------------------------------------------------------


def _source_summary(s: DataSource) -> Entity:
    return {
        "type": s.kind,
        "name": s.name,
        "topic": s.topic,
        "keyFormat": s.key_format.name,
        "valueFormat": s.value_format.name,
        "isWindowed": s.window is not None,
    }


def _query_state(q: PersistentQuery, runtime: RuntimeView | None) -> str:
    if runtime is None:
        return q.state
    stats = runtime.queries.get(q.id)
    return stats.state if stats is not None else "UNKNOWN"


def query_summary(q: PersistentQuery, runtime: RuntimeView | None) -> Entity:
    """ksqlDB's RunningQuery."""
    state = _query_state(q, runtime)
    return {
        "queryString": q.statement_text,
        "sinks": [q.sink_name] if q.sink_name else [],
        "sinkKafkaTopics": [q.sink_topic] if q.sink_topic else [],
        "id": q.id,
        "statusCount": {state: 1},
        "queryType": "PERSISTENT",
        "state": state,
    }


def _stat(name: str, value: float) -> Entity:
    """ksqlDB's TopicSensors.Stat (no timestamp kept: 0, which ksqlDB prints as n/a)."""
    return {"name": name, "value": float(value), "timestamp": 0}


def _stats_text(stats: Mapping[str, Entity]) -> str:
    """Stat.formatted() joined by spaces, as ksqlDB's deprecated `statistics` string."""
    return " ".join(f"{s['name']:>16}:{s['value']:>10.0f}" for s in stats.values())


def _statistics(
    d: SourceDescription, runtime: RuntimeView | None
) -> tuple[dict[str, Entity], dict[str, Entity]]:
    """statisticsMap/errorStatsMap: what the queries reading and writing the source counted."""
    if runtime is None:
        return {}, {}
    readers = [runtime.queries[q.id] for q in d.read_queries if q.id in runtime.queries]
    writers = [runtime.queries[q.id] for q in d.write_queries if q.id in runtime.queries]
    stats: dict[str, Entity] = {}
    errors: dict[str, Entity] = {}
    if readers:
        stats["consumer-total-messages"] = _stat(
            "consumer-total-messages", sum(r.consumed for r in readers)
        )
        errors["consumer-failed-messages"] = _stat(
            "consumer-failed-messages", sum(r.processing_errors for r in readers)
        )
    if writers:
        stats["total-messages"] = _stat("total-messages", sum(w.produced for w in writers))
    return stats, errors


def _partitions(d: SourceDescription, runtime: RuntimeView | None) -> tuple[int, int]:
    """ksqlDB fills partitions/replication from the topic only for EXTENDED (else 0, 0)."""
    if not d.extended:
        return 0, 0
    topic = runtime.topics.get(d.source.topic) if runtime is not None else None
    if topic is not None:
        return topic.partitions, topic.replication
    return d.source.partitions, d.source.replicas


def source_description(d: SourceDescription, runtime: RuntimeView | None) -> Entity:
    """ksqlDB's SourceDescription (clusterStatistics/clusterErrorStats: NON_EMPTY, omitted)."""
    s = d.source
    stats, errors = _statistics(d, runtime)
    stats_text, errors_text = _stats_text(stats), _stats_text(errors)
    partitions, replication = _partitions(d, runtime)
    return {
        "name": s.name,
        "windowType": s.window.type if s.window else None,
        "readQueries": [query_summary(q, runtime) for q in d.read_queries],
        "writeQueries": [query_summary(q, runtime) for q in d.write_queries],
        "fields": [field_entity(c) for c in s.columns],
        "type": s.kind,
        "timestamp": s.timestamp_column or "",
        "statistics": STATISTICS_DEPRECATED + stats_text if stats_text else "",
        "errorStats": ERROR_STATS_DEPRECATED + errors_text + "\n" if errors_text else "",
        "statisticsMap": stats,
        "errorStatsMap": errors,
        "extended": d.extended,
        "keyFormat": s.key_format.name,
        "valueFormat": s.value_format.name,
        "topic": s.topic,
        "partitions": partitions,
        "replication": replication,
        "statement": s.statement_text,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
    }


def kafka_topics(statement_text: str, topics: Sequence[tuple[str, int]]) -> Entity:
    """ksqlDB's KafkaTopicsList: one replica count per partition."""
    return {
        "@type": "kafka_topics",
        "statementText": statement_text,
        "topics": [{"name": n, "replicaInfo": [1] * max(1, p)} for n, p in topics],
        "warnings": [],
    }


# -- the dispatch ----------------------------------------------------------------------------


def _listing(text: str, kind: str, key: str, items: list[Entity]) -> Entity:
    return {"@type": kind, "statementText": text, key: items, "warnings": []}


def _properties(text: str, p: PropertyList) -> Entity:
    return {
        "@type": "properties",
        "statementText": text,
        "properties": [{"name": n, "scope": "KSQL", "value": v} for n, v in p.properties],
        "overwrittenProperties": list(p.overwritten),
        "defaultProperties": list(p.defaults),
        "warnings": [],
    }


def query_description(text: str, e: ExplainResult) -> Entity:
    """ksqlDB's QueryDescriptionEntity for EXPLAIN (the plan printed as `executionPlan`)."""
    return {
        "@type": "queryDescription",
        "statementText": text,
        "queryDescription": {
            "id": e.query_id or "",
            "statementText": e.query_text,
            "windowType": e.window_type,
            "fields": [field_entity(c) for c in e.fields],
            "sources": list(e.sources),
            "sinks": list(e.sinks),
            "topology": "",
            "executionPlan": e.execution_plan,
            "overriddenProperties": {},
            "ksqlHostQueryStatus": {},
            "queryType": e.query_type,
            "queryErrors": [],
            "tasksMetadata": [],
            "state": e.state,
        },
        "warnings": [],
    }


def render_outcome(
    text: str, outcome: Outcome, *, runtime: RuntimeView | None = None, seq: int | None = None
) -> Entity:
    """The REST entity for one statement's typed outcome."""
    if isinstance(outcome, CommandStatus):
        number = outcome.seq if seq is None else seq
        return status_entity(text, outcome.command_id, outcome.message, number, outcome.query_id)
    if isinstance(outcome, SourceList):
        key = "streams" if outcome.kind == "STREAM" else "tables"
        return _listing(text, key, key, [_source_summary(s) for s in outcome.sources])
    if isinstance(outcome, SourceDescription):
        return {
            "@type": "sourceDescription",
            "statementText": text,
            "sourceDescription": source_description(outcome, runtime),
            "warnings": [],
        }
    if isinstance(outcome, SourceDescriptionList):
        items = [source_description(d, runtime) for d in outcome.descriptions]
        return _listing(text, "source_descriptions", "sourceDescriptions", items)
    if isinstance(outcome, QueryList):
        queries = [query_summary(q, runtime) for q in outcome.queries]
        return _listing(text, "queries", "queries", queries)
    if isinstance(outcome, TopicList):
        return kafka_topics(text, outcome.topics)
    if isinstance(outcome, PropertyList):
        return _properties(text, outcome)
    if isinstance(outcome, VariableList):
        items = [{"name": n, "value": v} for n, v in outcome.variables]
        return _listing(text, "variables", "variables", items)
    if isinstance(outcome, FunctionList):
        items = [{"name": n, "type": t, "category": ""} for n, t in outcome.functions]
        return _listing(text, "function_names", "functions", items)
    if isinstance(outcome, ExplainResult):
        return query_description(text, outcome)
    if isinstance(outcome, WarningMessage):
        return {
            "@type": "warning_entity",
            "statementText": text,
            "message": outcome.message,
            "warnings": [],
        }
    raise TypeError(f"no REST entity for {type(outcome).__name__}")


def render(
    result: StatementResult, *, runtime: RuntimeView | None = None, seq: int | None = None
) -> Entity | None:
    """The REST entity for one statement's result (None: ksqlDB answers with no entity)."""
    if result.outcome is None:
        return None
    return render_outcome(result.statement_text, result.outcome, runtime=runtime, seq=seq)
