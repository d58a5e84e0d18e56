"""SelectOperator: filter, table retractions, tombstones, windows (one value column)."""

from __future__ import annotations

from typing import Any

from fraudstream.ksql.engine.operators.select import SelectOperator

# row: [K, V, ROWTIME, ROWPARTITION, ROWOFFSET, (WINDOWSTART, WINDOWEND)]


def _op(kit: Any, **kw: Any) -> SelectOperator:
    args: dict[str, Any] = {
        "read": kit.read,
        "log": kit.log,
        "emit": kit.emit,
        "where": None,
        "is_table": False,
        "key_count": 1,
        "rowtime_index": 2,
        "source_windowed": False,
        "windowed_output": False,
        "track_shown": False,
        "drop_stream_tombstones": False,
    }
    args.update(kw)
    return SelectOperator(**args)


def test_stream_filter_forwards_only_true_rows(kit: Any) -> None:
    op = _op(kit, where=lambda r: r[1] > 10, drop_stream_tombstones=True)
    assert op.on_record(kit.rec("s", "a", [5], 100)) == []
    (out,) = op.on_record(kit.rec("s", "a", [50], 200))
    assert out.row[:3] == ["a", 50, 200] and out.ts == 200 and not out.tombstone


def test_where_error_is_logged_and_drops_the_row(kit: Any) -> None:
    op = _op(kit, where=lambda r: r[1] > 10)
    assert op.on_record(kit.rec("s", "a", ["x"], 1)) == []
    assert kit.logged and kit.logged[0][0] == "RECORD_PROCESSING_ERROR"


def test_table_row_leaving_the_filter_is_retracted(kit: Any) -> None:
    op = _op(kit, where=lambda r: r[1] > 10, is_table=True)
    op.on_record(kit.rec("t", "a", [50], 1))
    (out,) = op.on_record(kit.rec("t", "a", [5], 2))
    assert out.tombstone and out.row[0] == "a"


def test_push_query_over_table_retracts_only_rows_it_showed(kit: Any) -> None:
    op = _op(kit, where=lambda r: r[1] > 10, is_table=True, track_shown=True)
    assert op.on_record(kit.rec("t", "b", [5], 1)) == []  # never shown: no retraction
    op.on_record(kit.rec("t", "a", [50], 2))
    (out,) = op.on_record(kit.rec("t", "a", [5], 3))
    assert out.tombstone
    assert op.on_record(kit.rec("t", "a", [6], 4)) == []  # already retracted


def test_table_tombstone_is_forwarded_and_forgets_the_key(kit: Any) -> None:
    op = _op(kit, is_table=True, track_shown=True)
    op.on_record(kit.rec("t", "a", [1], 1))
    (out,) = op.on_record(kit.rec("t", "a", None, 2))
    assert out.tombstone and op.shown == set()


def test_table_record_with_null_key_is_skipped(kit: Any) -> None:
    op = _op(kit, is_table=True)
    assert op.on_record(kit.rec("t", None, [1], 1)) == []
    assert kit.logged == [
        ("RECORD_PROCESSING_ERROR", "Skipping record with a null key for a table")
    ]


def test_stream_tombstones_dropped_or_rekeyed(kit: Any) -> None:
    assert _op(kit, drop_stream_tombstones=True).on_record(kit.rec("s", "a", None, 1)) == []
    op = _op(kit, tombstone_keys=[lambda r: r[0], lambda r: None])
    (out,) = op.on_record(kit.rec("s", "a", None, 1))
    assert out.tombstone and out.extra == {"key_override": ["a", None]}


def test_windowed_source_emits_window_bounds(wkit: Any) -> None:
    op = _op(wkit, source_windowed=True, windowed_output=True, is_table=True)
    (out,) = op.on_record(wkit.rec("t", "a", [1], 5, (0, 10)))
    assert out.extra == {"wstart": 0, "wend": 10}
    (tomb,) = op.on_record(wkit.rec("t", "a", None, 6, (0, 10)))
    assert tomb.tombstone and tomb.extra == {"wstart": 0, "wend": 10}


def test_undecodable_record_goes_to_the_processing_log(kit: Any) -> None:
    def bad(rec: Any) -> Any:
        raise ValueError("not json")

    op = _op(kit, read=bad)
    assert op.on_record(kit.rec("s", "a", [1], 1)) == []
    assert kit.logged[0][0] == "DESERIALIZATION_ERROR" and "not json" in kit.logged[0][1]
