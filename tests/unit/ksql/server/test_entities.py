"""`server.entities`: the one renderer of ksqlDB's REST bodies from the engine's typed results."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.engine import KsqlEngine
from fraudstream.ksql.engine.results import StatementResult
from fraudstream.ksql.server.entities import (
    QueryStats,
    RuntimeView,
    StatementFailure,
    TopicInfo,
    render,
)

DDL = (
    "CREATE STREAM src (id INT KEY, v DOUBLE) WITH (kafka_topic='src', value_format='JSON', "
    "partitions=3);"
    "CREATE STREAM big AS SELECT id, v FROM src WHERE v > 1;"
)


@pytest.fixture
def engine() -> KsqlEngine:
    e = KsqlEngine()
    e.execute(DDL)
    return e


def _one(engine: KsqlEngine, sql: str, **props: str) -> StatementResult:
    (result,) = engine.execute(sql, None, props or None)
    return result


def test_create_renders_current_status_with_the_callers_sequence_number(
    engine: KsqlEngine,
) -> None:
    result = _one(
        engine,
        "CREATE STREAM other (a INT) WITH (kafka_topic='o', partitions=1, value_format='JSON');",
    )
    own = render(result)
    assert own is not None and own["commandSequenceNumber"] == 2  # the engine's counter
    body = render(result, seq=41)
    assert body == {
        "@type": "currentStatus",
        "statementText": result.statement_text,
        "commandId": "stream/`OTHER`/create",
        "commandStatus": {"status": "SUCCESS", "message": "Stream created", "queryId": None},
        "commandSequenceNumber": 41,
        "warnings": [],
    }


def test_statements_ksqldb_answers_without_entity_render_none(engine: KsqlEngine) -> None:
    assert render(_one(engine, "DEFINE x = '1';")) is None
    assert render(_one(engine, "SET 'auto.offset.reset' = 'earliest';")) is None


def test_properties_are_ksqldb_property_list_with_defaults_and_overrides(
    engine: KsqlEngine,
) -> None:
    body = render(_one(engine, "LIST PROPERTIES;", **{"auto.offset.reset": "earliest"}))
    assert body is not None and body["@type"] == "properties"
    props = {p["name"]: p for p in body["properties"]}
    assert props["auto.offset.reset"] == {
        "name": "auto.offset.reset",
        "scope": "KSQL",
        "value": "earliest",
    }
    assert body["overwrittenProperties"] == ["auto.offset.reset"]
    assert "auto.offset.reset" not in body["defaultProperties"]
    assert "ksql.persistence.default.format.key" in body["defaultProperties"]
    assert [p["name"] for p in body["properties"]] == sorted(props)


def test_description_without_runtime_has_no_statistics_and_no_cluster_maps(
    engine: KsqlEngine,
) -> None:
    body = render(_one(engine, "DESCRIBE src;"))
    assert body is not None
    desc = body["sourceDescription"]
    assert (desc["statistics"], desc["errorStats"]) == ("", "")
    assert (desc["statisticsMap"], desc["errorStatsMap"]) == ({}, {})
    assert "clusterStatistics" not in desc and "clusterErrorStats" not in desc
    assert (desc["partitions"], desc["replication"]) == (0, 0)  # not EXTENDED
    assert [q["id"] for q in desc["readQueries"]] == ["CSAS_BIG_1"]
    assert desc["readQueries"][0]["state"] == "RUNNING"
    assert desc["fields"][0] == {
        "name": "ID",
        "schema": {"type": "INTEGER", "fields": None, "memberSchema": None},
        "type": "KEY",
    }


def test_description_with_runtime_reads_runner_counters_and_broker_topic(
    engine: KsqlEngine,
) -> None:
    runtime = RuntimeView(
        queries={"CSAS_BIG_1": QueryStats("RUNNING", consumed=7, produced=4, processing_errors=2)},
        topics={"src": TopicInfo(partitions=6, replication=3)},
    )
    src = render(_one(engine, "DESCRIBE src EXTENDED;"), runtime=runtime)
    big = render(_one(engine, "DESCRIBE big;"), runtime=runtime)
    assert src is not None and big is not None
    s = src["sourceDescription"]
    assert s["statisticsMap"]["consumer-total-messages"] == {
        "name": "consumer-total-messages",
        "value": 7.0,
        "timestamp": 0,
    }
    assert s["errorStatsMap"]["consumer-failed-messages"]["value"] == 2.0
    assert s["statistics"].startswith("The statistics field is deprecated")
    assert s["statistics"].endswith("consumer-total-messages:         7")
    assert s["errorStats"].endswith("consumer-failed-messages:         2\n")
    assert (s["partitions"], s["replication"]) == (6, 3)  # EXTENDED: the broker's topic
    b = big["sourceDescription"]
    assert b["statisticsMap"] == {
        "total-messages": {"name": "total-messages", "value": 4.0, "timestamp": 0}
    }
    assert b["writeQueries"][0]["sinks"] == ["BIG"]


def test_query_without_runner_is_unknown_on_a_server(engine: KsqlEngine) -> None:
    body = render(_one(engine, "LIST QUERIES;"), runtime=RuntimeView())
    assert body is not None
    (query,) = body["queries"]
    assert (query["id"], query["state"], query["statusCount"]) == (
        "CSAS_BIG_1",
        "UNKNOWN",
        {"UNKNOWN": 1},
    )
    assert query["sinkKafkaTopics"] == ["BIG"]


def test_lists_streams_tables_variables_functions_warnings(engine: KsqlEngine) -> None:
    streams = render(_one(engine, "SHOW STREAMS;"))
    assert streams is not None and [s["name"] for s in streams["streams"]] == ["BIG", "SRC"]
    extended = render(_one(engine, "SHOW STREAMS EXTENDED;"))
    assert extended is not None and extended["@type"] == "source_descriptions"
    assert [d["name"] for d in extended["sourceDescriptions"]] == ["SRC", "BIG"]
    engine.execute("DEFINE who = 'me';")
    variables = render(_one(engine, "LIST VARIABLES;"))
    assert variables is not None and variables["variables"] == [{"name": "WHO", "value": "me"}]
    functions = render(_one(engine, "LIST FUNCTIONS;"))
    assert functions is not None
    kinds = {f["name"]: f["type"] for f in functions["functions"]}
    assert (kinds["SUM"], kinds["ABS"]) == ("AGGREGATE", "SCALAR")
    warning = render(_one(engine, "UNDEFINE nope;"))
    assert warning == {
        "@type": "warning_entity",
        "statementText": "UNDEFINE nope;",
        "message": "Cannot undefine variable 'NOPE' which was never defined",
        "warnings": [],
    }
    topics = render(_one(engine, "LIST TOPICS;"))
    assert topics is not None
    assert {"name": "src", "replicaInfo": [1, 1, 1]} in topics["topics"]


def test_statement_failure_body_carries_the_entities_before_it() -> None:
    failure = StatementFailure(400, 40001, "boom", statement_text="DROP STREAM x;")
    failure.entities = [{"@type": "currentStatus"}]
    assert failure.body == {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "boom",
        "statementText": "DROP STREAM x;",
        "entities": [{"@type": "currentStatus"}],
        "stackTrace": [],
    }
    generic = StatementFailure.generic(400, 40000, "bad JSON")
    assert generic.body == {
        "@type": "generic_error",
        "error_code": 40000,
        "message": "bad JSON",
        "stackTrace": [],
    }


def test_explain_renders_as_ksqldb_query_description() -> None:
    """EXPLAIN over REST: ksqlDB's queryDescription entity carrying the printed plan."""
    from fraudstream.ksql.engine.engine import KsqlEngine
    from fraudstream.ksql.server.entities import render

    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM tx (u STRING KEY, amount DOUBLE) WITH (kafka_topic='tx',"
        " value_format='JSON', partitions=1);"
        "CREATE STREAM big AS SELECT u, amount * 2 AS dbl FROM tx WHERE amount > 10;"
    )
    (qid,) = engine.queries
    (res,) = engine.execute(f"EXPLAIN {qid};")
    body = render(res)
    assert body is not None and body["@type"] == "queryDescription"
    desc = body["queryDescription"]
    assert desc["id"] == qid and desc["queryType"] == "PERSISTENT"
    assert desc["sources"] == ["TX"] and desc["sinks"] == ["BIG"]
    assert [f["name"] for f in desc["fields"]] == ["U", "DBL"]
    assert desc["fields"][0]["type"] == "KEY"
    assert "Filter" in desc["executionPlan"] or "FILTER" in desc["executionPlan"].upper()
