"""Aggregate state stores: changed keys are tracked for the changelog, the tagged encoding
round-trips every accumulator type, and a fresh query restored from the drained changes
continues counting where the first one stopped."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson
import pytest

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.engine import InRecord, KsqlEngine
from fraudstream.ksql.engine.state import (
    MaterializedTable,
    changelog_entry,
    changelog_key,
    decode_state,
    encode_state,
)

SQL = (
    "CREATE STREAM tx (u STRING KEY, a DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE c AS SELECT u, COUNT(*) AS n, AVG(a) AS m, COLLECT_SET(a) AS s FROM tx "
    "WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 0 SECONDS) GROUP BY u;"
)


def test_tagged_encoding_round_trips() -> None:
    value = [
        (("k", 1), 5),
        Decimal("12345678901234567890123456789012.345678"),
        {"a": [1.5, None]},
        {1, 2},
        frozenset({"x"}),
        b"\x00\xff",
        (0.0, 3),
        True,
    ]
    assert decode_state(encode_state(value)) == value
    assert type(decode_state(encode_state((1, 2)))) is tuple
    nan = decode_state(encode_state(float("nan")))
    assert math.isnan(nan)
    with pytest.raises(SerdeError):
        encode_state(object())
    with pytest.raises(SerdeError):
        decode_state(b"{")


def _run(engine: KsqlEngine, records: list[tuple[bytes, float, int]]) -> list[dict[str, Any]]:
    (q,) = engine.queries.values()
    outs = []
    for key, a, ts in records:
        outs += q.process(InRecord("tx", key, orjson.dumps({"a": a}), ts))
    return [orjson.loads(o.value) for o in outs if o.value is not None]


def test_restored_query_continues_counting() -> None:
    first = KsqlEngine()
    first.execute(SQL)
    (q1,) = first.queries.values()
    for store in q1.state_stores:
        store.track()
    _run(first, [(b"u1", 1.0, 100), (b"u1", 3.0, 200), (b"u2", 5.0, 300)])
    changes = [
        (changelog_key(s.name, k), None if gone else encode_state(v))
        for s in q1.state_stores
        for k, v, gone in s.drain()
    ]
    assert changes and all(not s.drain() for s in q1.state_stores)  # drained once

    second = KsqlEngine()
    second.execute(SQL)
    (q2,) = second.queries.values()
    stores = {s.name: s for s in q2.state_stores}
    for raw_key, raw_value in changes:
        name, key, value, deleted = changelog_entry(raw_key, raw_value)
        stores[name].restore(key, value, deleted)
    (row,) = _run(second, [(b"u1", 5.0, 400)])
    assert row["N"] == 3 and row["M"] == pytest.approx(3.0)
    assert sorted(row["S"]) == [1.0, 3.0, 5.0]
    # the restored stream time still drops records too late for their window
    assert _run(second, [(b"u1", 1.0, 2500), (b"u1", 1.0, 10)]) == [{"N": 1, "M": 1.0, "S": [1.0]}]


def test_evicted_windows_become_tombstones() -> None:
    engine = KsqlEngine()
    engine.execute(SQL)
    (q,) = engine.queries.values()
    agg = next(s for s in q.state_stores if s.name == "aggregate")
    agg.track()
    _run(engine, [(b"u1", 1.0, i * 1000) for i in range(1100)])
    changed = agg.drain()
    deleted = [k for k, _v, gone in changed if gone]
    assert deleted and len(agg.data) + len(deleted) == 1100
    assert all(k not in agg.data for k in deleted)


K1 = (1).to_bytes(8, "big")  # BIGINT key, KAFKA format
TT_SQL = (
    "CREATE TABLE l (id BIGINT PRIMARY KEY, a STRING) WITH (kafka_topic='l', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE r (id BIGINT PRIMARY KEY, b STRING) WITH (kafka_topic='r', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE j AS SELECT l.id, a, b FROM l JOIN r ON l.id = r.id;"
)


def test_table_table_join_state_restores() -> None:
    first = KsqlEngine()
    first.execute(TT_SQL)
    (q1,) = first.queries.values()
    for store in q1.state_stores:
        store.track()
    q1.process(InRecord("l", K1, b'{"a": "x"}', 1))
    assert q1.process(InRecord("r", K1, b'{"b": "y"}', 2))  # joined
    changes = [
        (changelog_key(s.name, k), None if gone else encode_state(v))
        for s in q1.state_stores
        for k, v, gone in s.drain()
    ]

    second = KsqlEngine()
    second.execute(TT_SQL)
    (q2,) = second.queries.values()
    stores = {s.name: s for s in q2.state_stores}
    for raw_key, raw_value in changes:
        name, key, value, deleted = changelog_entry(raw_key, raw_value)
        stores[name].restore(key, value, deleted)
    # an update of the left row joins with the restored right row; a right delete retracts
    (upd,) = q2.process(InRecord("l", K1, b'{"a": "z"}', 3))
    assert orjson.loads(upd.value or b"") == {"A": "z", "B": "y"}
    (gone,) = q2.process(InRecord("r", K1, None, 4))
    assert gone.value is None


def test_materialized_table_keeps_latest_rows_and_its_window_index() -> None:
    table = MaterializedTable("materialized", suffix=8)
    table.track()
    w1, w2 = (1000).to_bytes(8, "big"), (2000).to_bytes(8, "big")
    table.put(b"ann" + w1, b"v1", 10)
    table.put(b"ann" + w2, b"v2", 20)
    table.put(b"ann" + w1, b"v3", 30)
    table.put(b"ben" + w1, b"v4", 40)
    assert table.lookup(b"ann") == [(b"ann" + w1, b"v3", 30), (b"ann" + w2, b"v2", 20)]
    table.put(b"ann" + w1, None, 50)  # a tombstone deletes the window's row
    table.put(b"zed" + w1, None, 60)  # and one for a key never seen changes nothing
    assert table.lookup(b"ann") == [(b"ann" + w2, b"v2", 20)]
    changes = {k: (v, gone) for k, v, gone in table.drain()}
    assert {k: gone for k, (_, gone) in changes.items()} == {
        b"ann" + w1: True,
        b"ann" + w2: False,
        b"ben" + w1: False,
    }
    # a restarted query restores the rows (and the index) from the changelog records
    restored = MaterializedTable("materialized", suffix=8)
    for k, (v, gone) in changes.items():
        raw = None if gone else encode_state(v)
        name, key, value, deleted = changelog_entry(changelog_key("materialized", k), raw)
        assert name == "materialized"
        restored.restore(key, value, deleted)
    assert sorted(restored.snapshot()) == [(b"ann" + w2, b"v2", 20), (b"ben" + w1, b"v4", 40)]
    assert restored.lookup(b"ben") == [(b"ben" + w1, b"v4", 40)]
    assert restored.lookup(b"ann" + w2) == []  # lookups take the key without its window


def test_pull_query_answers_from_a_restored_query() -> None:
    engine = KsqlEngine()
    engine.execute(SQL)
    (q,) = engine.queries.values()
    for s in q.state_stores:
        s.track()
    for ts, a in ((100, 1.0), (200, 3.0), (1100, 5.0)):
        q.process(InRecord("tx", b"ann", orjson.dumps({"a": a}), ts))
    drained = [(s.name, k, v, gone) for s in q.state_stores for k, v, gone in s.drain()]
    fresh = KsqlEngine()
    fresh.execute(SQL)
    (q2,) = fresh.queries.values()
    stores = {s.name: s for s in q2.state_stores}
    for name, k, v, gone in drained:
        raw = None if gone else encode_state(v)
        _, key, value, deleted = changelog_entry(changelog_key(name, k), raw)
        stores[name].restore(key, value, deleted)
    rows = fresh.pull_query("SELECT WINDOWSTART, n, m FROM c WHERE u = 'ann';").execute().rows
    assert rows == [[0, 2, 2.0], [1000, 1, 5.0]]


def test_materialized_table_marks_its_rows_kept_or_knows_it_cannot_trust_them() -> None:
    fresh = MaterializedTable("materialized")
    fresh.meta.track()
    fresh.begin(processed_before=False)  # a new query: rows kept from its first record
    assert fresh.incomplete is None
    (mark,) = fresh.meta.drain()  # the mark goes to the changelog with the first batch
    # a restart restores the mark: the rows are complete even though the query ran before
    restarted = MaterializedTable("materialized")
    name, key, value, deleted = changelog_entry(
        changelog_key(fresh.meta.name, mark[0]), encode_state(mark[1])
    )
    assert name == restarted.meta.name
    restarted.meta.restore(key, value, deleted)
    restarted.begin(processed_before=True)
    assert restarted.incomplete is None
    # a query that ran before without the mark (an older engine, or a lost changelog)
    upgraded = MaterializedTable("materialized")
    upgraded.meta.track()
    upgraded.begin(processed_before=True)
    assert upgraded.incomplete is not None and "recreate the table" in upgraded.incomplete
    assert upgraded.meta.drain() == []  # and it never claims completeness later
