"""Decoder limits are settings (`FRAUDSTREAM_DECODE_*`, the one settings pattern) and every
refusal names the limit that refused it (the scorer counts them by limit)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fraudstream.errors import ConfigError
from fraudstream.serde.ksql_records import RecordDecoder
from fraudstream.serde.limits import DecodeLimits, decode_limits
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.messages import Msg
from fraudstream.testing.scorer import MemorySchemas, avro

LIVE = load_schema("live")


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode_limits() == DecodeLimits()
    monkeypatch.setenv("FRAUDSTREAM_DECODE_MAX_RECORD_BYTES", "300")
    monkeypatch.setenv("FRAUDSTREAM_DECODE_MAX_STRING_BYTES", "12")
    assert decode_limits() == DecodeLimits(max_record_bytes=300, max_string_bytes=12)
    dec = RecordDecoder("json")  # no explicit limits: the settings' ones
    assert dec.limits == DecodeLimits(max_record_bytes=300, max_string_bytes=12)


def test_a_bad_limit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_DECODE_MAX_STRING_BYTES", "0")
    with pytest.raises(ConfigError, match="FRAUDSTREAM_DECODE_MAX_STRING_BYTES"):
        decode_limits()


def test_each_refusal_names_the_limit(
    events: list[dict[str, Any]], live_records: list[dict[str, Any]]
) -> None:
    limits = DecodeLimits(max_record_bytes=2048, max_string_bytes=64)
    js = RecordDecoder("json", limits=limits)
    big = Msg(orjson.dumps(dict(events[0], pad="x" * 3000)), 0)
    long_user = Msg(orjson.dumps(dict(events[1], User="u" * 100)), 1)
    ok = Msg(orjson.dumps(events[2]), 2)
    out = js.decode([big, long_user, ok])
    assert {d.msg._offset: d.limit for d in out.dead} == {0: "record_bytes", 1: "string_bytes"}
    assert out.refusals() == {"record_bytes": 1, "string_bytes": 1}

    hostile = dict(
        LIVE, fields=[*LIVE["fields"], {"name": "X", "type": {"type": "array", "items": "null"}}]
    )
    dec = RecordDecoder("avro", MemorySchemas({9: hostile}), limits=limits)
    out = dec.decode([Msg(avro(LIVE, live_records[0], 9) + b"\x00", 5)])
    assert [d.limit for d in out.dead] == ["unexpected_schema"]
