"""The operator plan: what a query computes, as printable data (EXPLAIN).

The planner builds a tree of these nodes next to the runtime operators; nothing here runs.
`explain()` prints the tree sink first, each input indented below its consumer, in the
shape of ksqlDB's "Execution plan":

     > [ SINK ] | Schema: ID STRING KEY, AMOUNT DOUBLE | Topic: out
                     > [ PROJECT ] | Schema: ID STRING KEY, AMOUNT DOUBLE
                                     > [ SOURCE ] | Schema: ... | Topic: src
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from fraudstream.ksql.engine.topology import Column

__all__ = [
    "AggregateNode",
    "FilterNode",
    "KeyLookupNode",
    "LimitNode",
    "PartitionByNode",
    "PlanNode",
    "ProjectNode",
    "SinkNode",
    "SourceNode",
    "StreamStreamJoinNode",
    "StreamTableJoinNode",
    "TableScanNode",
    "TableTableJoinNode",
    "TopicScanNode",
    "format_schema",
]


def format_schema(columns: Sequence[Column]) -> str:
    """`NAME TYPE [KEY]` joined by commas, as ksqlDB prints a logical schema."""
    return ", ".join(f"{c.name} {c.type}{' KEY' if c.namespace == 'KEY' else ''}" for c in columns)


@dataclass
class PlanNode:
    """One step of the plan; `inputs` are the steps it consumes."""

    label: ClassVar[str] = "NODE"
    inputs: list[PlanNode] = field(default_factory=list, kw_only=True)
    schema: list[Column] = field(default_factory=list, kw_only=True)

    def details(self) -> list[str]:
        """The `key: value` parts printed after the label (schema first)."""
        return []

    def line(self) -> str:
        parts = [f"[ {self.label} ]"]
        if self.schema:
            parts.append(f"Schema: {format_schema(self.schema)}")
        parts += self.details()
        return " > " + " | ".join(parts)

    def walk(self) -> Iterator[PlanNode]:
        """This node, then its inputs depth first."""
        yield self
        for child in self.inputs:
            yield from child.walk()

    def explain(self, depth: int = 0) -> str:
        lines = ["\t\t" * depth + self.line()]
        lines += [child.explain(depth + 1) for child in self.inputs]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


@dataclass
class SourceNode(PlanNode):
    label: ClassVar[str] = "SOURCE"
    name: str
    kind: str  # STREAM or TABLE
    topic: str
    alias: str
    key_format: str
    value_format: str
    window: str | None = None

    def details(self) -> list[str]:
        out = [
            f"{self.kind}: {self.name}" + (f" AS {self.alias}" if self.alias != self.name else "")
        ]
        out.append(f"Topic: {self.topic}")
        out.append(f"Formats: KEY {self.key_format}, VALUE {self.value_format}")
        if self.window:
            out.append(f"Window: {self.window}")
        return out


@dataclass
class FilterNode(PlanNode):
    label: ClassVar[str] = "FILTER"
    predicate: str

    def details(self) -> list[str]:
        return [f"Predicate: {self.predicate}"]


@dataclass
class PartitionByNode(PlanNode):
    label: ClassVar[str] = "PARTITION BY"
    expressions: list[str]

    def details(self) -> list[str]:
        return [f"Keys: {', '.join(self.expressions) or 'NULL'}"]


@dataclass
class FlatMapNode(PlanNode):
    label: ClassVar[str] = "FLAT MAP"
    functions: list[str]

    def details(self) -> list[str]:
        return [f"Table functions: {', '.join(self.functions)}"]


@dataclass
class ProjectNode(PlanNode):
    label: ClassVar[str] = "PROJECT"
    expressions: list[str]

    def details(self) -> list[str]:
        return [f"Expressions: {', '.join(self.expressions)}"]


@dataclass
class _JoinNode(PlanNode):
    join_type: str  # INNER LEFT RIGHT FULL
    left_key: str
    right_key: str

    def details(self) -> list[str]:
        return [f"Type: {self.join_type}", f"On: {self.left_key} = {self.right_key}"]


@dataclass
class StreamTableJoinNode(_JoinNode):
    label: ClassVar[str] = "STREAM-TABLE JOIN"


@dataclass
class StreamStreamJoinNode(_JoinNode):
    label: ClassVar[str] = "STREAM-STREAM JOIN"
    before_ms: int = 0
    after_ms: int = 0
    grace_ms: int | None = None

    def details(self) -> list[str]:
        within = f"Within: BEFORE {self.before_ms} ms, AFTER {self.after_ms} ms"
        if self.grace_ms is not None:
            within += f", GRACE {self.grace_ms} ms"
        return [*super().details(), within]


@dataclass
class TableTableJoinNode(_JoinNode):
    label: ClassVar[str] = "TABLE-TABLE JOIN"


@dataclass
class AggregateNode(PlanNode):
    label: ClassVar[str] = "AGGREGATE"
    group_by: list[str]
    aggregates: list[str]
    window: str | None = None
    having: str | None = None

    def details(self) -> list[str]:
        out = [f"Group by: {', '.join(self.group_by)}", f"Aggregates: {', '.join(self.aggregates)}"]
        if self.window:
            out.append(f"Window: {self.window}")
        if self.having:
            out.append(f"Having: {self.having}")
        return out


@dataclass
class SinkNode(PlanNode):
    """A persistent query's output topic, or (`topic` None) a push query's client."""

    label: ClassVar[str] = "SINK"
    name: str | None
    kind: str
    topic: str | None
    key_format: str
    value_format: str
    window: str | None = None

    def details(self) -> list[str]:
        if self.topic is None:
            return [f"{self.kind}: push query"]
        out = [f"{self.kind}: {self.name}", f"Topic: {self.topic}"]
        out.append(f"Formats: KEY {self.key_format}, VALUE {self.value_format}")
        if self.window:
            out.append(f"Window: {self.window}")
        return out


# ----------------------------------------------------------------------------- pull queries


@dataclass
class KeyLookupNode(PlanNode):
    """Pull query access step: one lookup per key in the table's materialized store."""

    label: ClassVar[str] = "KEY LOOKUP"
    table: str
    keys: list[str]

    def details(self) -> list[str]:
        return [f"Table: {self.table}", f"Keys: {'; '.join(self.keys)}"]


@dataclass
class TableScanNode(PlanNode):
    """Pull query access step: every row of the table's materialized store (one snapshot).
    `key_range`: ksqlDB would run a range scan (bounds on a STRING key); the store has no
    key order, so it is a scan too, and the WHERE clause above applies the bounds."""

    label: ClassVar[str] = "TABLE SCAN"
    table: str
    query_id: str
    key_range: bool = False

    def details(self) -> list[str]:
        out = [f"Table: {self.table}", f"Store of: {self.query_id}"]
        if self.key_range:
            out.append("Key range (bounds in the filter)")
        return out


@dataclass
class TopicScanNode(PlanNode):
    """Pull query access step: the source's topic read from its start to its end offsets
    (a source table keeps the latest record of each key)."""

    label: ClassVar[str] = "TOPIC SCAN"
    name: str
    kind: str
    topic: str
    latest_per_key: bool = False

    def details(self) -> list[str]:
        out = [f"{self.kind}: {self.name}", f"Topic: {self.topic}"]
        if self.latest_per_key:
            out.append("Latest per key")
        return out


@dataclass
class LimitNode(PlanNode):
    label: ClassVar[str] = "LIMIT"
    limit: int

    def details(self) -> list[str]:
        return [f"Limit: {self.limit}"]
