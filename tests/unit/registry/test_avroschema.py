"""Generated Avro schemas, valid and broken, registered through the registry's HTTP app.

Every answer must be Confluent's: 200 with an id, 409 (error_code 409, as Confluent 7.x, the
compose image) for an incompatible schema, 422 with 42201 for an invalid one; never a 500.
The generator knows which defects it injected (each one a schema Avro's Java parser, hence
Confluent, refuses: bad names, a field twice, unknown types, bad defaults, unions of unions,
duplicate branches, bad fixed sizes, bad enum symbols, a name defined twice, references,
schema types other than AVRO), so the verdict is checked both ways: a schema without a
defect is accepted, one with a defect refused. fastavro's own verdict is checked too: nothing
fastavro cannot parse is ever accepted, and what is accepted reads back by id and parses.
"""

from __future__ import annotations

import json
from typing import Any

import avro.schema
import fastavro
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.unit.registry.test_service import make

from fraudstream.registry.app import CONTENT_TYPE, build_app
from fraudstream.registry.avroschema import parse_avro
from fraudstream.registry.errors import InvalidSchema

CT = {"Content-Type": CONTENT_TYPE}
PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
PRIMS = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
BAD_NAMES = ["1R", "a-b", "a b", "", "R$"]
BAD_SPACES = ["a..b", "1a.b", "a.b-c"]
UNKNOWN_TYPES = ["foo", "Int", "integer", "recordx", "com.example.Missing"]
FIELD_NAMES = ["a", "b", "c", "d", "e_1", "_f"]
# a valid default per primitive, and one Java's parser refuses
GOOD_DEFAULT: dict[str, Any] = {
    "null": None, "boolean": True, "int": -(2**31), "long": 2**63 - 1,
    "float": 1.5, "double": -2.5, "bytes": "\u00ff", "string": "x",
}  # fmt: skip
BAD_DEFAULT: dict[str, Any] = {
    "null": 0, "boolean": 1, "int": 2**31, "long": 2**63,
    "float": "1.5", "double": None, "bytes": 3, "string": None,
}  # fmt: skip


class Gen:
    """One schema under construction: fresh names, and the defects injected so far."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.defects: list[str] = []
        self.names: list[str] = []

    def defect(self, odds: int = 12) -> bool:
        """Inject a defect here? (1 in `odds`)"""
        return self.draw(st.integers(0, odds - 1)) == 0

    def name(self) -> str:
        if self.names and self.defect(20):
            self.defects.append("name defined twice")
            return self.draw(st.sampled_from(self.names))
        if self.defect(20):
            self.defects.append("bad name")
            return self.draw(st.sampled_from(BAD_NAMES))
        n = f"N{len(self.names)}"
        self.names.append(n)
        return n

    def named(self, kind: str) -> dict[str, Any]:
        """A named type; only the outermost gets a namespace, so every name is in one
        namespace and a name drawn twice is the same full name."""
        top = not self.names
        node: dict[str, Any] = {"type": kind, "name": self.name()}
        if not top:
            return node
        if self.defect(25):
            self.defects.append("bad namespace")
            node["namespace"] = self.draw(st.sampled_from(BAD_SPACES))
        elif self.draw(st.booleans()):
            node["namespace"] = "io.fraudstream.gen"
        return node

    def schema(self, depth: int) -> Any:
        kinds = ["prim"] if depth <= 0 else ["prim", "record", "enum", "fixed", "array", "map",
                                             "union", "logical"]  # fmt: skip
        kind = self.draw(st.sampled_from(kinds))
        if kind == "prim":
            if self.defect(25):
                self.defects.append("unknown type")
                return self.draw(st.sampled_from(UNKNOWN_TYPES))
            p = self.draw(st.sampled_from(PRIMS))
            return {"type": p} if self.draw(st.booleans()) else p
        if kind == "record":
            return self.record(depth)
        if kind == "enum":
            node = self.named("enum")
            syms = self.draw(st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1,
                                      max_size=4, unique=True))  # fmt: skip
            if self.defect():
                self.defects.append("bad enum symbols")
                syms = [*syms, self.draw(st.sampled_from([syms[0], "1X", "X-Y"]))]
            node["symbols"] = syms
            if self.draw(st.booleans()):
                node["default"] = syms[0]
            elif self.defect():
                self.defects.append("enum default not a symbol")
                node["default"] = "Z"
            return node
        if kind == "fixed":
            node = self.named("fixed")
            node["size"] = self.draw(st.integers(0, 16))
            if self.defect():
                self.defects.append("bad fixed size")
                node["size"] = self.draw(st.sampled_from([-1, "4", 1.5, None]))
            return node
        if kind == "array":
            if self.defect(25):
                self.defects.append("array without items")
                return {"type": "array"}
            return {"type": "array", "items": self.schema(depth - 1)}
        if kind == "map":
            return {"type": "map", "values": self.schema(depth - 1)}
        if kind == "logical":
            return self.draw(st.sampled_from([
                {"type": "int", "logicalType": "date"},
                {"type": "long", "logicalType": "timestamp-millis"},
                {"type": "string", "logicalType": "uuid"},
                {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            ]))  # fmt: skip
        return self.union(depth)

    def union(self, depth: int) -> list[Any]:
        branches = self.draw(st.lists(st.sampled_from(PRIMS), min_size=1, max_size=3, unique=True))
        out: list[Any] = list(branches)
        if depth > 1 and self.draw(st.booleans()):
            out.append(self.record(depth - 1))
        if self.defect():
            self.defects.append("union inside a union")
            out.append(["int", "string"])
        elif self.defect():
            self.defects.append("duplicate union branch")
            out.append({"type": out[0]} if isinstance(out[0], str) else out[0])
        return out

    def record(self, depth: int) -> dict[str, Any]:
        node = self.named("record")
        if self.defect(30):
            self.defects.append("record without fields")
            return node
        names = self.draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=4, unique=True))
        fields = []
        for fname in names:
            fld: dict[str, Any] = {"name": fname, "type": self.schema(depth - 1)}
            self.default(fld)
            fields.append(fld)
        if fields and self.defect(20):
            self.defects.append("duplicate field")
            fields.append({"name": fields[0]["name"], "type": "int"})
        if self.defect(25):
            self.defects.append("bad field name")
            fields.append({"name": self.draw(st.sampled_from(BAD_NAMES)), "type": "int"})
        node["fields"] = fields
        return node

    def default(self, fld: dict[str, Any]) -> None:
        t = fld["type"]
        base = t.get("type") if isinstance(t, dict) else t
        if (
            isinstance(base, str)
            and base in PRIMS
            and "logicalType" not in (t if isinstance(t, dict) else {})
        ):
            if self.defect(8):
                self.defects.append("bad default")
                fld["default"] = BAD_DEFAULT[base]
            elif self.draw(st.booleans()):
                fld["default"] = GOOD_DEFAULT[base]
        elif isinstance(t, list) and t and t[0] == "null" and self.draw(st.booleans()):
            fld["default"] = None
        elif base == "array" and self.draw(st.booleans()):
            fld["default"] = []


@st.composite
def schemas(draw: st.DrawFn, top_record: bool = False) -> tuple[Any, list[str]]:
    """(schema as JSON value, the defects injected)."""
    g = Gen(draw)
    schema = g.record(3) if top_record or draw(st.integers(0, 4)) else g.schema(3)
    return schema, g.defects


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A registration body: a generated schema, sometimes with references, a schema type
    other than AVRO, or text that is no schema at all."""
    schema, defects = draw(schemas())
    body: dict[str, Any] = {"schema": json.dumps(schema)}
    what = draw(st.integers(0, 19))
    if what == 0:
        body["references"] = [{"name": "com.example.Missing", "subject": "nope", "version": 1}]
        defects = [*defects, "reference (unsupported here; Confluent: 42201 when missing)"]
    elif what == 1:
        body["schemaType"] = draw(st.sampled_from(["PROTOBUF", "JSON", "XML"]))
        defects = [*defects, "schema type other than AVRO"]
    elif what == 2:
        body["schema"] = draw(st.sampled_from(["not json", "42", "true", "null", "{}", "[]x", " "]))
        defects = ["not an Avro schema"]
    return body, defects


def _client() -> TestClient:
    return TestClient(build_app(make()[0]), raise_server_exceptions=False)


def _fastavro_parses(schema_text: str) -> bool:
    try:
        fastavro.parse_schema(json.loads(schema_text), named_schemas={}, _write_hint=False)
    except Exception:  # fastavro raises several unrelated types for bad schemas
        return False
    return True


@PROPS
@given(requests())
def test_a_registration_is_accepted_exactly_when_the_schema_is_valid(
    req: tuple[dict[str, Any], list[str]],
) -> None:
    body, defects = req
    client = _client()
    resp = client.post("/subjects/gen-value/versions", json=body, headers=CT)
    assert resp.status_code in (200, 422), (resp.status_code, resp.text, body)
    if defects:
        assert resp.status_code == 422, (defects, body)
        assert resp.json()["error_code"] == 42201, resp.json()
        assert resp.json()["message"].startswith("Invalid schema"), resp.json()
        return
    assert resp.status_code == 200, (resp.json(), body)
    # accepted: fastavro parses it, Apache Avro parses it, and it reads back by id
    assert _fastavro_parses(body["schema"]), body
    stored = client.get(f"/schemas/ids/{resp.json()['id']}").json()["schema"]
    assert json.loads(stored) == json.loads(body["schema"])
    avro.schema.parse(stored)


@PROPS
@given(requests())
def test_nothing_fastavro_refuses_is_accepted(req: tuple[dict[str, Any], list[str]]) -> None:
    body, _defects = req
    resp = _client().post("/subjects/gen-value/versions", json=body, headers=CT)
    assert resp.status_code != 500, resp.text
    text = body["schema"]
    try:
        fastavro_ok = _fastavro_parses(text)
    except json.JSONDecodeError:
        fastavro_ok = False
    if not fastavro_ok:
        assert resp.status_code == 422, (resp.status_code, resp.text, body)
        assert resp.json()["error_code"] == 42201, (resp.text, body)


def _evolve(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """A next version: fields added (with or without a default), removed or retyped."""
    new = json.loads(json.dumps(schema))
    fields = new["fields"]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["add", "add_default", "remove", "retype"]))
        if op.startswith("add"):
            name = draw(st.sampled_from(["x", "y", "z"]))
            if all(f["name"] != name for f in fields):
                fld: dict[str, Any] = {"name": name, "type": draw(st.sampled_from(PRIMS[1:]))}
                if op == "add_default":
                    fld["default"] = GOOD_DEFAULT[fld["type"]]
                fields.append(fld)
        elif fields and op == "remove":
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif fields:
            i = draw(st.integers(0, len(fields) - 1))
            fields[i] = {"name": fields[i]["name"], "type": draw(st.sampled_from(PRIMS))}
    return new


@st.composite
def evolutions(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    first, _defects = draw(schemas(top_record=True).filter(lambda s: not s[1]))
    return first, _evolve(draw, first)


@PROPS
@given(evolutions())
def test_a_second_version_is_refused_with_409_exactly_when_apache_avro_finds_it_incompatible(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    first, second = pair
    client = _client()
    resp = client.post("/subjects/gen-value/versions", json={"schema": json.dumps(first)},
                       headers=CT)  # fmt: skip
    assert resp.status_code == 200, (resp.json(), first)
    resp = client.post("/subjects/gen-value/versions", json={"schema": json.dumps(second)},
                       headers=CT)  # fmt: skip
    checked = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(second)), avro.schema.parse(json.dumps(first))
    )
    if checked.compatibility is SchemaCompatibilityType.compatible:
        assert resp.status_code == 200, (resp.json(), first, second)
        assert resp.json()["id"] >= 1
    else:
        assert resp.status_code == 409, (resp.json(), first, second)
        assert resp.json()["error_code"] == 409


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ({"type": "record", "name": "1R", "fields": []}, "not an Avro name"),
        ({"type": "record", "name": "R", "namespace": "a..b", "fields": []}, "not an Avro name"),
        ({"type": "record", "name": "R", "fields": [{"name": "a-b", "type": "int"}]}, "field name"),
        ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"},
                                                     {"name": "a", "type": "long"}]},
         "duplicate field"),
        ({"type": "record", "name": "R"}, "without a fields list"),
        ({"type": "fixed", "name": "F", "size": -1}, "fixed size"),
        ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int",
                                                     "default": 2**31}]}, "not a valid int"),
        ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int",
                                                     "default": True}]}, "not a valid int"),
        ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "double",
                                                     "default": "1"}]}, "not a valid double"),
    ],
)  # fmt: skip
def test_new_schemas_follow_javas_rules_stored_ones_still_parse(
    schema: dict[str, Any], why: str
) -> None:
    """fastavro lets each of these through; Java (Confluent) refuses them. A schema stored
    before the rule existed must still replay from the topic."""
    text = json.dumps(schema)
    assert _fastavro_parses(text)
    with pytest.raises(InvalidSchema, match=why):
        parse_avro(text, new=True)
    assert parse_avro(text).canonical  # lenient: what the topic already holds
