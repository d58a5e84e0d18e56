"""Differential test: our resolution checker against Apache Avro's reference checker.

Random schemas (records, enums with/without defaults, fixed, arrays, maps, unions,
primitives; nested to depth 3) and mutations of them (fields added with and without
defaults, removed, retyped; symbols added/removed; union branches added/removed; fixed
sizes changed). Every pair gets the same verdict from both. Logical types are left out:
there we deliberately follow the spec's decimal rule (see test_compat_table.py).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from fraudstream.registry.avroschema import parse_avro
from fraudstream.registry.compat import reader_incompatibilities
from fraudstream.registry.errors import InvalidSchema

PRIMS = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]


def gen(rng: random.Random, depth: int) -> Any:
    if depth <= 0 or rng.random() < 0.4:
        return rng.choice(PRIMS)
    kind = rng.choice(["record", "enum", "array", "map", "union", "fixed"])
    if kind == "record":
        fields = [
            {"name": fn, "type": gen(rng, depth - 1)}
            for fn in rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
        ]
        return {"type": "record", "name": f"{rng.choice(['R1', 'R2'])}{depth}", "fields": fields}
    if kind == "enum":
        e: dict[str, Any] = {
            "type": "enum",
            "name": f"E{depth}",
            "symbols": rng.sample(["A", "B", "C"], rng.randint(1, 3)),
        }
        if rng.random() < 0.3 and "A" in e["symbols"]:
            e["default"] = "A"
        return e
    if kind == "fixed":
        return {"type": "fixed", "name": f"F{depth}", "size": rng.choice([2, 4])}
    if kind == "array":
        return {"type": "array", "items": gen(rng, depth - 1)}
    if kind == "map":
        return {"type": "map", "values": gen(rng, depth - 1)}
    return rng.sample(PRIMS, rng.randint(1, 3))


def mutate(rng: random.Random, schema: Any) -> Any:
    s = json.loads(json.dumps(schema))
    if isinstance(s, str):
        return rng.choice(PRIMS) if rng.random() < 0.5 else s
    if isinstance(s, list):
        if rng.random() < 0.5 and len(s) > 1:
            s.pop(rng.randrange(len(s)))
        elif (extra := rng.choice(PRIMS)) not in s:
            s.append(extra)
        return s
    t = s["type"]
    if t == "record":
        r = rng.random()
        if s["fields"] and r < 0.3:
            s["fields"].pop(rng.randrange(len(s["fields"])))
        elif r < 0.6:
            name = rng.choice(["x", "y"])
            if all(f["name"] != name for f in s["fields"]):
                field: dict[str, Any] = {"name": name, "type": "int"}
                if rng.random() < 0.5:
                    field["default"] = 0
                s["fields"].append(field)
        elif s["fields"]:
            i = rng.randrange(len(s["fields"]))
            s["fields"][i]["type"] = mutate(rng, s["fields"][i]["type"])
    elif t == "enum":
        syms = list(s["symbols"])
        if rng.random() < 0.5 and len(syms) > 1:
            syms.pop()
        elif "D" not in syms:
            syms.append("D")
        s["symbols"] = syms
        if s.get("default") not in syms:
            s.pop("default", None)
    elif t == "array":
        s["items"] = mutate(rng, s["items"])
    elif t == "map":
        s["values"] = mutate(rng, s["values"])
    elif t == "fixed":
        s["size"] = rng.choice([2, 4])
    return s


@pytest.mark.parametrize("seed", [1, 2])
def test_same_verdicts_as_apache_avro(seed: int) -> None:
    avro_schema = pytest.importorskip("avro.schema")
    compat = pytest.importorskip("avro.compatibility")
    rng = random.Random(seed)
    compared = incompatible = 0
    for _ in range(1500):
        writer = gen(rng, 3)
        reader = mutate(rng, writer) if rng.random() < 0.8 else gen(rng, 3)
        try:
            ours_w, ours_r = parse_avro(json.dumps(writer)), parse_avro(json.dumps(reader))
        except InvalidSchema:  # e.g. a name defined twice: Apache must reject it too
            with pytest.raises(Exception):  # noqa: B017 - Apache raises several types
                avro_schema.parse(json.dumps(writer))
                avro_schema.parse(json.dumps(reader))
            continue
        apache = compat.ReaderWriterCompatibilityChecker().get_compatibility(
            avro_schema.parse(json.dumps(reader)), avro_schema.parse(json.dumps(writer))
        )
        expected = apache.compatibility is compat.SchemaCompatibilityType.compatible
        problems = reader_incompatibilities(ours_r, ours_w)
        assert (not problems) is expected, (writer, reader, [str(p) for p in problems])
        compared += 1
        incompatible += not expected
    assert compared > 1300 and 0.2 < incompatible / compared < 0.8
