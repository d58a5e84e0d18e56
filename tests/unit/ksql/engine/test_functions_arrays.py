"""Array UDFs and CHR: ksqlDB's results, NULL handling and argument errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import types as T

STRS = T.array_of(T.T_STRING)
INTS = T.array_of(T.T_INTEGER)


def call(name: str, types: list[T.SqlType], *args: Any) -> Any:
    res = F.resolve(name, types)
    if res.null_safe and any(a is None for a in args):
        return None
    return res.impl(*args)


def test_set_operations_keep_first_occurrence_order() -> None:
    assert call("ARRAY_DISTINCT", [STRS], ["foo", "bar", "foo", None, None]) == [
        "foo",
        "bar",
        None,
    ]
    assert call("ARRAY_EXCEPT", [INTS, INTS], [1, 2, 2, 3], [3]) == [1, 2]
    assert call("ARRAY_INTERSECT", [INTS, INTS], [3, 1, 2, 3], [3, 2]) == [3, 2]
    assert call("ARRAY_UNION", [INTS, INTS], [1, 2], [2, 3]) == [1, 2, 3]
    assert call("ARRAY_UNION", [INTS, INTS], None, [1]) is None


def test_concat_remove_contains_slice() -> None:
    assert call("ARRAY_CONCAT", [INTS, INTS], None, [1]) == [1]
    assert call("ARRAY_REMOVE", [STRS, T.T_STRING], ["foo", "bar", "foo"], "foo") == ["bar"]
    assert call("ARRAY_REMOVE", [STRS, T.T_STRING], ["a", None], None) == ["a"]
    assert call("ARRAY_CONTAINS", [INTS, T.T_INTEGER], [1, None], None) is True
    assert call("ARRAY_CONTAINS", [INTS, T.T_INTEGER], None, 1) is False
    assert call("SLICE", [STRS, T.T_INTEGER, T.T_INTEGER], ["a", "b", "c", "d"], 2, 3) == [
        "b",
        "c",
    ]


def test_sort_min_max_ignore_nulls() -> None:
    assert call("ARRAY_SORT", [INTS], [3, None, 1]) == [1, 3, None]
    assert call("ARRAY_SORT", [INTS, T.T_STRING], [3, None, 1], "desc") == [3, 1, None]
    assert call("ARRAY_MAX", [STRS], ["foo", None, "food"]) == "food"
    assert call("ARRAY_MIN", [INTS], [None]) is None


def test_array_join_writes_java_texts() -> None:
    d = T.array_of(T.T_DOUBLE)
    assert call("ARRAY_JOIN", [d], [1.23, 0.0]) == "1.23,0.0"
    dec = T.array_of(T.decimal_type(5, 2))
    assert call("ARRAY_JOIN", [dec, T.T_STRING], [Decimal("123.45")], "|") == "123.45"
    assert call("ARRAY_JOIN", [T.array_of(T.T_BOOLEAN)], [True, None]) == "true,null"


def test_chr_from_code_points_and_java_escapes() -> None:
    assert call("CHR", [T.T_INTEGER], 75) == "K"
    assert call("CHR", [T.T_STRING], "\\u597d") == "好"
    assert call("CHR", [T.T_STRING], "\\ud820\\udeb8") == "\U000182b8"
    assert call("CHR", [T.T_STRING], "bogus") is None


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(KsqlStatementError, match="does not accept parameters"):
        F.resolve("ARRAY_UNION", [INTS, STRS])


def test_generate_series_direction_step_and_errors() -> None:
    ii = [T.T_INTEGER, T.T_INTEGER]
    assert call("GENERATE_SERIES", ii, 0, 3) == [0, 1, 2, 3]
    assert call("GENERATE_SERIES", ii, 4, 0) == [4, 3, 2, 1, 0]
    assert call("GENERATE_SERIES", [*ii, T.T_INTEGER], -2, 1, 2) == [-2, 0]
    assert F.resolve("GENERATE_SERIES", [T.T_INTEGER, T.T_BIGINT]).type == T.array_of(T.T_BIGINT)
    with pytest.raises(KsqlProcessingError, match="wrong sign"):
        call("GENERATE_SERIES", [*ii, T.T_INTEGER], 0, 3, -1)
    with pytest.raises(KsqlProcessingError, match="cannot be zero"):
        call("GENERATE_SERIES", [*ii, T.T_INTEGER], 0, 3, 0)
