"""Avro schema-resolution table: can data written with WRITER be read with READER?

Each row: (name, writer, reader, expected, kind, why). `expected` is the verdict of the
Avro specification's "Schema Resolution" section (and the decimal rule of "Logical
Types"); `kind` is the error type our checker must report when the verdict is "no".
The registry's levels build on this: BACKWARD = new reads old, FORWARD = old reads new.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudstream.registry.avroschema import parse_avro
from fraudstream.registry.compat import Level, check_level, reader_incompatibilities


def rec(*fields: dict[str, Any], name: str = "R", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def f(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(symbols: list[str], name: str = "E", **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": symbols, **extra}


def fixed(size: int, name: str = "F", **extra: Any) -> dict[str, Any]:
    return {"type": "fixed", "name": name, "size": size, **extra}


def dec(precision: int, scale: int) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


LIST_V1 = rec(f("value", "int"), f("next", ["null", "Node"]), name="Node")
LIST_V2 = rec(
    f("value", "long"), f("next", ["null", "Node"]), f("tag", "string", default=""), name="Node"
)
INNER_V1 = rec(f("x", "int"), name="Inner")
INNER_V2_DEFAULT = rec(f("x", "int"), f("y", "int", default=0), name="Inner")
INNER_V2_NODEFAULT = rec(f("x", "int"), f("y", "int"), name="Inner")

OK = True
NO = False

# (name, writer, reader, expected, kind-if-incompatible, why)
TABLE: list[tuple[str, Any, Any, bool, str | None, str]] = [
    ("int-int", "int", "int", OK, None, "identical primitives"),
    ("int-long", "int", "long", OK, None, "promotion int->long"),
    ("int-float", "int", "float", OK, None, "promotion int->float"),
    ("int-double", "int", "double", OK, None, "promotion int->double"),
    ("long-float", "long", "float", OK, None, "promotion long->float"),
    ("long-double", "long", "double", OK, None, "promotion long->double"),
    ("float-double", "float", "double", OK, None, "promotion float->double"),
    ("long-int", "long", "int", NO, "TYPE_MISMATCH", "no demotion long->int"),
    ("double-float", "double", "float", NO, "TYPE_MISMATCH", "no demotion double->float"),
    ("float-long", "float", "long", NO, "TYPE_MISMATCH", "float is not promotable to long"),
    ("string-bytes", "string", "bytes", OK, None, "string<->bytes are interchangeable"),
    ("bytes-string", "bytes", "string", OK, None, "string<->bytes are interchangeable"),
    ("string-int", "string", "int", NO, "TYPE_MISMATCH", "unrelated primitives"),
    ("boolean-int", "boolean", "int", NO, "TYPE_MISMATCH", "boolean is not numeric"),
    ("null-null", "null", "null", OK, None, "identical"),
    ("null-string", "null", "string", NO, "TYPE_MISMATCH", "null only matches null"),
    (
        "rec-add-default",
        rec(f("a", "int")),
        rec(f("a", "int"), f("b", "string", default="x")),
        OK,
        None,
        "reader field absent from writer uses its default",
    ),
    (
        "rec-add-nodefault",
        rec(f("a", "int")),
        rec(f("a", "int"), f("b", "string")),
        NO,
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "reader field absent from writer and no default",
    ),
    (
        "rec-remove-field",
        rec(f("a", "int"), f("b", "string")),
        rec(f("a", "int")),
        OK,
        None,
        "writer fields unknown to the reader are skipped",
    ),
    (
        "rec-field-promote",
        rec(f("a", "int")),
        rec(f("a", "long")),
        OK,
        None,
        "field types resolve recursively (int->long)",
    ),
    (
        "rec-field-demote",
        rec(f("a", "long")),
        rec(f("a", "int")),
        NO,
        "TYPE_MISMATCH",
        "field types resolve recursively (long->int fails)",
    ),
    (
        "rec-name-differs",
        rec(f("a", "int"), name="A"),
        rec(f("a", "int"), name="B"),
        NO,
        "NAME_MISMATCH",
        "records must have the same name",
    ),
    (
        "rec-name-alias",
        rec(f("a", "int"), name="A"),
        rec(f("a", "int"), name="B", aliases=["A"]),
        OK,
        None,
        "reader aliases match the writer's name",
    ),
    (
        "rec-namespace-differs",
        rec(f("a", "int"), name="R", namespace="one"),
        rec(f("a", "int"), name="R", namespace="two"),
        OK,
        None,
        "the spec compares unqualified names",
    ),
    (
        "field-renamed-alias",
        rec(f("old", "int")),
        rec(f("new", "int", aliases=["old"])),
        OK,
        None,
        "reader field aliases match writer field names",
    ),
    (
        "field-renamed-no-alias",
        rec(f("old", "int")),
        rec(f("new", "int")),
        NO,
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "a renamed field without alias or default cannot be filled",
    ),
    ("enum-same", enum(["A", "B"]), enum(["A", "B"]), OK, None, "identical enums"),
    ("enum-reader-adds", enum(["A"]), enum(["A", "B"]), OK, None, "reader knows more symbols"),
    (
        "enum-reader-drops",
        enum(["A", "B"]),
        enum(["A"]),
        NO,
        "MISSING_ENUM_SYMBOLS",
        "writer symbol B unknown to reader and no default",
    ),
    (
        "enum-reader-drops-default",
        enum(["A", "B"]),
        enum(["A"], default="A"),
        OK,
        None,
        "unknown symbols resolve to the reader's enum default",
    ),
    ("enum-name", enum(["A"], name="E1"), enum(["A"], name="E2"), NO, "NAME_MISMATCH", "names"),
    ("fixed-same", fixed(16), fixed(16), OK, None, "same name and size"),
    ("fixed-size", fixed(16), fixed(8), NO, "FIXED_SIZE_MISMATCH", "sizes must match"),
    ("fixed-name", fixed(4, "F1"), fixed(4, "F2"), NO, "NAME_MISMATCH", "names must match"),
    (
        "array-promote",
        {"type": "array", "items": "int"},
        {"type": "array", "items": "long"},
        OK,
        None,
        "array items resolve recursively",
    ),
    (
        "array-demote",
        {"type": "array", "items": "long"},
        {"type": "array", "items": "int"},
        NO,
        "TYPE_MISMATCH",
        "array items resolve recursively",
    ),
    (
        "map-string-bytes",
        {"type": "map", "values": "string"},
        {"type": "map", "values": "bytes"},
        OK,
        None,
        "map values resolve recursively",
    ),
    (
        "map-vs-array",
        {"type": "map", "values": "int"},
        {"type": "array", "items": "int"},
        NO,
        "TYPE_MISMATCH",
        "map and array never match",
    ),
    ("int-to-optional", "int", ["null", "int"], OK, None, "reader union has the writer type"),
    (
        "int-to-optional-long",
        "int",
        ["null", "long"],
        OK,
        None,
        "first reader branch the writer promotes to",
    ),
    (
        "int-to-union-string",
        "int",
        ["null", "string"],
        NO,
        "MISSING_UNION_BRANCH",
        "no reader branch accepts int",
    ),
    (
        "optional-to-int",
        ["null", "int"],
        "int",
        NO,
        "TYPE_MISMATCH",
        "every writer branch must be readable; null is not",
    ),
    (
        "union-widened",
        ["null", "int"],
        ["null", "int", "string"],
        OK,
        None,
        "reader union is a superset",
    ),
    (
        "union-narrowed",
        ["null", "int", "string"],
        ["null", "int"],
        NO,
        "MISSING_UNION_BRANCH",
        "writer's string branch has no reader branch",
    ),
    (
        "union-reordered",
        ["int", "string"],
        ["string", "int"],
        OK,
        None,
        "union branches match by type, not position",
    ),
    (
        "nested-add-default",
        rec(f("inner", INNER_V1)),
        rec(f("inner", INNER_V2_DEFAULT)),
        OK,
        None,
        "nested records resolve recursively",
    ),
    (
        "nested-add-nodefault",
        rec(f("inner", INNER_V1)),
        rec(f("inner", INNER_V2_NODEFAULT)),
        NO,
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "nested reader field without default",
    ),
    ("recursive-same", LIST_V1, LIST_V1, OK, None, "recursive types terminate"),
    (
        "recursive-evolved",
        LIST_V1,
        LIST_V2,
        OK,
        None,
        "recursive type with promotion and defaulted field",
    ),
    (
        "recursive-reverse",
        LIST_V2,
        LIST_V1,
        NO,
        "TYPE_MISMATCH",
        "long value cannot be read as int",
    ),
    (
        "date-int",
        {"type": "int", "logicalType": "date"},
        "int",
        OK,
        None,
        "logical types resolve by their underlying type",
    ),
    (
        "ts-micros-millis",
        {"type": "long", "logicalType": "timestamp-micros"},
        {"type": "long", "logicalType": "timestamp-millis"},
        OK,
        None,
        "resolution ignores non-decimal logical annotations",
    ),
    ("decimal-same", dec(10, 2), dec(10, 2), OK, None, "same precision and scale"),
    (
        "decimal-scale",
        dec(10, 2),
        dec(10, 3),
        NO,
        "DECIMAL_MISMATCH",
        "decimals match only with equal precision and scale",
    ),
    (
        "decimal-precision",
        dec(10, 2),
        dec(12, 2),
        NO,
        "DECIMAL_MISMATCH",
        "decimals match only with equal precision and scale",
    ),
    ("decimal-to-bytes", dec(10, 2), "bytes", OK, None, "plain bytes reads decimal bytes"),
    (
        "uuid-string",
        {"type": "string", "logicalType": "uuid"},
        "string",
        OK,
        None,
        "uuid is a string",
    ),
    (
        "field-optional-to-required",
        rec(f("a", ["null", "int"])),
        rec(f("a", "int")),
        NO,
        "TYPE_MISMATCH",
        "a writer null cannot be read as int",
    ),
    ("enum-string", enum(["A"]), "string", NO, "TYPE_MISMATCH", "no enum->string promotion"),
    (
        "ksql-live-add-optional",
        rec(f("ID", ["null", "long"], default=None)),
        rec(f("ID", ["null", "long"], default=None), f("X", ["null", "double"], default=None)),
        OK,
        None,
        "ksqlDB-style optional field added with null default",
    ),
]


def _parse(schema: Any) -> Any:
    return parse_avro(json.dumps(schema))


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 40
    assert len({row[0] for row in TABLE}) == len(TABLE), "row names must be unique"


@pytest.mark.parametrize(
    ("writer", "reader", "expected", "kind"),
    [pytest.param(w, r, e, k, id=n) for n, w, r, e, k, _ in TABLE],
)
def test_resolution(writer: Any, reader: Any, expected: bool, kind: str | None) -> None:
    problems = reader_incompatibilities(_parse(reader), _parse(writer))
    assert (not problems) is expected, [str(p) for p in problems]
    if not expected:
        assert kind in {p.kind for p in problems}


V1 = rec(f("a", "int"))
V2 = rec()  # field a removed
V3 = rec(f("a", "string", default="x"))  # a comes back with another type


def test_backward_only_checks_latest_but_transitive_checks_all() -> None:
    prev = [_parse(V1), _parse(V2)]
    assert check_level(Level.BACKWARD, _parse(V3), prev) == []
    msgs = check_level(Level.BACKWARD_TRANSITIVE, _parse(V3), prev)
    assert msgs and "TYPE_MISMATCH" in msgs[0]


def test_forward_and_full() -> None:
    old = _parse(rec(f("a", "int")))
    added_required = _parse(rec(f("a", "int"), f("b", "int")))
    assert check_level(Level.FORWARD, added_required, [old]) == []  # old reader ignores b
    assert check_level(Level.BACKWARD, added_required, [old])  # new reader needs b
    assert check_level(Level.FULL, added_required, [old])
    added_default = _parse(rec(f("a", "int"), f("b", "int", default=0)))
    assert check_level(Level.FULL, added_default, [old]) == []
    assert check_level(Level.FULL_TRANSITIVE, added_default, [old, old]) == []


def test_none_accepts_anything() -> None:
    assert check_level(Level.NONE, _parse("string"), [_parse("int")]) == []
    assert check_level("forward_transitive", _parse("string"), [_parse("int")])


# Where this table knowingly differs from Apache Avro's own checker (avro.compatibility, a
# port of Java's SchemaCompatibility, which is what Confluent's registry runs): Java ignores
# logical types, the specification says decimals match only with equal precision and scale.
# We follow the specification, since reading a scale-2 decimal as scale-3 silently divides
# every amount by 10.
STRICTER_THAN_APACHE = {"decimal-scale", "decimal-precision"}


def test_verdicts_match_apache_avro_checker() -> None:
    """Cross-check every row against Apache Avro's reference implementation."""
    avro_schema = pytest.importorskip("avro.schema")
    compat = pytest.importorskip("avro.compatibility")
    checked = 0
    for name, writer, reader, expected, _kind, _why in TABLE:
        result = compat.ReaderWriterCompatibilityChecker().get_compatibility(
            avro_schema.parse(json.dumps(reader)), avro_schema.parse(json.dumps(writer))
        )
        apache = result.compatibility is compat.SchemaCompatibilityType.compatible
        if name in STRICTER_THAN_APACHE:
            assert apache and not expected, name
        else:
            assert apache is expected, name
        checked += 1
    assert checked == len(TABLE)
