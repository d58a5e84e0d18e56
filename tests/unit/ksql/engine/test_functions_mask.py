"""MASK family ground truth from ksqlDB's Masker tests (shared/ksql-conformance README)."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine
from fraudstream.ksql.engine.functions import resolve
from fraudstream.ksql.errors import KsqlProcessingError
from fraudstream.ksql.sql.types import T_INTEGER, T_STRING

S = "AbCd#$123xy Z"


def _call(name: str, *args: object) -> object:
    types = [T_STRING] + ([T_INTEGER] if name != "MASK" else [])
    extra = len(args) - len(types)
    res = resolve(name, types + [T_STRING] * extra)
    return res.impl(*args)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("MASK", (S,), "XxXx--nnnxx-X"),
        ("MASK", (S, "Q", "q", "9", "@"), "QqQq@@999qq@Q"),
        ("MASK", (S, None, None, None, None), "AbCd#$123xy Z"),
        ("MASK", (S, None, "q", None, "="), "AqCq==123qq=Z"),
        ("MASK_LEFT", (S, 5), "XxXx-$123xy Z"),
        ("MASK_LEFT", (S, 999), "XxXx--nnnxx-X"),
        ("MASK_RIGHT", (S, 5), "AbCd#$12nxx-X"),
        ("MASK_RIGHT", (S, 999), "XxXx--nnnxx-X"),
        ("MASK_KEEP_LEFT", (S, 5), "AbCd#-nnnxx-X"),
        ("MASK_KEEP_LEFT", (S, 999), "AbCd#$123xy Z"),
        ("MASK_KEEP_RIGHT", (S, 5), "XxXx--nn3xy Z"),
        ("MASK_KEEP_RIGHT", (S, 999), "AbCd#$123xy Z"),
        ("MASK_KEEP_RIGHT", (S, 5, "Q", "q", "9", "@"), "QqQq@@993xy Z"),
        ("MASK_KEEP_RIGHT", (S, 5, None, "q", None, "="), "AqCq==123xy Z"),
    ],
)
def test_mask_ground_truth(name: str, args: tuple[object, ...], expected: str) -> None:
    assert _call(name, *args) == expected


def test_mask_null_input_and_non_ascii() -> None:
    assert _call("MASK_LEFT", None, 2) is None
    assert _call("MASK", "Éé٣") == "Xxn"  # non-ASCII letters and digits are masked too


def test_mask_rejects_negative_counts_and_long_mask_chars() -> None:
    with pytest.raises(KsqlProcessingError, match="requires a non-negative number"):
        _call("MASK_LEFT", S, -1)
    with pytest.raises(KsqlProcessingError, match="Must be only single character, but was 'QQ'"):
        _call("MASK", S, "QQ", None, None, None)


def test_mask_error_in_query_is_logged_and_column_is_null() -> None:
    engine = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    engine.execute(
        "CREATE STREAM s (n INT, name STRING) WITH (kafka_topic='s', value_format='JSON');"
        "CREATE STREAM o AS SELECT MASK_LEFT(name, n) AS m, name FROM s;"
    )
    (q,) = engine.queries.values()
    (out,) = q.process(InRecord("s", None, b'{"n": -1, "name": "Bob"}', 1))
    assert out.value == b'{"M":null,"NAME":"Bob"}'
    assert len(q.errors) == 1 and q.errors[0].type == "RECORD_PROCESSING_ERROR"
