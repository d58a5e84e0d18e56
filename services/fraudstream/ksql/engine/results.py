"""What a statement answers, typed: the engine says what happened, the server renders it.

No REST shapes here: `fraudstream.ksql.server.entities` turns these into ksqlDB's JSON
entities (`currentStatus`, `streams`, `sourceDescription`, `properties`, ...). A
`StatementResult` also carries what the caller must do against Kafka (topics to create or
delete, records to produce, queries to start or stop); the engine itself never touches Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudstream.ksql.engine.explain import ExplainResult
from fraudstream.ksql.engine.topology import DataSource, OutRecord, PersistentQuery

__all__ = [
    "CommandStatus",
    "FunctionList",
    "Outcome",
    "PropertyList",
    "QueryList",
    "SourceDescription",
    "SourceDescriptionList",
    "SourceList",
    "StatementResult",
    "TopicList",
    "TopicSpec",
    "VariableList",
    "WarningMessage",
]


@dataclass(frozen=True)
class CommandStatus:
    """A DDL/DML statement ran (ksqlDB's CommandStatusEntity): created, dropped, terminated."""

    command_id: str
    message: str
    query_id: str | None
    seq: int


@dataclass(frozen=True)
class SourceList:
    """LIST STREAMS / LIST TABLES: the sources of one kind, by name."""

    kind: str  # STREAM | TABLE
    sources: tuple[DataSource, ...]


@dataclass(frozen=True)
class SourceDescription:
    """DESCRIBE: one source with the persistent queries reading and writing it."""

    source: DataSource
    read_queries: tuple[PersistentQuery, ...]
    write_queries: tuple[PersistentQuery, ...]
    extended: bool


@dataclass(frozen=True)
class SourceDescriptionList:
    """SHOW STREAMS/TABLES EXTENDED: a description of each source of one kind."""

    descriptions: tuple[SourceDescription, ...]


@dataclass(frozen=True)
class QueryList:
    """LIST QUERIES: the persistent queries."""

    queries: tuple[PersistentQuery, ...]


@dataclass(frozen=True)
class TopicList:
    """LIST TOPICS as the engine knows them: (name, partition count)."""

    topics: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PropertyList:
    """LIST PROPERTIES: the merged properties (engine's plus the request's overrides).

    `overwritten`: names a request override changed; `defaults`: names still at the default
    (ksqlDB's ListPropertiesExecutor computes both the same way)."""

    properties: tuple[tuple[str, str], ...]
    overwritten: tuple[str, ...]
    defaults: tuple[str, ...]


@dataclass(frozen=True)
class VariableList:
    """LIST VARIABLES: (name, value) in definition order."""

    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FunctionList:
    """LIST FUNCTIONS: (name, SCALAR | AGGREGATE) by name."""

    functions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WarningMessage:
    """A statement that did nothing, with why (UNDEFINE of an unknown variable)."""

    message: str


Outcome = (
    CommandStatus
    | SourceList
    | SourceDescription
    | SourceDescriptionList
    | QueryList
    | TopicList
    | PropertyList
    | VariableList
    | FunctionList
    | WarningMessage
    | ExplainResult
)


@dataclass
class TopicSpec:
    """A topic the caller must make sure exists before running a query."""

    name: str
    partitions: int = 1
    replicas: int = 1
    config: dict[str, str] = field(default_factory=dict)


@dataclass
class StatementResult:
    """Outcome of one statement plus the side effects the caller applies against Kafka.

    `outcome` is None when ksqlDB answers with no entity (DEFINE, SET, INSERT VALUES) or the
    statement was a no-op the caller reports itself (CREATE ... AS SELECT IF NOT EXISTS on an
    existing source)."""

    statement_text: str
    type: str
    message: str = ""
    outcome: Outcome | None = None
    query: PersistentQuery | None = None
    source: DataSource | None = None
    records: list[OutRecord] = field(default_factory=list)
    topics_to_create: list[TopicSpec] = field(default_factory=list)
    topics_to_delete: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
