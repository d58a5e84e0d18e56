"""AggregateOperator: windows, grace, eviction, table retractions, HAVING, restore.

Input rows are `[K, V, ROWTIME, ROWPARTITION, ROWOFFSET]`; the row handed to the sink is
`input row + aggregate results + [WINDOWSTART, WINDOWEND]`."""

from __future__ import annotations

from typing import Any

import pytest

from fraudstream.ksql.engine.expressions import Compiled
from fraudstream.ksql.engine.operators.aggregate import AggregateOperator, WindowSpec
from fraudstream.ksql.engine.operators.aggregates import make_aggregator
from fraudstream.ksql.engine.state import changelog_entry, changelog_key, encode_state
from fraudstream.ksql.sql import types as T

_V = Compiled(T.T_BIGINT, lambda r: r[1])


def _op(kit: Any, **kw: Any) -> AggregateOperator:
    args: dict[str, Any] = {
        "read": kit.read,
        "log": kit.log,
        "emit": kit.emit,
        "where": None,
        "having": None,
        "group_fns": [lambda r: r[0]],
        "aggregators": [
            make_aggregator("COUNT", [], True, False),
            make_aggregator("SUM", [_V], False, False),
        ],
        "input_width": 5,
        "rowtime_index": 2,
        "window": None,
        "windowed_output": False,
        "table_source": False,
        "key_count": 1,
        "transient": False,
    }
    args.update(kw)
    return AggregateOperator(**args)


def _counts(out: list[Any]) -> list[tuple[Any, ...]]:
    """(group, COUNT, SUM, tombstone) of each emitted row."""
    return [(e.row[0], e.row[5], e.row[6], e.tombstone) for e in out]


def test_unwindowed_counts_and_sums_per_group(kit: Any) -> None:
    op = _op(kit)
    op.on_record(kit.rec("s", "a", [1], 1))
    op.on_record(kit.rec("s", "b", [5], 2))
    assert _counts(op.on_record(kit.rec("s", "a", [2], 3))) == [("a", 2, 3, False)]
    assert op.on_record(kit.rec("s", None, [2], 4)) == []  # NULL group: logged, skipped
    assert kit.logged[-1] == ("RECORD_PROCESSING_ERROR", "Group-by column with null value")


def test_tumbling_windows_and_grace(kit: Any) -> None:
    w = WindowSpec("TUMBLING", size=1000, advance=1000, grace=500)
    op = _op(kit, window=w, windowed_output=True)
    (out,) = op.on_record(kit.rec("s", "a", [1], 1500))
    assert out.extra == {"wstart": 1000, "wend": 2000} and out.row[-2:] == [1000, 2000]
    assert _counts(op.on_record(kit.rec("s", "a", [1], 1999))) == [("a", 2, 2, False)]
    op.on_record(kit.rec("s", "a", [1], 2400))  # stream time 2400 < end 2000 + grace 500
    assert _counts(op.on_record(kit.rec("s", "a", [1], 1100))) == [("a", 3, 3, False)]
    op.on_record(kit.rec("s", "a", [1], 2600))  # now the [1000, 2000) window is closed
    assert op.on_record(kit.rec("s", "a", [1], 1100)) == []  # late record dropped


def test_row_time_is_the_max_record_time_of_the_group(kit: Any) -> None:
    """Kafka Streams stamps an aggregate with the max timestamp folded into it: an
    out-of-order record updates the row but never moves its time back."""
    w = WindowSpec("TUMBLING", size=1000, advance=1000, grace=5000)
    op = _op(kit, window=w, windowed_output=True)
    assert [e.ts for e in op.on_record(kit.rec("s", "a", [1], 1345))] == [1345]
    assert [e.ts for e in op.on_record(kit.rec("s", "a", [1], 1211))] == [1345]
    assert [e.ts for e in op.on_record(kit.rec("s", "a", [1], 1400))] == [1400]
    assert [e.ts for e in op.on_record(kit.rec("s", "b", [1], 1100))] == [1100]  # own group
    unwindowed = _op(kit)
    unwindowed.on_record(kit.rec("s", "a", [1], 50))
    assert [e.ts for e in unwindowed.on_record(kit.rec("s", "a", [1], 10))] == [50]


def test_hopping_windows_cover_each_record_size_over_advance_times() -> None:
    w = WindowSpec("HOPPING", size=1000, advance=250, grace=0)
    assert w.windows_for(1100) == [(250, 1250), (500, 1500), (750, 1750), (1000, 2000)]
    assert w.windows_for(100) == [(0, 1000)]  # no window starts before 0


def test_closed_windows_are_evicted(kit: Any) -> None:
    w = WindowSpec("TUMBLING", size=1000, advance=1000, grace=0)
    op = _op(kit, window=w, windowed_output=True)
    for i in range(1024):
        op.on_record(kit.rec("s", "a", [1], i * 1000))
    assert min(ws for _, ws in op.state) >= 1022 * 1000 - 1000


def test_table_update_retracts_the_old_row_from_its_group(kit: Any) -> None:
    op = _op(kit, table_source=True, group_fns=[lambda r: r[1] % 2])  # group by parity
    op.on_record(kit.rec("t", "k1", [1], 1))
    op.on_record(kit.rec("t", "k2", [3], 2))
    # k1 moves from the odd group to the even one: odd loses it, even gains it
    out = op.on_record(kit.rec("t", "k1", [4], 3))
    assert [(e.row[5], e.row[6]) for e in out] == [(1, 3), (1, 4)]
    # an update within its group gives one output
    assert [(e.row[5], e.row[6]) for e in op.on_record(kit.rec("t", "k1", [6], 4))] == [(1, 6)]
    # a tombstone retracts the row
    assert [(e.row[5], e.row[6]) for e in op.on_record(kit.rec("t", "k1", None, 5))] == [(0, 0)]


def test_having_turns_failing_groups_into_tombstones(kit: Any) -> None:
    op = _op(kit, having=lambda r: r[5] >= 2)
    assert [e.tombstone for e in op.on_record(kit.rec("s", "a", [1], 1))] == [True]
    assert [e.tombstone for e in op.on_record(kit.rec("s", "a", [1], 2))] == [False]
    push = _op(kit, having=lambda r: r[5] >= 2, transient=True)
    assert push.on_record(kit.rec("s", "a", [1], 1)) == []


def test_aggregate_restores_from_its_changelog(kit: Any) -> None:
    w = WindowSpec("TUMBLING", size=1000, advance=1000, grace=0)
    first = _op(kit, window=w, windowed_output=True)
    for store in first.state_stores:
        store.track()
    first.on_record(kit.rec("s", "a", [2], 100))
    first.on_record(kit.rec("s", "a", [3], 200))
    first.on_record(kit.rec("s", "b", [1], 1500))
    second = _op(kit, window=w, windowed_output=True)
    stores = {s.name: s for s in second.state_stores}
    for s in first.state_stores:
        for k, v, deleted in s.drain():
            raw = None if deleted else encode_state(v)
            name, key, value, gone = changelog_entry(changelog_key(s.name, k), raw)
            stores[name].restore(key, value, gone)
    assert _counts(second.on_record(kit.rec("s", "b", [1], 1600))) == [("b", 2, 2, False)]
    # the restored stream time (1600) has closed a's window [0, 1000)
    assert second.on_record(kit.rec("s", "a", [1], 300)) == []


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("SUM", [1, None, 2], 3),
        ("AVG", [1, 2, None], 1.5),
        ("MIN", [3, 1, 2], 1),
        ("MAX", [3, 1, 2], 3),
        ("LATEST_BY_OFFSET", [1, 2, None], 2),
        ("EARLIEST_BY_OFFSET", [None, 1, 2], 1),
        ("COLLECT_LIST", [1, 1, 2], [1, 1, 2]),
        ("COLLECT_SET", [1, 1, 2], [1, 2]),
    ],
)
def test_aggregate_functions(name: str, values: list[Any], expected: Any) -> None:
    ag = make_aggregator(name, [_V], False, False)
    st = ag.init()
    for v in values:
        st = ag.add(st, [None, v])
    assert ag.result(st) == expected


def test_sum_wraps_like_java_and_undoes() -> None:
    ag = make_aggregator("SUM", [Compiled(T.T_INTEGER, lambda r: r[0])], False, True)
    st = ag.add(ag.init(), [2**31 - 1])
    assert ag.add(st, [1]) == -(2**31)
    assert ag.undo(st, [2**31 - 1]) == 0


def test_topk_keeps_the_k_largest() -> None:
    k = Compiled(T.T_INTEGER, lambda r: 2, const=True, value=2)
    ag = make_aggregator("TOPK", [_V, k], False, False)
    st = ag.init()
    for v in (5, 9, 1, 7):
        st = ag.add(st, [None, v])
    assert ag.result(st) == [9, 7]


def test_min_cannot_be_undone_and_unknown_functions_are_refused() -> None:
    from fraudstream.ksql.errors import (
        KsqlProcessingError,
        KsqlStatementError,
        KsqlUnsupportedError,
    )

    ag = make_aggregator("MIN", [_V], False, True)
    with pytest.raises(KsqlProcessingError):
        ag.undo(1, [None, 1])
    with pytest.raises(KsqlUnsupportedError, match="not supported by the embedded engine"):
        make_aggregator("COUNT_DISTINCT", [_V], False, False)
    with pytest.raises(KsqlStatementError, match="does not accept parameters"):
        make_aggregator("SUM", [Compiled(T.T_STRING, lambda r: r[0])], False, False)
