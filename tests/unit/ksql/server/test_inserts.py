"""/inserts-stream's arguments line and JSON values as KSQL literals."""

from __future__ import annotations

import pytest

from fraudstream.ksql.server.entities import StatementFailure
from fraudstream.ksql.server.inserts import parse_args, sql_literal


@pytest.mark.parametrize(
    ("value", "column_type", "literal"),
    [
        (None, "", "NULL"),
        (True, "", "TRUE"),
        (7, "", "7"),
        (2.5, "", "2.5"),
        ("o'neil", "", "'o''neil'"),
        ([1, "a"], "", "ARRAY[1, 'a']"),
        ({"k": 1}, "MAP<STRING, INTEGER>", "MAP('k' := 1)"),
        ({"X": [True]}, "STRUCT<`X` ARRAY<BOOLEAN>>", "STRUCT(`X` := ARRAY[TRUE])"),
    ],
)
def test_json_values_become_literals(value: object, column_type: str, literal: str) -> None:
    assert sql_literal(value, column_type) == literal


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        sql_literal(float("nan"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "Malformed JSON in request"),
        (b"[1]", "Malformed JSON in request"),
        (b'{"properties": {}}', "No target in arguments"),
    ],
)
def test_bad_arguments_are_a_400(line: bytes, message: str) -> None:
    with pytest.raises(StatementFailure) as info:
        parse_args(line)
    assert info.value.status == 400 and info.value.message == message


def test_arguments() -> None:
    args = parse_args(b'{"target": "S", "properties": {"a": 1}}')
    assert (args.target, args.properties) == ("S", {"a": 1})
