"""Stream-table, stream-stream and table-table joins on sources of one key and one value
column: a combined row is
`[LK, LV, LROWTIME, LPART, LOFF, RK, RV, RROWTIME, RPART, ROFF, JOINKEY]`."""

from __future__ import annotations

import gc
from typing import Any

from fraudstream.ksql.engine.operators.join import JoinShape
from fraudstream.ksql.engine.operators.stream_stream_join import StreamStreamJoin
from fraudstream.ksql.engine.operators.stream_table_join import StreamTableJoin
from fraudstream.ksql.engine.operators.table_table_join import TableTableJoin
from fraudstream.ksql.engine.state import changelog_entry, changelog_key, encode_state


def _shape(kit: Any, join_type: str = "INNER", windowed: bool = False) -> JoinShape:
    width = 7 if windowed else 5
    return JoinShape(
        read_left=kit.read,
        read_right=kit.read,
        left_key=lambda r: r[0],
        right_key=lambda r: r[width],
        left_width=width,
        right_width=width,
        left_rowtime=2,
        right_rowtime=width + 2,
        join_type=join_type,
        windowed=windowed,
        windowed_output=windowed,
        key_from_join=True,
    )


def _vals(out: list[Any]) -> list[tuple[Any, Any, bool]]:
    """(left value, right value, tombstone) of each emitted row."""
    return [(e.row[1], e.row[6], e.tombstone) for e in out]


# ---------------------------------------------------------------- stream-table
def test_stream_table_inner_joins_the_current_table_row(kit: Any) -> None:
    op = StreamTableJoin(_shape(kit), emit=kit.emit, log=kit.log, where=None)
    assert op.on_stream(kit.rec("s", "a", [1], 10)) == []  # no table row yet
    assert op.on_table(kit.rec("t", "a", ["x"], 5)) == []  # table updates emit nothing
    out = op.on_stream(kit.rec("s", "a", [2], 20))
    assert _vals(out) == [(2, "x", False)]
    assert out[0].ts == 20 and out[0].extra == {"key_override": ["a"]}
    op.on_table(kit.rec("t", "a", None, 30))  # tombstone deletes the table row
    assert op.on_stream(kit.rec("s", "a", [3], 40)) == []


def test_stream_table_left_join_pads_missing_table_rows(kit: Any) -> None:
    op = StreamTableJoin(_shape(kit, "LEFT"), emit=kit.emit, log=kit.log, where=None)
    assert _vals(op.on_stream(kit.rec("s", "a", [1], 10))) == [(1, None, False)]


def test_stream_table_where_sees_the_joined_row(kit: Any) -> None:
    op = StreamTableJoin(_shape(kit), emit=kit.emit, log=kit.log, where=lambda r: r[6] == "ok")
    op.on_table(kit.rec("t", "a", ["no"], 1))
    assert op.on_stream(kit.rec("s", "a", [1], 2)) == []
    op.on_table(kit.rec("t", "a", ["ok"], 3))
    assert _vals(op.on_stream(kit.rec("s", "a", [1], 4))) == [(1, "ok", False)]


def test_windowed_stream_table_join_matches_key_and_window(wkit: Any) -> None:
    op = StreamTableJoin(_shape(wkit, windowed=True), emit=wkit.emit, log=wkit.log, where=None)
    op.on_table(wkit.rec("t", "a", ["w0"], 1, (0, 10)))
    assert op.on_stream(wkit.rec("s", "a", [1], 12, (10, 20))) == []
    (out,) = op.on_stream(wkit.rec("s", "a", [2], 5, (0, 10)))
    assert out.row[8] == "w0" and out.extra["wstart"] == 0 and out.extra["wend"] == 10


# ---------------------------------------------------------------- stream-stream
def _ss(kit: Any, join_type: str = "INNER", grace: int | None = None) -> StreamStreamJoin:
    return StreamStreamJoin(
        _shape(kit, join_type),
        before=100,
        after=100,
        grace=grace,
        emit=kit.emit,
        log=kit.log,
        where=None,
    )


def test_stream_stream_joins_within_the_window_only(kit: Any) -> None:
    op = _ss(kit)
    assert op.on_left(kit.rec("l", "a", [1], 1000)) == []
    assert op.on_right(kit.rec("r", "a", ["far"], 1200)) == []  # 200 ms after: outside
    out = op.on_right(kit.rec("r", "a", ["near"], 1050))
    assert _vals(out) == [(1, "near", False)] and out[0].ts == 1050
    assert op.on_right(kit.rec("r", "b", ["other key"], 1000)) == []


def test_stream_stream_left_join_without_grace_emits_outer_rows_at_once(kit: Any) -> None:
    op = _ss(kit, "LEFT")
    assert _vals(op.on_left(kit.rec("l", "a", [1], 1000))) == [(1, None, False)]
    # a later match still joins (the eager, pre-grace semantics)
    assert _vals(op.on_right(kit.rec("r", "a", ["x"], 1010))) == [(1, "x", False)]


def test_stream_stream_grace_holds_outer_rows_until_the_window_closes(kit: Any) -> None:
    op = _ss(kit, "LEFT", grace=50)
    assert op.on_left(kit.rec("l", "a", [1], 1000)) == []  # pending
    assert op.on_left(kit.rec("l", "b", [2], 1000)) == []  # pending
    assert _vals(op.on_right(kit.rec("r", "a", ["x"], 1020))) == [(1, "x", False)]
    # stream time passes end (1100) + grace (50): only b's outer row is final
    out = op.on_left(kit.rec("l", "c", [3], 1200))
    assert _vals(out) == [(2, None, False)]
    assert [p[1] for p in op.pending] == ["c"]


def test_stream_stream_drops_records_older_than_the_retention(kit: Any) -> None:
    op = _ss(kit, grace=0)  # retention: before + after + grace = 200 ms
    op.on_right(kit.rec("r", "a", ["new"], 5000))
    op.on_right(kit.rec("r", "a", ["old"], 100))  # far behind this side's stream time
    assert [row[1] for _, row in op.rbuf["a"]] == ["new"]
    assert op.on_left(kit.rec("l", "a", [1], 150)) == []


def test_stream_stream_sweep_forgets_expired_keys(kit: Any) -> None:
    op = _ss(kit, grace=0)
    op.on_left(kit.rec("l", "old", [1], 0))
    op.on_left(kit.rec("l", "new", [1], 10_000))
    op.sweep()
    assert list(op.lbuf) == ["new"]


def test_stream_stream_window_rows_leave_the_cyclic_gc(kit: Any) -> None:
    """A window of plain-valued rows is invisible to the GC once collected: as lists, a
    minutes-long window at thousands of events/s made every full collection stop the KSQL
    process for seconds."""
    op = _ss(kit, grace=0)
    for i in range(50):
        op.on_left(kit.rec("l", f"k{i}", [i], 1000 + i))
        op.on_right(kit.rec("r", f"k{i % 7}", ["x"], 1000 + i))
    for _ in range(3):  # a tuple leaves after its items did: one nesting level per pass
        gc.collect()
    held = [*op.lbuf.values(), *op.rbuf.values()]
    assert held and not any(gc.is_tracked(entries) for entries in held)
    assert not any(gc.is_tracked(row) for entries in held for _, row in entries)


# ---------------------------------------------------------------- table-table
def test_table_table_join_reevaluates_the_key_and_tombstones_once(kit: Any) -> None:
    op = TableTableJoin(_shape(kit), emit=kit.emit, log=kit.log, where=None)
    assert op.on_left(kit.rec("l", "a", [1], 10)) == []
    assert _vals(op.on_right(kit.rec("r", "a", ["x"], 20))) == [(1, "x", False)]
    assert _vals(op.on_left(kit.rec("l", "a", [2], 30))) == [(2, "x", False)]
    out = op.on_right(kit.rec("r", "a", None, 40))
    assert [e.tombstone for e in out] == [True] and out[0].ts == 40
    assert op.on_right(kit.rec("r", "a", None, 50)) == []  # nothing left to delete


def test_table_table_full_outer_join_keeps_either_side(kit: Any) -> None:
    op = TableTableJoin(_shape(kit, "FULL"), emit=kit.emit, log=kit.log, where=None)
    assert _vals(op.on_right(kit.rec("r", "a", ["x"], 10))) == [(None, "x", False)]
    assert op.on_right(kit.rec("r", "a", None, 20))[0].tombstone


def test_table_table_join_restores_from_its_changelog(kit: Any) -> None:
    first = TableTableJoin(_shape(kit), emit=kit.emit, log=kit.log, where=None)
    for store in first.state_stores:
        store.track()
    first.on_left(kit.rec("l", "a", [1], 10))
    first.on_right(kit.rec("r", "a", ["x"], 20))
    first.on_left(kit.rec("l", "b", [2], 30))
    changelog = [
        (changelog_key(s.name, k), None if deleted else encode_state(v))
        for s in first.state_stores
        for k, v, deleted in s.drain()
    ]
    second = TableTableJoin(_shape(kit), emit=kit.emit, log=kit.log, where=None)
    stores = {s.name: s for s in second.state_stores}
    for raw_key, raw_value in changelog:
        name, key, value, deleted = changelog_entry(raw_key, raw_value)
        stores[name].restore(key, value, deleted)
    # the restored join knows both rows of `a` and that its row was emitted
    assert op_vals(second.on_right(kit.rec("r", "a", None, 40))) == [True]
    assert _vals(second.on_right(kit.rec("r", "b", ["y"], 50))) == [(2, "y", False)]


def op_vals(out: list[Any]) -> list[bool]:
    return [e.tombstone for e in out]
