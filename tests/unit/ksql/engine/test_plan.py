"""The plan as printable data: one line per step, inputs indented under their consumer."""

from __future__ import annotations

from fraudstream.ksql.engine.plan import (
    FilterNode,
    ProjectNode,
    SinkNode,
    SourceNode,
    StreamStreamJoinNode,
)
from fraudstream.ksql.engine.topology import Column
from fraudstream.ksql.sql import types as T


def _source(name: str) -> SourceNode:
    cols = [Column("ID", T.T_STRING, "KEY"), Column("X", T.T_DOUBLE, "VALUE")]
    return SourceNode(name, "STREAM", name.lower(), name, "KAFKA", "JSON", schema=cols)


def test_explain_prints_the_tree_sink_first() -> None:
    join = StreamStreamJoinNode(
        "LEFT", "L.ID", "R.ID", 100, 200, 50, inputs=[_source("L"), _source("R")]
    )
    proj = ProjectNode(["L.ID AS ID"], inputs=[FilterNode("(L.X > 1)", inputs=[join])])
    sink = SinkNode("OUT", "STREAM", "out", "KAFKA", "AVRO", inputs=[proj])
    lines = str(sink).splitlines()
    assert lines[0] == " > [ SINK ] | STREAM: OUT | Topic: out | Formats: KEY KAFKA, VALUE AVRO"
    assert lines[1] == "\t\t > [ PROJECT ] | Expressions: L.ID AS ID"
    assert lines[2] == "\t\t\t\t > [ FILTER ] | Predicate: (L.X > 1)"
    assert lines[3] == (
        "\t\t\t\t\t\t > [ STREAM-STREAM JOIN ] | Type: LEFT | On: L.ID = R.ID | "
        "Within: BEFORE 100 ms, AFTER 200 ms, GRACE 50 ms"
    )
    assert lines[4].startswith("\t" * 8 + " > [ SOURCE ] | Schema: ID STRING KEY, X DOUBLE")
    assert "STREAM: L | Topic: l | Formats: KEY KAFKA, VALUE JSON" in lines[4]
    assert len(lines) == 6


def test_walk_visits_every_step_depth_first() -> None:
    sink = SinkNode("S", "TABLE", None, "KAFKA", "JSON", inputs=[_source("A")])
    assert [type(n).__name__ for n in sink.walk()] == ["SinkNode", "SourceNode"]
    assert sink.line() == " > [ SINK ] | TABLE: push query"
