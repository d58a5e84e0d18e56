"""engine.metastore: what LIST/DESCRIBE read and what DROP asks (readers, writers)."""

from __future__ import annotations

from fraudstream.ksql.engine.engine import KsqlEngine

DDL = (
    "CREATE STREAM src (id INT KEY, v DOUBLE) WITH (kafka_topic='src', value_format='JSON', "
    "partitions=2);"
    "CREATE STREAM sink (id INT KEY, v DOUBLE) WITH (kafka_topic='sink', value_format='JSON', "
    "partitions=2);"
    "CREATE STREAM big AS SELECT id, v FROM src WHERE v > 1;"
    "INSERT INTO sink SELECT id, v FROM src;"
)


def test_readers_writers_and_descriptions() -> None:
    engine = KsqlEngine()
    engine.execute(DDL)
    meta = engine.metastore
    src, sink, big = meta.sources["SRC"], meta.sources["SINK"], meta.sources["BIG"]
    assert sorted(q.id for q in meta.readers(src)) == ["CSAS_BIG_2", "INSERTQUERY_3"]
    assert [q.id for q in meta.writers(sink)] == ["INSERTQUERY_3"]
    assert [q.id for q in meta.writers(big)] == ["CSAS_BIG_2"]
    desc = meta.describe(src, extended=True)
    assert desc.extended and desc.write_queries == ()
    assert [s.name for s in meta.source_list("STREAM").sources] == ["BIG", "SINK", "SRC"]
    assert [d.source.name for d in meta.descriptions("STREAM").descriptions] == [
        "SRC",
        "SINK",
        "BIG",
    ]
    assert ("src", 2) in meta.topic_list().topics
    assert [q.id for q in meta.query_list().queries] == ["CSAS_BIG_2", "INSERTQUERY_3"]


def test_the_engine_and_its_metastore_share_one_catalog() -> None:
    engine = KsqlEngine()
    engine.execute(DDL)
    engine.execute("TERMINATE INSERTQUERY_3; DROP STREAM sink;")
    assert "SINK" not in engine.metastore.sources and "SINK" not in engine.sources
    assert set(engine.metastore.queries) == set(engine.queries) == {"CSAS_BIG_2"}
    copy = engine.snapshot()
    copy.execute("DROP STREAM big;")
    assert "BIG" in engine.sources and "BIG" not in copy.metastore.sources
