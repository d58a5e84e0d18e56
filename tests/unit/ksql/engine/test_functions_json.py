"""JSON UDFs on Jackson's reading rules: first value, blank is missing, strict tokens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.engine.functions_json import MISSING, node_text, read_json
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql import types as T

S = T.T_STRING


def call(name: str, types: list[T.SqlType], *args: Any) -> Any:
    res = F.resolve(name, types)
    if res.null_safe and any(a is None for a in args):
        return None
    return res.impl(*args)


def test_read_json_follows_jackson() -> None:
    assert read_json("  ") is MISSING
    assert read_json('[1, "a"] trailing') == [1, "a"]
    assert read_json("1.50") == Decimal("1.50")
    for bad in ("01", "1x", "truex", "NaN", "abc", "{'a': 1}"):
        with pytest.raises(KsqlProcessingError):
            read_json(bad)
    assert node_text({"é": [Decimal("1E+2"), None, True]}) == '{"é":[1E+2,null,true]}'


def test_simple_json_functions() -> None:
    assert call("IS_JSON_STRING", [S], '"abc"') is True
    assert call("IS_JSON_STRING", [S], "") is False
    assert call("IS_JSON_STRING", [S], None) is False
    assert call("JSON_ARRAY_LENGTH", [S], "[1, [2]]") == 2
    assert call("JSON_ARRAY_LENGTH", [S], "{}") is None
    assert call("JSON_KEYS", [S], '{"b": 1, "a": 2}') == ["b", "a"]
    assert call("JSON_RECORDS", [S], '{"a": "x", "b": {"c": 1.0}}') == {"a": "x", "b": '{"c":1.0}'}
    assert call("JSON_ITEMS", [S], '[{"a": 1}, 2]') == ['{"a":1}', "2"]
    with pytest.raises(KsqlProcessingError):
        call("JSON_ITEMS", [S], '{"a": 1}')


def test_json_concat_merges_objects_or_appends_arrays() -> None:
    assert call("JSON_CONCAT", [S, S], '{"a": {"x": 1}}', '{"a": 2}') == '{"a":2}'
    assert call("JSON_CONCAT", [S, S], "[1]", '{"a": 1e2}') == '[1,{"a":100}]'
    assert call("JSON_CONCAT", [S, S], "null", "null") == "[null,null]"
    assert call("JSON_CONCAT", [S, S], "1", "") is None


def test_json_array_contains_is_streaming_and_typed() -> None:
    assert call("JSON_ARRAY_CONTAINS", [S, S], '["a", "b"]', "b") is True
    assert call("JSON_ARRAY_CONTAINS", [S, T.T_INTEGER], "[1.0, 1]", 1) is True
    assert call("JSON_ARRAY_CONTAINS", [S, T.T_DOUBLE], "[1]", 1.0) is False
    assert call("JSON_ARRAY_CONTAINS", [S, S], '[null, "x"', None) is True  # stops at the match
    assert call("JSON_ARRAY_CONTAINS", [S, S], '[1 2, "x"]', "x") is False
    assert call("JSON_ARRAY_CONTAINS", [S, T.T_INTEGER], "[2147483648]", 0) is False
    assert call("JSON_ARRAY_CONTAINS", [S, S], '{"a": "a"}', "a") is False
