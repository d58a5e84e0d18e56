"""Map, string-list, date and geo UDFs: ksqlDB's results, NULL rules and errors."""

from __future__ import annotations

from typing import Any

import pytest

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.errors import KsqlProcessingError, KsqlStatementError
from fraudstream.ksql.sql import types as T

S = T.T_STRING
MSI = T.map_of(S, T.T_INTEGER)


def call(name: str, types: list[T.SqlType], *args: Any) -> Any:
    res = F.resolve(name, types)
    if res.null_safe and any(a is None for a in args):
        return None
    return res.impl(*args)


def test_maps() -> None:
    strs, ints = T.array_of(S), T.array_of(T.T_INTEGER)
    assert call("AS_MAP", [strs, ints], ["a", "b"], [1]) == {"a": 1, "b": None}
    assert call("MAP_UNION", [MSI, MSI], {"a": 1, "b": 2}, {"a": 9}) == {"a": 9, "b": 2}
    assert call("MAP_UNION", [MSI, MSI], None, None) is None
    assert call("ENTRIES", [MSI, T.T_BOOLEAN], {"b": 2, "a": 1}, True) == [
        {"K": "a", "V": 1},
        {"K": "b", "V": 2},
    ]
    with pytest.raises(KsqlProcessingError, match="not supported"):
        call("ENTRIES", [MSI, T.T_BOOLEAN], {"a": 1}, False)


def test_elt_field_split_to_map() -> None:
    assert call("ELT", [T.T_INTEGER, S, S], 2, "a", "b") == "b"
    assert call("ELT", [T.T_INTEGER, S], 3, "a") is None
    assert call("FIELD", [S, S, S], "b", None, "b") == 2
    assert call("FIELD", [S, S], None, None) == 0
    got = call("SPLIT_TO_MAP", [S, S, S], "a:1:x//b:2/c/a:3", "/", ":")
    assert got == {"a": "3", "b": "2"}
    assert call("SPLIT_TO_MAP", [S, S, S], "a:1", "", ":") is None


def test_geo_distance_units_and_ranges() -> None:
    d4 = [T.T_DOUBLE] * 4
    km = call("GEO_DISTANCE", d4, 37.4439, -122.1663, 51.5257, -0.1122)
    assert km == pytest.approx(8634.6, abs=0.1)
    mi = call("GEO_DISTANCE", [*d4, S], 37.4439, -122.1663, 51.5257, -0.1122, " Miles ")
    assert mi == pytest.approx(km * 3959 / 6371)
    with pytest.raises(KsqlProcessingError, match="latitude"):
        call("GEO_DISTANCE", d4, 91, 0, 0, 0)
    with pytest.raises(KsqlProcessingError, match="units parameter"):
        call("GEO_DISTANCE", [*d4, S], 0, 0, 0, 0, "parsecs")
    with pytest.raises(KsqlStatementError, match="'geo_distance' does not accept"):
        F.resolve("GEO_DISTANCE", [T.T_DOUBLE, T.T_DOUBLE, S, T.T_INTEGER])


def test_from_days_and_unixtime_are_the_engine_representations() -> None:
    assert call("FROM_DAYS", [T.T_INTEGER], -10) == -10
    assert F.resolve("FROM_UNIXTIME", [T.T_BIGINT]).type.base == T.TIMESTAMP


def test_to_json_string_is_jacksons_text_of_ksqldbs_value() -> None:
    from decimal import Decimal

    st = T.struct_of([("b", T.T_DOUBLE), ("A", T.SqlType(T.TIMESTAMP))])
    assert call("TO_JSON_STRING", [st], {"b": 1e10, "A": 0}) == (
        '{"A":"1970-01-01T00:00:00.000","b":1.0E10}'
    )
    m = T.map_of(S, T.array_of(T.decimal_type(6, 3)))
    assert call("TO_JSON_STRING", [m], {"z": [Decimal("1.500")], "a": [None]}) == (
        '{"a":[null],"z":[1.500]}'
    )
    assert call("TO_JSON_STRING", [S], 'é"\n') == '"é\\"\\n"'
    assert call("TO_JSON_STRING", [T.T_INTEGER], None) == "null"
    assert call("TO_JSON_STRING", [T.T_DOUBLE], float("nan")) == '"NaN"'
    assert call("TO_JSON_STRING", [T.T_BYTES], b"!") == '"IQ=="'


def test_md5_is_hex_of_utf8() -> None:
    assert call("MD5", [S], "a") == "0cc175b9c0f1b6a831c399e269772661"
    assert call("MD5", [S], None) is None
