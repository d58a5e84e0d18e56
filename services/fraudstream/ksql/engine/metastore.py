"""The catalog: streams and tables by name, persistent queries by id, topics known to exist.

What LIST, SHOW and DESCRIBE read, and what DROP asks before it drops: which queries read a
source's topic and which write into it. Statements change it through the engine (the engine
commits a source or query once every check passed); nothing here touches Kafka.
"""

from __future__ import annotations

from fraudstream.ksql.engine.results import (
    QueryList,
    SourceDescription,
    SourceDescriptionList,
    SourceList,
    TopicList,
)
from fraudstream.ksql.engine.topology import DataSource, PersistentQuery

__all__ = ["Metastore"]


class Metastore:
    """Sources, persistent queries and known topics (name -> partition count)."""

    def __init__(self) -> None:
        self.sources: dict[str, DataSource] = {}
        self.queries: dict[str, PersistentQuery] = {}
        self.known_topics: dict[str, int] = {}

    def readers(self, src: DataSource) -> list[PersistentQuery]:
        """The queries reading the source's topic (a sink's own query too)."""
        return [q for q in self.queries.values() if src.topic in q.source_topics]

    def writers(self, src: DataSource) -> list[PersistentQuery]:
        """The queries writing into the source (its CSAS/CTAS and INSERT INTO queries)."""
        return [q for q in self.queries.values() if q.sink_name == src.name]

    def queries_for_topic(self, topic: str) -> list[PersistentQuery]:
        return [q for q in self.queries.values() if topic in q.source_topics]

    def describe(self, src: DataSource, extended: bool = False) -> SourceDescription:
        """DESCRIBE: the source with the queries reading and writing it."""
        return SourceDescription(
            source=src,
            read_queries=tuple(self.readers(src)),
            write_queries=tuple(self.writers(src)),
            extended=extended,
        )

    def source_list(self, kind: str) -> SourceList:
        """LIST STREAMS / TABLES: by name."""
        by_name = sorted(self.sources.values(), key=lambda s: s.name)
        return SourceList(kind, tuple(s for s in by_name if s.kind == kind))

    def descriptions(self, kind: str) -> SourceDescriptionList:
        """SHOW STREAMS / TABLES EXTENDED: in creation order, as ksqlDB's metastore keeps them."""
        return SourceDescriptionList(
            tuple(self.describe(s, True) for s in self.sources.values() if s.kind == kind)
        )

    def query_list(self) -> QueryList:
        return QueryList(tuple(self.queries.values()))

    def topic_list(self) -> TopicList:
        """The topics the engine knows of: told by its caller, or declared by a source."""
        names = sorted(set(self.known_topics) | {s.topic for s in self.sources.values()})
        return TopicList(tuple((t, self.known_topics.get(t, 1)) for t in names))
