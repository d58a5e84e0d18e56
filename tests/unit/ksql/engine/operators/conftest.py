"""Operator test kit: records whose value is a JSON list of the source's columns, and a
sink that records what an operator emitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from fraudstream.ksql.engine.topology import InRecord


@dataclass
class Emitted:
    row: list[Any]
    ts: int | None
    tombstone: bool
    extra: dict[str, Any]


@dataclass
class Kit:
    """`read` decodes `rec(...)`'s records into a source row
    `[key, values..., ROWTIME, ROWPARTITION, ROWOFFSET, (WINDOWSTART, WINDOWEND)]`."""

    windowed: bool = False
    emitted: list[Emitted] = field(default_factory=list)
    logged: list[tuple[str, str]] = field(default_factory=list)

    def rec(
        self,
        topic: str,
        key: Any,
        values: list[Any] | None,
        ts: int,
        window: tuple[int, int] | None = None,
    ) -> InRecord:
        payload = {"key": key, "values": values, "window": window}
        return InRecord(topic, orjson.dumps(key), orjson.dumps(payload), ts)

    def read(self, rec: InRecord) -> tuple[list[Any], bool]:
        assert rec.value is not None
        payload = orjson.loads(rec.value)
        values = payload["values"]
        tomb = values is None
        row = [payload["key"], *(values if values is not None else [None])]
        row += [rec.timestamp, rec.partition, rec.offset]
        if self.windowed:
            row += list(payload["window"])
        return row, tomb

    def emit(
        self,
        row: list[Any],
        rec: InRecord | None,
        ts: int | None = None,
        tombstone: bool = False,
        **kw: Any,
    ) -> list[Any]:
        e = Emitted(list(row), ts, tombstone, kw)
        self.emitted.append(e)
        return [e]

    def log(self, kind: str, msg: str, rec: InRecord | None) -> None:
        self.logged.append((kind, msg))


@pytest.fixture
def kit() -> Kit:
    return Kit()


@pytest.fixture
def wkit() -> Kit:
    return Kit(windowed=True)
