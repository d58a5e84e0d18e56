from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from fraudstream.events import FEATURE_COLUMNS, RawCardEvent
from fraudstream.serde.schemas import SCHEMA_NAMES, load_schema, parsed_schema


def _event(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Id": 1,
        "Timestamp": "2013-09-01T00:00:00+00:00",
        "User": "Hans",
        "Time": 0,
        **{f"V{i}": float(i) / 10 for i in range(1, 29)},
        "Amount": 12.5,
        "Class": "0",
    }
    base.update(over)
    return base


def test_quoted_class_becomes_int() -> None:
    assert RawCardEvent(**_event(Class='"1"')).Class == 1
    assert RawCardEvent(**_event(Class="")).Class is None
    assert RawCardEvent(**_event(Class=None)).Class is None


def test_features_order() -> None:
    ev = RawCardEvent(**_event())
    assert len(FEATURE_COLUMNS) == 29
    assert ev.features()[0] == pytest.approx(0.1)
    assert ev.features()[-1] == 12.5


@pytest.mark.parametrize(
    "bad",
    [
        {"V3": math.nan},
        {"Amount": math.inf},
        {"Class": 7},
        {"Unknown": 1},
        {"V1": "x"},
        {"User": ""},
    ],
)
def test_bad_events_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RawCardEvent(**_event(**bad))


def test_every_shipped_schema_parses() -> None:
    for name in SCHEMA_NAMES:
        assert parsed_schema(name) is not None
        assert load_schema(name)["type"] == "record"
    with pytest.raises(KeyError):
        load_schema("nope")


def test_raw_fields_are_the_models_fields_in_order() -> None:
    from fraudstream.events import NUMERIC_COLUMNS, RAW_FIELDS, V_COLUMNS

    assert ("Id", "Timestamp", "User", "Time", *V_COLUMNS, "Amount", "Class") == RAW_FIELDS
    assert ("Time", *V_COLUMNS, "Amount") == NUMERIC_COLUMNS
    assert set(NUMERIC_COLUMNS) <= set(RAW_FIELDS)
    assert NUMERIC_COLUMNS[1:] == FEATURE_COLUMNS


def test_avro_form_of_the_contract_matches_the_model() -> None:
    """raw_event.avsc is RawCardEvent in Avro: same names, order, types, optional Class."""
    from fraudstream.events import RAW_FIELDS

    fields = load_schema("raw_event")["fields"]
    assert tuple(f["name"] for f in fields) == RAW_FIELDS
    types = {f["name"]: f["type"] for f in fields}
    assert types["Id"] == "long" and types["Time"] in ("int", "long")
    assert types["Timestamp"] == types["User"] == "string"
    assert all(types[c] == "double" for c in (*FEATURE_COLUMNS,))
    assert "null" in types["Class"] and "int" in types["Class"]


def test_ksql_outputs_carry_the_numeric_columns() -> None:
    from fraudstream.events import NUMERIC_COLUMNS

    for name in ("live", "preprocessed"):
        upper = {f["name"].upper() for f in load_schema(name)["fields"]}
        assert {c.upper() for c in NUMERIC_COLUMNS} <= upper, name


@pytest.mark.parametrize(
    "over",
    [{}, {"Class": None}, {"Class": "1"}, {"V3": math.nan}, {"Amount": -1.0}, {"Class": 7},
     {"User": ""}, {"Id": -1}, {"V1": "x"}, {"Time": -5}],
)  # fmt: skip
def test_json_codec_and_model_give_the_same_verdicts(over: dict[str, Any]) -> None:
    """serde.jsonevents (the fast path on the source topic) enforces the model's rules."""
    import orjson

    from fraudstream.serde.errors import SerdeFailure
    from fraudstream.serde.jsonevents import decode_raw_event

    ev = _event(**over)
    try:
        model = RawCardEvent(**ev).model_dump()
    except ValidationError:
        model = None
    try:
        codec: dict[str, Any] | None = decode_raw_event(orjson.dumps(ev))
    except SerdeFailure:
        codec = None
    assert (model is None) == (codec is None), (model, codec)
    if model is not None and codec is not None:
        assert codec == model
