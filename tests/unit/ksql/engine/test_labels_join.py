"""`ksql/` with the delayed-label join (06_labels.sql), run in memory through the engine:
labels arriving later turn unlabelled events into training rows; events that arrive already
labelled still reach training once; a label later than the join window is dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import orjson
import pytest

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine, OutRecord

KSQL_DIR = Path(__file__).resolve().parents[4] / "ksql"
VARS = {
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
MIN_MS = 60_000


class Pipeline:
    def __init__(self) -> None:
        self.reg = InMemorySchemaRegistry()
        self.engine = KsqlEngine(schema_registry=self.reg)
        for path in sorted(KSQL_DIR.glob("*.sql")):
            self.engine.execute(path.read_text(), VARS)
        self.out: dict[str, list[OutRecord]] = {}

    def send(self, topic: str, key: bytes | None, value: bytes | None, ts: int) -> None:
        for q in self.engine.queries_for_topic(topic):
            for rec in q.process(InRecord(topic, key, value, ts)):
                self.out.setdefault(rec.topic, []).append(rec)
                self.send(rec.topic, rec.key, rec.value, rec.timestamp)

    def event(self, i: int, cls: int | None, ts: int) -> None:
        ev = {"Id": i, "Timestamp": "2013-09-01T00:00:00Z", "User": "alice", "Time": i,
              **{f"V{k}": k / 10 for k in range(1, 29)}, "Amount": 3.5, "Class": cls}  # fmt: skip
        self.send("src", b"alice", orjson.dumps(ev), ts)

    def label(self, i: int, cls: int, ts: int) -> None:
        body = {"Id": i, "Class": cls, "LabelTime": "2026-01-01T00:00:00Z"}
        self.send("labels", str(i).encode(), orjson.dumps(body), ts)

    def training(self) -> list[dict[str, object]]:
        rows = []
        for rec in self.out.get("train", []):
            assert rec.value is not None and rec.value[0] == 0
            sid = int.from_bytes(rec.value[1:5], "big")
            schema = fastavro.parse_schema(json.loads(self.reg.get_schema(sid)))
            rows.append(fastavro.schemaless_reader(io.BytesIO(rec.value[5:]), schema, None))
        return rows  # type: ignore[return-value]


@pytest.fixture()
def p() -> Pipeline:
    return Pipeline()


def test_a_later_label_makes_an_unlabelled_event_a_training_row(p: Pipeline) -> None:
    t0 = 1_780_000_000_000
    p.event(1, None, t0)
    p.event(2, None, t0)
    assert p.training() == []  # no label yet
    p.label(1, 1, t0 + 5_000)
    p.label(2, 0, t0 + 110_000)  # within the 2-minute window
    rows = p.training()
    assert [(r["ID"], r["CLASS"]) for r in rows] == [(1, 1), (2, 0)]
    assert rows[0]["V3"] == pytest.approx(0.3) and rows[0]["AMOUNT"] == pytest.approx(3.5)
    assert set(rows[0]) == {"ID", "TIMESTAMP", "TIME", *(f"V{k}" for k in range(1, 29)),
                            "AMOUNT", "CLASS"}  # fmt: skip
    assert all(rec.key is None for rec in p.out["train"]), "training records carry no key"


def test_already_labelled_events_reach_training_once(p: Pipeline) -> None:
    t0 = 1_780_000_000_000
    p.event(7, 1, t0)  # historic data: labelled on arrival (03's WHERE Class IS NOT NULL)
    p.label(7, 1, t0 + 1_000)  # a label record for it too: not a second row
    assert [(r["ID"], r["CLASS"]) for r in p.training()] == [(7, 1)]


def test_a_label_after_the_window_is_dropped(p: Pipeline) -> None:
    t0 = 1_780_000_000_000
    p.event(3, None, t0)
    p.label(3, 1, t0 + 3 * MIN_MS)
    p.label(99, 1, t0)  # a label without its event
    assert p.training() == []
    assert "labelled" not in p.out
