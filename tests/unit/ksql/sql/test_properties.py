"""sql.properties: WITH-clause names and values, delimiters, durations, stream properties."""

from __future__ import annotations

import pytest

from fraudstream.ksql.errors import KsqlParseError, KsqlStatementError
from fraudstream.ksql.sql import ast as A
from fraudstream.ksql.sql.parser import parse
from fraudstream.ksql.sql.properties import (
    CREATE_AS_PROPERTIES,
    CREATE_PROPERTIES,
    INSERT_PROPERTIES,
    check_full_name,
    column_name,
    offset_reset,
    parse_delimiter,
    parse_duration,
    with_properties,
    wrap_single_values,
)


def _with(sql: str) -> dict[str, A.Literal]:
    (stmt,) = parse(sql)
    assert isinstance(stmt, A.CreateSource | A.CreateAsSelect)
    return dict(stmt.properties)


def test_with_clause_values_by_name() -> None:
    props = _with(
        "CREATE STREAM s (a INT) WITH (kafka_topic='t', partitions=3, value_format='JSON');"
    )
    assert with_properties(props, CREATE_PROPERTIES) == {
        "KAFKA_TOPIC": "t",
        "PARTITIONS": 3,
        "VALUE_FORMAT": "JSON",
    }


def test_unknown_with_names_are_refused_with_ksqldbs_message() -> None:
    props = _with("CREATE STREAM s (a INT) WITH (kafka_topic='t', colour='red', flavour=1);")
    with pytest.raises(KsqlStatementError) as err:
        with_properties(props, CREATE_PROPERTIES)
    assert str(err.value) == "Invalid config variable(s) in the WITH clause: COLOUR,FLAVOUR"
    window = _with("CREATE STREAM s WITH (window_type='TUMBLING') AS SELECT * FROM x;")
    with pytest.raises(KsqlStatementError, match="WINDOW_TYPE"):
        with_properties(window, CREATE_AS_PROPERTIES)
    assert "QUERY_ID" in INSERT_PROPERTIES and "QUERY_ID" not in CREATE_PROPERTIES


@pytest.mark.parametrize(
    ("text", "expected"), [(",", ","), ("TAB", "\t"), ("space", " "), ("|", "|")]
)
def test_delimiters(text: str, expected: str) -> None:
    assert parse_delimiter(text, "VALUE_DELIMITER") == expected


@pytest.mark.parametrize(("text", "why"), [("", "cannot be empty"), ("ab", "single character")])
def test_bad_delimiters(text: str, why: str) -> None:
    with pytest.raises(KsqlStatementError, match=why):
        parse_delimiter(text, "VALUE_DELIMITER")


def test_durations() -> None:
    assert parse_duration("10 SECONDS") == 10_000
    assert parse_duration("2 minutes") == 120_000
    with pytest.raises(KsqlParseError, match="Unknown time unit: 'FORTNIGHTS'"):
        parse_duration("1 FORTNIGHTS")
    with pytest.raises(KsqlStatementError, match="Invalid duration"):
        parse_duration("soon")


def test_full_name_is_avro_only_and_not_empty() -> None:
    assert check_full_name("io.x.Rec", "AVRO") == "io.x.Rec"
    with pytest.raises(KsqlStatementError, match=r"JSON does not support .*fullSchemaName"):
        check_full_name("io.x.Rec", "JSON")
    with pytest.raises(KsqlStatementError, match="cannot be empty"):
        check_full_name("  ", "AVRO")


def test_column_name_case() -> None:
    assert column_name("ts") == "TS"
    assert column_name("`Ts`") == "Ts"
    assert column_name(None) is None


def test_stream_properties() -> None:
    assert offset_reset(None) == "latest"
    assert offset_reset({"auto.offset.reset": "earliest"}) == "earliest"
    assert offset_reset({"ksql.streams.auto.offset.reset": "earliest"}) == "earliest"
    assert wrap_single_values({}) is None
    assert wrap_single_values({"ksql.persistence.wrap.single.values": "FALSE"}) is False
    assert wrap_single_values({"ksql.persistence.wrap.single.values": True}) is True
