"""`ksql/` applied on the embedded server over the real broker and registry: masked and
augmented live events, labelled-only training events, the Premium join, idempotent apply,
bad records in the processing log, and a restarted server resuming from committed offsets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudstream.ksql.client import apply as applier
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.registry_client import RegistryClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

KSQL_DIR = Path(__file__).resolve().parents[3] / "ksql"

USERS = {"alice": "Premium Berlin", "bob": "Springfield", "carol": "Premium Oslo"}
MASKED = {"alice": "xxice", "bob": "xxb", "carol": "xxrol"}


def apply_dir(server: KsqlServer, variables: dict[str, str]) -> dict[str, int]:
    with KsqlClient(server.url) as client:
        steps = applier.plan(
            applier.statement_files(KSQL_DIR), applier.existing_objects(client), replace=False
        )
        return applier.apply(client, steps, variables)


def events(start: int, n: int, make: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    users = list(USERS)
    out = []
    for i in range(start, start + n):
        cls = None if i % 3 == 0 else i % 2
        out.append(make(i, users[i % 3], cls=cls, v1=6.0 if i % 4 == 0 else 0.5))
    return out


def test_statements_run_end_to_end_and_resume_after_restart(
    make_server: Callable[..., KsqlServer],
    ksql_vars: dict[str, str],
    produce_json: Callable[..., None],
    read_topic: Callable[..., list[Any]],
    event_factory: Callable[..., dict[str, Any]],
    schema_registry_url: str,
) -> None:
    server = make_server()
    assert apply_dir(server, ksql_vars)["create"] == 8

    produce_json(ksql_vars["users_topic"], [(u, {"userid": u, "name": u.title(), "city": c})
                                             for u, c in USERS.items()])  # fmt: skip
    # no pause: the runtime reads the table topic to its end before each stream batch
    first = events(0, 60, event_factory)
    produce_json(ksql_vars["source_topic"], [(e["User"], e) for e in first])

    decoder = AvroDecoder(RegistryClient(schema_registry_url))

    live = [decoder.decode(m.value()) for m in read_topic(ksql_vars["live_topic"], 60)]
    assert len(live) == 60
    by_id = {r["ID"]: r for r in live}
    assert set(by_id) == set(range(60))
    for e in first:
        r = by_id[e["Id"]]
        assert r["USERID"] == MASKED[e["User"]]
        assert r["CLASS"] == (-1 if e["Class"] is None else e["Class"])
        assert r["AMOUNT"] == pytest.approx(e["Amount"])
        assert r["V1"] == pytest.approx(e["V1"])
    assert not any(r["USERID"] in USERS for r in live)

    labelled = [e for e in first if e["Class"] is not None]
    training = [decoder.decode(m.value()) for m in read_topic(ksql_vars["training_topic"], 40)]
    assert sorted(r["ID"] for r in training) == sorted(e["Id"] for e in labelled)
    assert all(r["CLASS"] in (0, 1) for r in training)
    assert "USERID" not in training[0]

    want_join = sorted(
        e["Id"] for e in first if USERS[e["User"]].startswith("Premium") and e["V1"] > 5
    )
    joined_msgs = read_topic(ksql_vars["per_user_topic"], len(want_join), settle=1.0)
    joined = [decoder.decode(m.value()) for m in joined_msgs]
    assert sorted(r["ID"] for r in joined) == want_join
    assert {r["CITY"] for r in joined} <= {"Premium Berlin", "Premium Oslo"}
    # keyed by the masked user; no raw user id or name in any key or value of the topic
    by_key = {m.key(): r["MASKED_USER"] for m, r in zip(joined_msgs, joined, strict=True)}
    assert by_key == {b"xxice": "xxice", b"xxrol": "xxrol"}
    for m in joined_msgs:
        for raw in (*USERS, *(u.title() for u in USERS)):
            assert raw.encode() not in (m.key() or b"") + (m.value() or b"")

    # idempotent: a second apply skips every object
    assert apply_dir(server, ksql_vars) == {"create": 0, "replace": 0, "skip": 9, "run": 0}

    # a record that is not JSON: counted in the processing log, the query keeps running
    produce_json(ksql_vars["source_topic"], [("alice", b"{not json")])
    produce_json(ksql_vars["source_topic"], [("alice", event_factory(60, "alice", cls=1))])
    logged = read_topic(server.service.processing_log_topic, 1, settle=1.0)
    assert logged, "the bad record did not reach the processing log"
    entry = orjson.loads(logged[0].value())
    assert entry["LEVEL"] == "ERROR"
    assert entry["MESSAGE"]["ERRORMESSAGE"]
    assert len(read_topic(ksql_vars["live_topic"], 61)) == 61
    with KsqlClient(server.url) as client:
        rows = list(
            client.query_rows(
                "SELECT LEVEL, MESSAGE->ERRORMESSAGE AS ERR, MESSAGE->`TOPIC` AS T "
                "FROM KSQL_PROCESSING_LOG EMIT CHANGES LIMIT 1;",
                properties={"auto.offset.reset": "earliest"},
                timeout=30,
            )
        )
    assert rows[0]["LEVEL"] == "ERROR" and rows[0]["ERR"]
    assert rows[0]["T"] == ksql_vars["source_topic"]

    # restart: the new server replays the command topic and resumes from committed offsets
    server.stop()
    second = events(61, 10, event_factory)
    produce_json(ksql_vars["source_topic"], [(e["User"], e) for e in second])
    restarted = make_server()
    with KsqlClient(restarted.url) as client:
        queries = client.ksql("LIST QUERIES;")[0]["queries"]
    assert len(queries) == 6  # 03, 04, 05 (two), 06 (the labels join and its INSERT)
    live_all = [
        decoder.decode(m.value()) for m in read_topic(ksql_vars["live_topic"], 71, settle=2.0)
    ]
    ids = [r["ID"] for r in live_all]
    assert sorted(ids) == list(range(71)), "lost or duplicated events across the restart"
