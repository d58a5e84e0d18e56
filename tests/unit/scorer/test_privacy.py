"""JSON input: users masked as KSQL's MASK_LEFT(User, 2); dead letters carry no raw user."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fraudstream.ksql.engine.functions import mask_left
from fraudstream.scorer.dlq import dead_letter_record
from fraudstream.scorer.privacy import MaskingDecoder, mask_user
from fraudstream.testing.messages import Msg as FakeMsg
from fraudstream.testing.scorer import make_events

RAW = "Wilhelmina_4711"


def Msg(
    value: bytes | None,
    headers: list[tuple[str, bytes]] | None = None,
    key: bytes | None = RAW.encode(),
) -> FakeMsg:
    return FakeMsg(value, 7, key, headers, topic="creditcardfraud_source")


def _event(**over: Any) -> dict[str, Any]:
    ev = dict(make_events(1)[0])
    ev["User"] = RAW
    ev.update(over)
    return ev


def test_mask_is_ksqls_mask_left_two() -> None:
    assert mask_user("Hans") == "Xxns"  # ksql/04_live.sql's own example
    assert mask_user("a1-Bc") == "xn-Bc"
    assert mask_user("Ä") == "X"
    assert mask_user(RAW) == mask_left(RAW, 2) == "Xxlhelmina_4711"


@pytest.mark.parametrize("user", ["Hans", "ab", "x", "Émile-9", "日本語ユーザー", "O'Brien 42", ""])
def test_mask_equals_the_sql_function_of_the_live_statement(user: str) -> None:
    """Scores from JSON input carry the same user as KSQL's live stream would."""
    from fraudstream.ksql.engine.functions import resolve
    from fraudstream.ksql.sql import types as T

    sql_mask_left = resolve("MASK_LEFT", [T.T_STRING, T.T_INTEGER]).impl
    assert mask_user(user) == sql_mask_left(user, 2)


def test_scored_users_are_masked() -> None:
    batch = MaskingDecoder().decode([Msg(orjson.dumps(_event()))])
    assert batch.users == ["Xxlhelmina_4711"]
    assert not batch.dead


@pytest.mark.parametrize(
    "value",
    [
        orjson.dumps(_event(Amount="12.5")),  # wrong_type: the detail quotes nothing of the user
        orjson.dumps(_event(Amount=-1.0)),  # invalid_value (batch-level check)
        orjson.dumps({"User": RAW, "Id": 3}),  # missing_field
        b'{"Id": 1, "User": "' + RAW.encode() + b'", "Amount": ',  # decode_error: not JSON
        orjson.dumps(_event(Timestamp=f"at {RAW}'s birthday")),  # the detail quotes it
    ],
)
def test_dead_letters_hold_no_raw_user(value: bytes) -> None:
    headers = [("origin-user", RAW.encode()), ("trace", b"t-1")]
    batch = MaskingDecoder().decode([Msg(value, headers=headers)])
    assert len(batch.dead) == 1
    d = batch.dead[0]
    key, out, hdrs = dead_letter_record(d, "now", 900_000)
    everything = b"".join([key or b"", out or b"", *(n.encode() + v for n, v in hdrs)])
    assert RAW.encode() not in everything
    assert RAW not in d.detail
    assert key == b"Xxlhelmina_4711"
    assert b"Xxlhelmina_4711" in (out or b"")
    assert dict(hdrs)["trace"] == b"t-1"
    assert dict(hdrs)["dlq.source.offset"] == b"7"
    parsed: Any
    try:
        parsed = orjson.loads(out or b"")
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and "User" in parsed:
        assert parsed["User"] == "Xxlhelmina_4711"


def test_short_user_in_a_field_is_masked_without_mangling_the_record() -> None:
    value = orjson.dumps(_event(User="ab", Amount="x"))
    batch = MaskingDecoder().decode([Msg(value, key=b"ab")])
    _, out, _ = dead_letter_record(batch.dead[0], "now", 900_000)
    parsed = orjson.loads(out or b"")
    assert parsed["User"] == "xx" and parsed["Amount"] == "x"
