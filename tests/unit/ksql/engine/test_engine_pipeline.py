"""The project's own preprocessing statements, run in memory through the engine."""

from __future__ import annotations

import io
import json

import fastavro
import orjson
import pytest

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine, OutRecord
from fraudstream.ksql.engine.results import SourceDescription, SourceList
from fraudstream.ksql.errors import KsqlStatementError

FEATURES = ", ".join(f"V{i} DOUBLE" for i in range(1, 29))
PIPELINE = f"""
DEFINE source_topic = 'creditcardfraud_source';
CREATE STREAM creditcard_raw (Id BIGINT, `Timestamp` VARCHAR, `User` VARCHAR, Time INT, {FEATURES},
    Amount DOUBLE, Class INT)
  WITH (KAFKA_TOPIC='${{source_topic}}', VALUE_FORMAT='JSON', PARTITIONS=1);
CREATE STREAM creditcard_preprocessed WITH (KAFKA_TOPIC='creditcardfraud_preprocessed_avro',
    VALUE_FORMAT='AVRO') AS
  SELECT Id, `Timestamp`, Time, {", ".join(f"V{i}" for i in range(1, 29))}, Amount, Class
  FROM creditcard_raw WHERE Class IS NOT NULL EMIT CHANGES;
CREATE STREAM creditcard_live WITH (KAFKA_TOPIC='creditcardfraud_live_avro', VALUE_FORMAT='AVRO') AS
  SELECT Id, `Timestamp`, MASK_LEFT(`User`, 2) AS USERID, Time,
         {", ".join(f"V{i}" for i in range(1, 29))},
         Amount, IFNULL(Class, -1) AS CLASS
  FROM creditcard_raw EMIT CHANGES;
CREATE TABLE users (userid VARCHAR PRIMARY KEY, name VARCHAR, city VARCHAR)
  WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON', PARTITIONS=1);
CREATE STREAM creditcard_keyed AS SELECT `User` AS userid, Id, V1, V2, Amount
  FROM creditcard_raw PARTITION BY `User`;
CREATE STREAM creditcard_per_user
  WITH (KAFKA_TOPIC='creditcardfraud_per_user', VALUE_FORMAT='AVRO') AS
  SELECT MASK_LEFT(c.userid, 2) AS userid, AS_VALUE(MASK_LEFT(c.userid, 2)) AS masked_user,
         c.Id AS id, u.city AS city, c.V1 AS v1, c.Amount AS amount
  FROM creditcard_keyed c INNER JOIN users u ON c.userid = u.userid
  WHERE V1 > 5 AND V2 IS NOT NULL AND u.CITY LIKE 'Premium%'
  PARTITION BY MASK_LEFT(c.userid, 2) EMIT CHANGES;
"""


def _event(i: int, user: str, cls: int | None, v1: float = 0.5) -> bytes:
    ev = {
        "Id": i,
        "Timestamp": "2024-01-01T00:00:00Z",
        "User": user,
        "Time": i * 10,
        **{f"V{k}": float(k) / 10 for k in range(1, 29)},
        "Amount": 12.5,
        "Class": cls,
    }
    ev["V1"] = v1
    return orjson.dumps(ev)


def _avro(reg: InMemorySchemaRegistry, data: bytes) -> dict[str, object]:
    assert data[0] == 0
    sid = int.from_bytes(data[1:5], "big")
    schema = fastavro.parse_schema(json.loads(reg.get_schema(sid)))
    return fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None)  # type: ignore[return-value]


class Driver:
    """Feeds records to every query reading their topic, like the Kafka runtime would."""

    def __init__(self, engine: KsqlEngine) -> None:
        self.engine = engine
        self.out: dict[str, list[OutRecord]] = {}

    def send(self, topic: str, key: bytes | None, value: bytes | None, ts: int = 0) -> None:
        for q in self.engine.queries_for_topic(topic):
            for rec in q.process(InRecord(topic, key, value, ts)):
                self.out.setdefault(rec.topic, []).append(rec)
                self.send(rec.topic, rec.key, rec.value, rec.timestamp)


@pytest.fixture()
def setup() -> tuple[KsqlEngine, InMemorySchemaRegistry, Driver]:
    reg = InMemorySchemaRegistry()
    engine = KsqlEngine(schema_registry=reg)
    results = engine.execute(PIPELINE)
    assert [r.message for r in results if r.message][:2] == [
        "Stream created",
        "Created query with ID CSAS_CREDITCARD_PREPROCESSED_1",
    ]
    return engine, reg, Driver(engine)


def test_live_stream_is_masked_and_augmented(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    _engine, reg, d = setup
    d.send("creditcardfraud_source", b"Alice", _event(1, "Alice", None))
    d.send("creditcardfraud_source", b"Bob", _event(2, "Bob", 1))
    live = [_avro(reg, r.value) for r in d.out["creditcardfraud_live_avro"]]  # type: ignore[arg-type]
    assert [(r["ID"], r["USERID"], r["CLASS"]) for r in live] == [(1, "Xxice", -1), (2, "Xxb", 1)]
    assert set(live[0]) == {
        "ID",
        "Timestamp",
        "USERID",
        "TIME",
        *(f"V{i}" for i in range(1, 29)),
        "AMOUNT",
        "CLASS",
    }
    # the registered schema is ksqlDB-shaped: optional unions with null defaults
    _sid, text = reg.get_latest("creditcardfraud_live_avro-value")  # type: ignore[misc]
    schema = json.loads(text)
    assert schema["name"] == "KsqlDataSourceSchema"
    assert all(f["type"][0] == "null" and f["default"] is None for f in schema["fields"])


def test_training_stream_keeps_only_labelled_events(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    _engine, reg, d = setup
    for i, cls in enumerate([None, 0, 1, None]):
        d.send("creditcardfraud_source", None, _event(i, "u", cls))
    train = [_avro(reg, r.value) for r in d.out["creditcardfraud_preprocessed_avro"]]  # type: ignore[arg-type]
    assert [(r["ID"], r["CLASS"]) for r in train] == [(1, 0), (2, 1)]
    assert "USERID" not in train[0] and "User" not in train[0]


def test_per_user_join_emits_only_premium_cities(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    _engine, reg, d = setup
    d.send("users", b"alice", b'{"userid": "alice", "name": "Alice", "city": "Premium Paris"}')
    d.send("users", b"bob", b'{"userid": "bob", "name": "Bob", "city": "Lyon"}')
    d.send("creditcardfraud_source", None, _event(1, "alice", None, v1=6.0))
    d.send("creditcardfraud_source", None, _event(2, "bob", None, v1=7.0))
    d.send("creditcardfraud_source", None, _event(3, "alice", None, v1=1.0))  # V1 too small
    d.send("creditcardfraud_source", None, _event(4, "carol", None, v1=9.0))  # unknown user
    out = d.out["creditcardfraud_per_user"]
    rows = [_avro(reg, r.value) for r in out]  # type: ignore[arg-type]
    assert [(r["ID"], r["CITY"], r["MASKED_USER"]) for r in rows] == [(1, "Premium Paris", "xxice")]
    # re-keyed by the masked user: no raw user id in the key or the value of the output topic
    assert [r.key for r in out] == [b"xxice"]
    assert "USERID" not in rows[0]  # the key column is not repeated in the value
    for r in out:
        assert b"alice" not in (r.key or b"") and b"alice" not in (r.value or b"")
    # the raw id stays in the KSQL-internal re-key topic only
    assert d.out["CREDITCARD_KEYED"][0].key == b"alice"


def test_bad_records_go_to_the_processing_log_not_up(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    engine, _reg, _d = setup
    q = engine.queries["CSAS_CREDITCARD_LIVE_2"]
    assert q.process(InRecord("creditcardfraud_source", None, b"{not json", 0, 3, 42)) == []
    assert q.process(InRecord("creditcardfraud_source", None, b'{"Id": "abc"}', 0)) == []
    kinds = [(e.type, e.offset) for e in q.errors]
    assert kinds == [("DESERIALIZATION_ERROR", 42), ("DESERIALIZATION_ERROR", 0)]
    # and the query keeps working
    assert len(q.process(InRecord("creditcardfraud_source", None, _event(5, "Zed", 0), 0))) == 1


def test_failed_statement_leaves_state_unchanged(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    engine, _, _ = setup
    before = (set(engine.sources), set(engine.queries))
    with pytest.raises(KsqlStatementError, match="NOPE does not exist") as err:
        engine.execute("CREATE STREAM x AS SELECT * FROM nope;")
    assert err.value.statement_text == "CREATE STREAM x AS SELECT * FROM nope;"
    with pytest.raises(KsqlStatementError, match="SELECT column 'NOSUCH' cannot be resolved"):
        engine.execute("CREATE STREAM y AS SELECT nosuch FROM creditcard_raw;")
    assert (set(engine.sources), set(engine.queries)) == before


def test_list_describe_drop_and_terminate(
    setup: tuple[KsqlEngine, InMemorySchemaRegistry, Driver],
) -> None:
    engine, _, _ = setup
    (streams,) = engine.execute("SHOW STREAMS;")
    assert isinstance(streams.outcome, SourceList) and streams.outcome.kind == "STREAM"
    names = {s.name for s in streams.outcome.sources}
    assert {"CREDITCARD_RAW", "CREDITCARD_LIVE"} <= names
    (desc,) = engine.execute("DESCRIBE creditcard_live;")
    assert isinstance(desc.outcome, SourceDescription)
    columns = desc.outcome.source.columns
    assert columns[0].name == "ID" and (columns[2].name, str(columns[2].type)) == (
        "USERID",
        "STRING",
    )
    assert [q.id for q in desc.outcome.write_queries] == ["CSAS_CREDITCARD_LIVE_2"]
    with pytest.raises(KsqlStatementError, match="The following queries read from this source"):
        engine.execute("DROP STREAM creditcard_raw;")
    (term,) = engine.execute("TERMINATE CSAS_CREDITCARD_LIVE_2;")
    assert term.terminated == ["CSAS_CREDITCARD_LIVE_2"]
    (drop,) = engine.execute("DROP STREAM creditcard_live DELETE TOPIC;")
    assert drop.topics_to_delete == ["creditcardfraud_live_avro"]
    assert "CREDITCARD_LIVE" not in engine.sources


def test_insert_values_and_push_query_with_limit() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (k STRING KEY, n INT) "
        "WITH (kafka_topic='s', value_format='JSON', partitions=1);"
    )
    (res,) = engine.execute("INSERT INTO s (k, n, ROWTIME) VALUES ('a', 7, 1000);")
    (rec,) = res.records
    assert (rec.topic, rec.key, rec.value, rec.timestamp) == ("s", b"a", b'{"N":7}', 1000)
    tq = engine.transient_query(
        "SELECT k, n * 2 AS double_n FROM s WHERE n > 1 EMIT CHANGES LIMIT 2;"
    )
    assert tq.header_schema() == "`K` STRING, `DOUBLE_N` INTEGER"
    rows = []
    for n in (1, 2, 3, 4):
        rows += [r.values for r in tq.process_rows(InRecord("s", b"x", orjson.dumps({"N": n}), 0))]
    assert rows == [["x", 4], ["x", 6]]
    assert tq.done


def test_windowed_count_per_user() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM tx (userid STRING KEY, amount DOUBLE) "
        "WITH (kafka_topic='tx', value_format='JSON', partitions=1);"
        "CREATE TABLE velocity AS SELECT userid, COUNT(*) AS n, SUM(amount) AS total FROM tx "
        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userid;"
    )
    (q,) = engine.queries.values()
    outs = []
    for ts, amount in ((1000, 1.0), (2000, 2.5), (61000, 4.0)):
        outs += q.process(InRecord("tx", b"u1", orjson.dumps({"amount": amount}), ts))
    values = [orjson.loads(o.value) for o in outs]  # type: ignore[arg-type]
    assert values == [{"N": 1, "TOTAL": 1.0}, {"N": 2, "TOTAL": 3.5}, {"N": 1, "TOTAL": 4.0}]
    # windowed keys: key bytes + 8-byte big-endian window start
    assert [o.key for o in outs] == [
        b"u1" + (0).to_bytes(8, "big"),
        b"u1" + (0).to_bytes(8, "big"),
        b"u1" + (60000).to_bytes(8, "big"),
    ]


def test_project_statements_keep_raw_users_inside_ksql() -> None:
    """The real `ksql/*.sql` files: the per-user topic is keyed by the masked user and no topic
    a consumer reads carries a raw user id or name; only the internal re-key topic holds ids."""
    from pathlib import Path

    from fraudstream.config import Settings
    from fraudstream.ksql.client import apply as applier

    ksql_dir = Path(__file__).resolve().parents[4] / "ksql"
    variables = applier.default_variables(Settings(), {})
    reg = InMemorySchemaRegistry()
    engine = KsqlEngine(schema_registry=reg)
    for f in applier.statement_files(ksql_dir):
        engine.execute(f.read_text(), variables=variables)
    d = Driver(engine)
    users = {"alice7": ("Alice Smith", "Premium Paris"), "bob": ("Bob Jones", "Lyon")}
    for uid, (name, city) in users.items():
        d.send("users", uid.encode(), orjson.dumps({"userid": uid, "name": name, "city": city}))
    for i, (uid, v1) in enumerate(
        [("alice7", 6.0), ("bob", 7.0), ("alice7", 1.0), ("alice7", 9.5)]
    ):
        d.send("creditcardfraud_source", uid.encode(), _event(i, uid, None, v1=v1))

    per_user = d.out[variables["per_user_topic"]]
    rows = [_avro(reg, r.value) for r in per_user]  # type: ignore[arg-type]
    assert [(r["ID"], r["CITY"], r["MASKED_USER"]) for r in rows] == [
        (0, "Premium Paris", "xxice7"),
        (3, "Premium Paris", "xxice7"),
    ]
    assert {r.key for r in per_user} == {b"xxice7"}
    raw = [s.encode() for uid, (name, _c) in users.items() for s in (uid, name)]
    internal = {variables["enriched_topic"]}
    for topic, recs in d.out.items():
        if topic in internal:
            continue
        for r in recs:
            for s in raw:
                assert s not in (r.key or b""), (topic, r.key)
                assert s not in (r.value or b""), (topic, r.value)
    # the KSQL-internal re-key topic is where the raw id lives (and why it is internal)
    assert d.out[variables["enriched_topic"]][0].key == b"alice7"
