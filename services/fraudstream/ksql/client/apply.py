"""`fraudstream ksql apply`: run the numbered statement files in order, idempotently.

A CREATE whose object already exists is skipped (or, with `replace`, sent as CREATE OR
REPLACE); everything else runs as written. Variables (`${name}`) travel to the server as
session variables, so the same files work on real ksqlDB and on the embedded engine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fraudstream.config import Settings
from fraudstream.errors import KsqlError
from fraudstream.ksql.client.client import KsqlClient, KsqlConnectionError, KsqlServerError
from fraudstream.ksql.sql.statements import Statement, split_statements

# Partition counts used when a topic does not exist yet (an existing topic's count wins,
# because ksqlDB rejects a PARTITIONS value that differs from the existing topic's).
DEFAULT_SOURCE_PARTITIONS = 4
DEFAULT_USERS_PARTITIONS = 1
# `INSERT INTO ... WITH (QUERY_ID='X')`: a running query X means the INSERT was applied.
_QUERY_ID = re.compile(r"\bQUERY_ID\s*=\s*'([^']+)'", re.IGNORECASE)


@dataclass(frozen=True)
class PlannedStatement:
    """One statement of the plan: what apply will do with it and why."""

    file: str
    action: str  # create | skip | replace | run
    target: str | None
    sql: str
    statement: Statement


def statement_files(path: Path) -> list[Path]:
    """`*.sql` files of a directory in name order, or the one file given."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".sql" and p.is_file())
        if not files:
            raise KsqlError(f"no .sql files in {path}")
        return files
    if not path.is_file():
        raise KsqlError(f"{path}: no such file or directory")
    return [path]


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """`K=V` strings -> dict (a clear error for anything else)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise KsqlError(f"--var expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def wait_for_server(client: KsqlClient, timeout: float) -> None:
    """Poll `/info` until the server answers (a starting ksqlDB refuses or answers 503)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.info()
            return
        except (KsqlConnectionError, KsqlServerError) as exc:
            if time.monotonic() >= deadline:
                raise KsqlError(
                    f"KSQL server at {client.url} not ready after {timeout:.0f}s: {exc}"
                ) from exc
            time.sleep(1.0)


def topic_partitions(client: KsqlClient) -> dict[str, int]:
    """Topic name -> partition count, as the server sees them (`LIST TOPICS`)."""
    entities = client.ksql("LIST TOPICS;")
    out: dict[str, int] = {}
    for entity in entities:
        for t in entity.get("topics", []) or []:
            out[str(t["name"])] = len(t.get("replicaInfo") or [1])
    return out


def default_variables(settings: Settings, partitions: Mapping[str, int]) -> dict[str, str]:
    """The statements' variables from the project settings and the existing topics."""
    source_parts = partitions.get(settings.topic_source, DEFAULT_SOURCE_PARTITIONS)
    users_parts = partitions.get(settings.topic_users, DEFAULT_USERS_PARTITIONS)
    return {
        "source_topic": settings.topic_source,
        "source_partitions": str(source_parts),
        "users_topic": settings.topic_users,
        "users_partitions": str(users_parts),
        "training_topic": settings.topic_preprocessed,
        "live_topic": settings.topic_live,
        "live_partitions": str(partitions.get(settings.topic_live, source_parts)),
        "enriched_topic": "creditcardfraud_enriched",
        "per_user_topic": settings.topic_per_user,
        "per_user_min_v1": "5",
        "labels_topic": settings.topic_labels,
        "labelled_topic": "creditcardfraud_labelled",
    }


def existing_objects(client: KsqlClient) -> set[str]:
    """Names (upper-cased as ksqlDB stores unquoted names) of streams and tables, and
    `QUERY <id>` for each running persistent query."""
    names: set[str] = set()
    for entity in client.ksql("LIST STREAMS; LIST TABLES; LIST QUERIES;"):
        for item in (entity.get("streams") or []) + (entity.get("tables") or []):
            names.add(str(item["name"]))
        for query in entity.get("queries") or []:
            names.add(f"QUERY {str(query['id']).upper()}")
    return names


def plan(files: list[Path], existing: set[str], *, replace: bool) -> list[PlannedStatement]:
    """What apply would do, statement by statement (also the dry-run output)."""
    out: list[PlannedStatement] = []
    seen = set(existing)
    for f in files:
        for stmt in split_statements(f.read_text()):
            target = stmt.target()
            if stmt.kind in ("CREATE", "CSAS") and target is not None:
                name = target[1]
                label = f"{target[0]} {name}"
                if name in seen:
                    if replace:
                        out.append(
                            PlannedStatement(f.name, "replace", label, stmt.with_or_replace(), stmt)
                        )
                    else:
                        out.append(PlannedStatement(f.name, "skip", label, stmt.text, stmt))
                    continue
                seen.add(name)
                out.append(PlannedStatement(f.name, "create", label, stmt.text, stmt))
            elif stmt.kind == "INSERT" and (qid := _QUERY_ID.search(stmt.text)) is not None:
                label = f"QUERY {qid.group(1).upper()}"
                action = "skip" if label in seen else "run"
                seen.add(label)
                out.append(PlannedStatement(f.name, action, label, stmt.text, stmt))
            else:
                out.append(PlannedStatement(f.name, "run", stmt.kind, stmt.text, stmt))
    return out


def apply(
    client: KsqlClient,
    steps: list[PlannedStatement],
    variables: Mapping[str, str],
    *,
    progress: Callable[[PlannedStatement, str], None] | None = None,
) -> dict[str, int]:
    """Send the planned statements in order; stop at the first error (raised).

    Each request carries the command sequence number of the previous statement, so a server
    (ksqlDB's distributed command log) executes it only after that one: a join is never
    checked before the stream it reads exists.
    """
    counts = {"create": 0, "replace": 0, "skip": 0, "run": 0}
    seq: int | None = None
    for step in steps:
        if step.action != "skip":
            entities = client.ksql(step.sql, variables=variables, command_sequence_number=seq)
            for entity in entities:
                got = entity.get("commandSequenceNumber") if isinstance(entity, dict) else None
                if isinstance(got, int) and got >= 0:
                    seq = got
        counts[step.action] += 1
        if progress is not None:
            progress(step, "done" if step.action != "skip" else "exists")
    return counts
