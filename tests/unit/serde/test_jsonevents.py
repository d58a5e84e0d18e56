"""Raw JSON source events: numeric ranges are checked on both decode paths."""

from __future__ import annotations

import orjson
import pytest

from fraudstream.producer.synthetic import generate_events
from fraudstream.serde.errors import InvalidValueError
from fraudstream.serde.jsonevents import decode_raw_event, validate_raw_event


@pytest.mark.parametrize("name", ["Id", "Time"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_ints_beyond_int64_are_invalid_values(name: str, value: int) -> None:
    event = next(iter(generate_events(1, seed=3)))
    data = orjson.dumps(dict(event, **{name: value}))
    with pytest.raises(InvalidValueError, match=name):
        decode_raw_event(data)
    with pytest.raises(InvalidValueError, match=name):
        validate_raw_event(dict(event, **{name: float(value)}))


def test_largest_int64_id_is_accepted() -> None:
    event = next(iter(generate_events(1, seed=3)))
    assert decode_raw_event(orjson.dumps(dict(event, Id=2**63 - 1)))["Id"] == 2**63 - 1
