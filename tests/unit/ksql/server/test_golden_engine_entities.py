"""The engine's typed results (status, LIST, SHOW, DESCRIBE, errors) over the project's own
`ksql/*.sql`, rendered by `server.entities` without a running server, compared with golden
bodies taken before the issue-13 move (tests/golden/ksql; see its README for the one
deliberate reconciliation)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, KsqlEngine
from fraudstream.ksql.errors import KsqlError, statement_text_of
from fraudstream.ksql.server.entities import render

ROOT = Path(__file__).resolve().parents[4]
GOLDEN = ROOT / "tests" / "golden" / "ksql" / "engine.json"
VARIABLES = {
    "source_topic": "src",
    "source_partitions": "2",
    "users_topic": "users",
    "users_partitions": "1",
    "training_topic": "train",
    "live_topic": "live",
    "live_partitions": "2",
    "enriched_topic": "enriched",
    "per_user_topic": "peruser",
    "per_user_min_v1": "5",
    "labels_topic": "labels",
    "labelled_topic": "labelled",
}
_PROBE_SETS = json.loads((ROOT / "tests" / "golden" / "ksql" / "probes.json").read_text())
PROBES = _PROBE_SETS["engine_and_server"]


def _outcome(engine: KsqlEngine, sql: str) -> Any:
    try:
        return [render(r) or {} for r in engine.execute(sql, VARIABLES)]
    except KsqlError as exc:
        return {
            "error": type(exc).__name__,
            "message": str(exc),
            "statement_text": statement_text_of(exc),
        }


def _bodies() -> dict[str, Any]:
    engine = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    bodies: dict[str, Any] = {}
    for path in sorted((ROOT / "ksql").glob("*.sql")):
        bodies[path.name] = _outcome(engine, path.read_text())
    for sql in PROBES:
        bodies[sql] = _outcome(engine, sql)
    return bodies


def test_engine_entities_match_the_golden_bodies() -> None:
    bodies = json.loads(json.dumps(_bodies()))  # tuples -> lists, as a REST body would
    if os.environ.get("FRAUDSTREAM_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(bodies, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(bodies) == set(golden)
    for key, body in golden.items():
        assert bodies[key] == body, key


def test_the_golden_file_covers_list_describe_and_errors() -> None:
    """The golden file holds the bodies it claims to: every probe, a stream and a table."""
    golden = json.loads(GOLDEN.read_text())
    assert set(PROBES) <= set(golden)
    stream = golden["DESCRIBE CREDITCARDFRAUD_SOURCE EXTENDED;"][0]["sourceDescription"]
    table = golden["DESCRIBE USERS EXTENDED;"][0]["sourceDescription"]
    assert (stream["type"], table["type"]) == ("STREAM", "TABLE")
    # ksqlDB's PropertiesList: a list of {name, scope, value} (the engine's dict before)
    (props,) = golden["LIST PROPERTIES;"]
    assert {"name": "auto.offset.reset", "scope": "KSQL", "value": "latest"} in props["properties"]
    assert "auto.offset.reset" in props["defaultProperties"]
    # ksqlDB's SourceDescription: the stats maps; the cluster maps omitted when empty
    assert (table["statisticsMap"], table["errorStatsMap"]) == ({}, {})
    assert "clusterStatistics" not in table and "clusterErrorStats" not in table
    assert golden["DESCRIBE NOPE;"]["error"] == "KsqlStatementError"
    assert golden["DESCRIBE EXTENDED USERS;"]["error"] == "KsqlParseError"  # ksqlDB: X EXTENDED
