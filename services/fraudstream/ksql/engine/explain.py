"""EXPLAIN: what a persistent query (by id) or a SELECT would compute, as a typed result.

The plan text is the operator tree of `plan.PlanNode.explain()`; the REST server renders
the rest as ksqlDB's `queryDescription` entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fraudstream.ksql.engine import messages
from fraudstream.ksql.engine.formats import SchemaRegistryLike
from fraudstream.ksql.engine.plan import PlanNode, SinkNode, SourceNode
from fraudstream.ksql.engine.planner import Planner
from fraudstream.ksql.engine.pull import plan_pull
from fraudstream.ksql.engine.topology import BaseQuery, Column, DataSource, PersistentQuery
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import ast as A

__all__ = ["ExplainResult", "explain", "explain_query"]


@dataclass(frozen=True)
class ExplainResult:
    """One query's description. `query_id` is None for EXPLAIN <SELECT>."""

    statement_text: str  # the EXPLAIN statement
    query_id: str | None
    query_text: str  # the explained query
    query_type: str  # PERSISTENT, PUSH or PULL
    plan: PlanNode
    fields: list[Column] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    sink_topics: list[str] = field(default_factory=list)
    window_type: str | None = None
    state: str | None = None

    @property
    def execution_plan(self) -> str:
        return self.plan.explain()

    def __str__(self) -> str:
        return self.execution_plan


def explain_query(
    statement_text: str, query: BaseQuery, plan: PlanNode, *, persistent: bool
) -> ExplainResult:
    """The description of a planned query (running, or planned only to be explained)."""
    sources: list[str] = []
    for node in plan.walk():
        if isinstance(node, SourceNode) and node.name not in sources:
            sources.append(node.name)
    sink = plan if isinstance(plan, SinkNode) else None
    sinks = [sink.name] if persistent and sink is not None and sink.name else []
    topics = [sink.topic] if persistent and sink is not None and sink.topic else []
    return ExplainResult(
        statement_text=statement_text,
        query_id=query.id if persistent else None,
        query_text=query.statement_text,
        query_type="PERSISTENT" if persistent else "PUSH",
        plan=plan,
        fields=list(query.schema),
        sources=sources,
        sinks=sinks,
        sink_topics=topics,
        window_type=sink.window.split()[0] if sink is not None and sink.window else None,
        state=query.state if persistent else None,
    )


def explain(
    stmt: A.Explain,
    queries: Mapping[str, PersistentQuery],
    sources: Mapping[str, DataSource],
    registry: SchemaRegistryLike | None,
    properties: Mapping[str, Any],
) -> ExplainResult:
    """EXPLAIN <query id> (a running persistent query) or EXPLAIN <SELECT> (planned as a push
    query, or with no EMIT as a pull query, over the current metastore; nothing starts)."""
    if stmt.query is None:
        pq = queries.get(stmt.target)
        if pq is None or pq.plan is None:
            raise KsqlStatementError(messages.query_does_not_exist(stmt.target), stmt.text)
        return explain_query(stmt.text, pq, pq.plan, persistent=True)
    text = re.sub(r"^\s*EXPLAIN\s+", "", stmt.text, flags=re.IGNORECASE)
    if stmt.query.emit is None:  # a pull query: its access step, filter, projection, limit
        pull = plan_pull(
            A.QueryStatement(stmt.query, text),
            sources=sources,
            queries=queries,
            registry=registry,
            properties=properties,
        )
        return ExplainResult(
            statement_text=stmt.text,
            query_id=None,
            query_text=text,
            query_type="PULL",
            plan=pull.plan,
            fields=list(pull.schema),
            sources=[pull.source.name],
        )
    planner = Planner(
        sources=sources,
        registry=registry,
        properties=properties,
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
