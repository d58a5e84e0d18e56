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
