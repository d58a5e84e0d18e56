"""How the ksqlDB client shows things on a terminal: entities, streamed rows, errors.

`print_entities` renders `/ksql` answers (streams, tables, queries, topics, descriptions,
properties, statuses) as tables; `RowTable` prints a push query's rows one by one as they
arrive, in ksqlDB CLI's boxed layout, with columns that fit the terminal (long values wrap
inside their cell); `error_text` words a failure as the ksqlDB CLI does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudstream.ksql.client.client import KsqlConnectionError, KsqlServerError

__all__ = ["RowTable", "cell", "error_text", "print_entities"]


def cell(value: Any) -> str:
    """One value as the ksqlDB CLI shows it (JSON for structures, `null` for None)."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RowTable:
    """A push query's rows printed as they arrive:

    +------+----------+
    |ID    |WHO       |
    +------+----------+
    |1     |user1     |
    """

    def __init__(self, columns: Sequence[str], width: int, out: IO[str]) -> None:
        self.columns = list(columns)
        self.out = out
        n = max(len(self.columns), 1)
        usable = max(width - (n + 1), n)
        self.width = max(usable // n, 1)
        self.rule = "+" + "+".join("-" * self.width for _ in range(n)) + "+"

    def _chunks(self, value: str) -> list[str]:
        """The value cut at the column width (every character kept, lines kept apart)."""
        w = self.width
        return [line[i : i + w] for line in value.split("\n") for i in range(0, len(line) or 1, w)]

    def _line(self, values: Sequence[str]) -> str:
        cells = [self._chunks(v) for v in values]
        height = max(len(c) for c in cells)
        lines = []
        for i in range(height):
            parts = [(c[i] if i < len(c) else "").ljust(self.width) for c in cells]
            lines.append("|" + "|".join(parts) + "|")
        return "\n".join(lines)

    def header(self) -> None:
        self._write(f"{self.rule}\n{self._line(self.columns)}\n{self.rule}\n")

    def row(self, values: Sequence[Any]) -> None:
        padded = list(values) + [None] * (len(self.columns) - len(values))
        self._write(self._line([cell(v) for v in padded]) + "\n")

    def footer(self) -> None:
        self._write(self.rule + "\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def error_text(exc: Exception) -> str:
    """The ksqlDB CLI's wording: the server's message; a connection failure with its cause."""
    if isinstance(exc, KsqlConnectionError):
        return f"Error issuing request to KSQL server.\nCaused by: {exc}"
    if isinstance(exc, KsqlServerError):
        return exc.message
    return str(exc)


def _source_table(kind: str, items: list[dict[str, Any]]) -> Table:
    title = "Stream Name" if kind == "streams" else "Table Name"
    t = Table(title, "Kafka Topic", "Key Format", "Value Format", "Windowed")
    for s in items:
        t.add_row(s["name"], s["topic"], s["keyFormat"], s["valueFormat"], cell(s["isWindowed"]))
    return t


def _description(out: Console, d: dict[str, Any]) -> None:
    out.print(f"Name                 : {d['name']}")
    t = Table("Field", "Type")
    for f in d.get("fields", []):
        kind = f"  ({f['type']})" if f.get("type") in ("KEY", "PRIMARY_KEY") else ""
        t.add_row(f["name"], str(f["schema"]["type"]) + kind)
    out.print(t)
    for label, qs in (("Queries that read from this", d["readQueries"]),
                      ("Queries that write from this", d["writeQueries"])):  # fmt: skip
        for q in qs:
            out.print(f"{label} {d['type']}: {q['id']} ({q.get('state', '')})")
    if d.get("statistics"):
        out.print(f"Local runtime statistics: {d['statistics']}")


def print_entities(out: Console, entities: list[dict[str, Any]]) -> None:
    """A readable table or line per `/ksql` entity."""
    for e in entities:
        kind = e.get("@type", "")
        if kind in ("streams", "tables"):
            out.print(_source_table(kind, e.get(kind, [])))
        elif kind == "queries":
            t = Table("Query ID", "Status", "Sink Name", "Sink Kafka Topic", "Query String")
            for q in e.get("queries", []):
                t.add_row(
                    q["id"],
                    str(q.get("state", "")),
                    ", ".join(q.get("sinks", [])),
                    ", ".join(q.get("sinkKafkaTopics", [])),
                    escape(" ".join(str(q.get("queryString", "")).split())),
                )
            out.print(t)
        elif kind == "kafka_topics":
            t = Table("Kafka Topic", "Partitions", "Partition Replicas")
            for tp in e.get("topics", []):
                replicas = tp.get("replicaInfo", [])
                t.add_row(tp["name"], str(len(replicas)), " ".join(str(r) for r in replicas))
            out.print(t)
        elif kind == "sourceDescription":
            _description(out, e["sourceDescription"])
        elif kind == "properties":
            t = Table("Property", "Scope", "Level", "Value")
            for p in e.get("properties", []):
                t.add_row(p["name"], p.get("scope", ""), p.get("level", ""), cell(p.get("value")))
            out.print(t)
        elif "commandStatus" in e:
            status = e["commandStatus"]
            out.print(escape(str(status.get("message", status.get("status", "")))))
        else:
            out.print_json(json.dumps(e, default=str))
