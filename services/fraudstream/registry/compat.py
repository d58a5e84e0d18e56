"""Avro schema-resolution compatibility (the rules of the Avro spec, "Schema Resolution").

`reader_incompatibilities(reader, writer)` answers "can data written with `writer` be read
with `reader`?" and lists every reason it cannot. The registry's levels are built on it:
BACKWARD = the new schema reads data of the old one, FORWARD = the old schema reads data
of the new one, FULL = both; the _TRANSITIVE forms check every live version, not just the
latest. fastavro parses but has no resolution checker, hence this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fraudstream.registry.avroschema import PRIMITIVES, ParsedAvro

# writer type -> reader types it may be promoted to (Avro spec, schema resolution)
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


class Level(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data; `kind` follows Confluent's names."""

    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        where = self.path or "/"
        return f"{{errorType:'{self.kind}', path:'{where}', description:'{self.message}'}}"


class _Checker:
    def __init__(self, reader: ParsedAvro, writer: ParsedAvro) -> None:
        self.rnames = reader.names
        self.wnames = writer.names
        self.seen: set[tuple[str, str]] = set()

    @staticmethod
    def _deref(node: Any, names: dict[str, Any]) -> Any:
        if isinstance(node, str) and node not in PRIMITIVES:
            return names.get(node, node)
        return node

    @staticmethod
    def _type(node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return "union"
        t = node.get("type")
        if isinstance(t, str):
            return "record" if t == "error" else t
        return "union" if isinstance(t, list) else str(t)

    @staticmethod
    def _short(name: str) -> str:
        return name.rsplit(".", 1)[-1]

    def _names_match(self, r: dict[str, Any], w: dict[str, Any]) -> bool:
        rn, wn = self._short(r["name"]), self._short(w["name"])
        if rn == wn:
            return True
        aliases = {self._short(a) for a in r.get("aliases", []) or []}
        return wn in aliases

    @staticmethod
    def _decimal(node: Any) -> tuple[int, int] | None:
        if isinstance(node, dict) and node.get("logicalType") == "decimal":
            return int(node.get("precision", 0)), int(node.get("scale", 0))
        return None

    def check(self, reader: Any, writer: Any, path: str) -> list[Incompatibility]:
        r = self._deref(reader, self.rnames)
        w = self._deref(writer, self.wnames)
        if isinstance(r, dict) and isinstance(r.get("type"), (list, dict)):
            r = r["type"]
        if isinstance(w, dict) and isinstance(w.get("type"), (list, dict)):
            w = w["type"]
        rt, wt = self._type(r), self._type(w)

        if wt == "union":
            # Every branch the writer may have used must be readable.
            out: list[Incompatibility] = []
            for i, branch in enumerate(w):
                out.extend(self.check(reader, branch, f"{path}/{i}"))
            return out
        if rt == "union":
            for branch in r:
                saved = set(self.seen)
                if not self.check(branch, w, path):
                    return []
                self.seen = saved
            return [
                Incompatibility(
                    "MISSING_UNION_BRANCH",
                    path,
                    f"reader union lacks a branch that can read the writer's {wt}",
                )
            ]
        if rt != wt:
            if rt in PROMOTIONS.get(wt, ()):
                return []
            return [
                Incompatibility(
                    "TYPE_MISMATCH", path, f"reader type {rt} does not match writer type {wt}"
                )
            ]
        if rt in PRIMITIVES:
            return self._check_decimal(r, w, path)
        if rt == "array":
            return self.check(r["items"], w["items"], f"{path}/items")
        if rt == "map":
            return self.check(r["values"], w["values"], f"{path}/values")
        if rt == "fixed":
            return self._check_fixed(r, w, path)
        if rt == "enum":
            return self._check_enum(r, w, path)
        if rt == "record":
            return self._check_record(r, w, path)
        return [Incompatibility("TYPE_MISMATCH", path, f"unknown type {rt}")]

    def _check_decimal(self, r: Any, w: Any, path: str) -> list[Incompatibility]:
        # Spec: two decimal schemas match only if their precisions and scales match.
        rd, wd = self._decimal(r), self._decimal(w)
        if rd is not None and wd is not None and rd != wd:
            return [
                Incompatibility(
                    "DECIMAL_MISMATCH",
                    path,
                    f"reader decimal(precision, scale)={rd} differs from writer's {wd}",
                )
            ]
        return []

    def _check_fixed(
        self, r: dict[str, Any], w: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        if not self._names_match(r, w):
            return [Incompatibility("NAME_MISMATCH", path, f"fixed {r['name']} vs {w['name']}")]
        if int(r["size"]) != int(w["size"]):
            return [
                Incompatibility(
                    "FIXED_SIZE_MISMATCH", path, f"expected size {w['size']}, found {r['size']}"
                )
            ]
        return self._check_decimal(r, w, path)

    def _check_enum(self, r: dict[str, Any], w: dict[str, Any], path: str) -> list[Incompatibility]:
        if not self._names_match(r, w):
            return [Incompatibility("NAME_MISMATCH", path, f"enum {r['name']} vs {w['name']}")]
        missing = [s for s in w["symbols"] if s not in set(r["symbols"])]
        if missing and r.get("default") is None:
            return [
                Incompatibility(
                    "MISSING_ENUM_SYMBOLS",
                    f"{path}/symbols",
                    f"reader enum {r['name']} lacks writer symbols {missing} and has no default",
                )
            ]
        return []

    def _check_record(
        self, r: dict[str, Any], w: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        if not self._names_match(r, w):
            return [Incompatibility("NAME_MISMATCH", path, f"record {r['name']} vs {w['name']}")]
        key = (r["name"], w["name"])
        if key in self.seen:  # recursive type already under check
            return []
        self.seen.add(key)
        wfields = {f["name"]: f for f in w["fields"]}
        out: list[Incompatibility] = []
        for i, rf in enumerate(r["fields"]):
            fpath = f"{path}/fields/{i}"
            wf = wfields.get(rf["name"])
            if wf is None:
                for alias in rf.get("aliases", []) or []:
                    if alias in wfields:
                        wf = wfields[alias]
                        break
            if wf is None:
                if "default" not in rf:
                    out.append(
                        Incompatibility(
                            "READER_FIELD_MISSING_DEFAULT_VALUE",
                            fpath,
                            f"field '{rf['name']}' is missing in the writer schema and has no "
                            "default value in the reader schema",
                        )
                    )
                continue
            out.extend(self.check(rf["type"], wf["type"], f"{fpath}/type"))
        return out


def reader_incompatibilities(reader: ParsedAvro, writer: ParsedAvro) -> list[Incompatibility]:
    """Every reason data written with `writer` cannot be read with `reader` ([] = it can)."""
    return _Checker(reader, writer).check(reader.parsed, writer.parsed, "")


def can_read(reader: ParsedAvro, writer: ParsedAvro) -> bool:
    return not reader_incompatibilities(reader, writer)


def check_level(level: Level | str, new: ParsedAvro, previous: list[ParsedAvro]) -> list[str]:
    """Messages explaining why `new` violates `level` against `previous` (oldest first)."""
    lvl = Level(str(level).upper())
    if lvl is Level.NONE or not previous:
        return []
    targets = previous if lvl.name.endswith("_TRANSITIVE") else previous[-1:]
    backward = lvl in (Level.BACKWARD, Level.BACKWARD_TRANSITIVE, Level.FULL, Level.FULL_TRANSITIVE)
    forward = lvl in (Level.FORWARD, Level.FORWARD_TRANSITIVE, Level.FULL, Level.FULL_TRANSITIVE)
    messages: list[str] = []
    for old in reversed(targets):
        if backward:
            for inc in reader_incompatibilities(new, old):
                messages.append(f"new schema cannot read data written with an older one: {inc}")
        if forward:
            for inc in reader_incompatibilities(old, new):
                messages.append(f"older schema cannot read data written with the new one: {inc}")
    return messages
