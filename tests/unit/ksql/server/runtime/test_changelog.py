"""Undo of in-memory aggregate state (issue 21 item 6): a batch the runtime processes again
(its outputs failed, or a registry outage paused it mid-batch) must not be counted twice."""

from __future__ import annotations

import orjson

from fraudstream.ksql.engine.engine import InRecord, KsqlEngine
from fraudstream.ksql.server.runtime.changelog import StateJournal

SQL = (
    "CREATE STREAM tx (u STRING KEY, a DOUBLE) WITH (kafka_topic='tx', value_format='JSON',"
    " partitions=1);"
    "CREATE TABLE c AS SELECT u, COUNT(*) AS n, SUM(a) AS s FROM tx GROUP BY u;"
)


def _query() -> tuple[object, StateJournal]:
    engine = KsqlEngine()
    engine.execute(SQL)
    (q,) = engine.queries.values()
    return q, StateJournal(q.state_stores)


def _feed(q: object, records: list[tuple[str, float]]) -> dict[str, tuple[int, float]]:
    last: dict[str, tuple[int, float]] = {}
    for i, (user, a) in enumerate(records):
        for out in q.process(InRecord("tx", user.encode(), orjson.dumps({"a": a}), i)):  # type: ignore[attr-defined]
            body = orjson.loads(out.value)
            last[user] = (body["N"], body["S"])
    return last


def _agg(entries: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    """The aggregate store's entries (the query also keeps its row times and its table's
    rows for pull queries, one entry per key each)."""
    return [e for e in entries if e[0].startswith(b'["aggregate",')]


def test_batches_dropped_by_a_delivery_failure_are_undone_newest_first() -> None:
    q, journal = _query()
    _feed(q, [("ann", 1.0), ("ben", 2.0)])
    entries, undo1 = journal.drain()
    assert {e[0] for e in entries} and len(_agg(undo1)) == 2
    _feed(q, [("ann", 10.0)])
    _, undo2 = journal.drain()
    _feed(q, [("ann", 100.0), ("cat", 5.0)])
    _, undo3 = journal.drain()
    # batches 2 and 3 failed: the ledger drops them, newest first, and they are read again
    corrections = journal.undo([undo3, undo2])
    assert len(_agg(corrections)) == 2  # ann back to its value after batch 1, cat deleted
    assert {k for k, _ in corrections} == {k for k, _ in undo3}  # every store, not only one
    assert dict(corrections)[next(k for k, _ in undo3 if b"cat" in k)] is None
    again = _feed(q, [("ann", 10.0), ("ann", 100.0), ("cat", 5.0)])
    assert again["ann"] == (3, 111.0)  # not 5 / 221.0: nothing applied twice
    assert again["cat"] == (1, 5.0)


def test_a_batch_paused_midway_is_rolled_back_before_it_is_read_again() -> None:
    q, journal = _query()
    _feed(q, [("ann", 1.0)])
    journal.drain()
    _feed(q, [("ann", 2.0), ("ben", 3.0)])  # then the registry fails: the batch pauses
    journal.rollback_pending()
    again = _feed(q, [("ann", 2.0), ("ben", 3.0)])
    assert again == {"ann": (2, 3.0), "ben": (1, 3.0)}
    entries, _ = journal.drain()
    assert len(_agg(entries)) == 2


def test_restored_image_is_what_undo_returns_to() -> None:
    q, journal = _query()
    _feed(q, [("ann", 1.0)])
    entries, _ = journal.drain()
    q2, journal2 = _query()
    for raw_key, raw_value in entries:
        journal2.restore(raw_key, raw_value)
    _feed(q2, [("ann", 4.0)])
    _, undo = journal2.drain()
    journal2.undo([undo])
    assert _feed(q2, [("ann", 4.0)]) == {"ann": (2, 5.0)}
