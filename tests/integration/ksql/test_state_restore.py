"""Aggregate state survives a server restart: each state change goes to the query's compacted
changelog topic, and a restarted server restores it before resuming from committed offsets,
so counts and sums continue instead of starting again from zero."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

USERS = ("ann", "ben", "cat")
T0 = 1_700_000_000_000  # inside one 1-hour window: T0 + up to 60 s


def tx(i: int) -> tuple[str, dict[str, Any]]:
    return USERS[i % 3], {"amount": float(i), "ts": T0 + i * 1000}


def latest_by_key(msgs: list[Any]) -> dict[bytes, dict[str, Any]]:
    out: dict[bytes, dict[str, Any]] = {}
    for m in msgs:
        if m.value() is not None:
            out[m.key()] = orjson.loads(m.value())
    return out


def wait_counts(
    read_topic: Callable[..., list[Any]], topic: str, want: int, timeout: float = 60.0
) -> dict[bytes, dict[str, Any]]:
    """Latest value per output key once every user's count reached `want` (or timeout)."""
    deadline = time.monotonic() + timeout
    latest: dict[bytes, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        latest = latest_by_key(read_topic(topic, 10**6, timeout=2.0))
        if len(latest) == len(USERS) and all(v["N"] >= want for v in latest.values()):
            break
    return latest


def test_aggregates_continue_after_restart(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[[str, list[tuple[str | None, Any]]], None],
    read_topic: Callable[..., list[Any]],
    kafka_bootstrap: str,
    unique_id: str,
) -> None:
    src, windowed, totals = f"tx-{unique_id}", f"vel-{unique_id}", f"tot-{unique_id}"
    server = make_server()
    with KsqlClient(server.url) as client:
        client.ksql(
            f"CREATE STREAM tx (u VARCHAR KEY, amount DOUBLE, ts BIGINT) WITH (kafka_topic='{src}',"
            " value_format='JSON', partitions=2, timestamp='ts');"
            f"CREATE TABLE velocity WITH (kafka_topic='{windowed}') AS SELECT u, COUNT(*) AS n,"
            " SUM(amount) AS total, AVG(amount) AS mean FROM tx"
            " WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY u EMIT CHANGES;"
            f"CREATE TABLE totals WITH (kafka_topic='{totals}') AS SELECT u, COUNT(*) AS n"
            " FROM tx GROUP BY u EMIT CHANGES;"
        )
    produce_json(src, [tx(i) for i in range(30)])
    before = wait_counts(read_topic, windowed, 10)
    assert sorted(v["N"] for v in before.values()) == [10, 10, 10]
    assert wait_counts(read_topic, totals, 10)

    changelogs = [r.changelog_topic for r in server.service.runners.values()]
    assert all(changelogs) and len(set(changelogs)) == 2
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    (cfg,) = admin.describe_configs([ConfigResource("topic", str(changelogs[0]))]).values()
    assert cfg.result(10)["cleanup.policy"].value == "compact"

    # restart mid-stream: new events arrive while the server is down
    server.stop()
    produce_json(src, [tx(i) for i in range(30, 45)])
    restarted = make_server()
    assert all(r.wait_ready(60) for r in restarted.service.runners.values())
    assert all(r.stats.restored > 0 for r in restarted.service.runners.values())

    after = wait_counts(read_topic, windowed, 15)
    by_user = {k[: len(USERS[0])].decode(): v for k, v in after.items()}
    for j, user in enumerate(USERS):
        amounts = [float(i) for i in range(45) if i % 3 == j]
        assert by_user[user]["N"] == 15, by_user
        assert by_user[user]["TOTAL"] == pytest.approx(sum(amounts))
        assert by_user[user]["MEAN"] == pytest.approx(sum(amounts) / 15)
    assert sorted(v["N"] for v in wait_counts(read_topic, totals, 15).values()) == [15, 15, 15]

    # TERMINATE drops the query's state with it
    (qid, runner) = next(
        (q, r) for q, r in restarted.service.runners.items() if r.query.sink_topic == totals
    )
    with KsqlClient(restarted.url) as client:
        client.ksql(f"TERMINATE {qid};")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and runner.changelog_topic in admin.list_topics().topics:
        time.sleep(0.2)
    assert runner.changelog_topic not in admin.list_topics().topics


def _pull(url: str, sql: str) -> httpx.Response:
    return httpx.post(f"{url}/query", json={"ksql": sql, "streamsProperties": {}}, timeout=30)


def test_pull_queries_trust_restored_rows_and_refuse_rows_never_kept(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[[str, list[tuple[str | None, Any]]], None],
    read_topic: Callable[..., list[Any]],
    kafka_bootstrap: str,
    unique_id: str,
) -> None:
    """A restart restores the table's rows with their "kept" mark: pull queries answer. A query
    that ran before but whose changelog holds no such mark (an engine version that kept no
    rows, or a lost changelog) would answer from the keys updated since: refused instead."""
    src, totals = f"ptx-{unique_id}", f"ptot-{unique_id}"
    server = make_server()
    with KsqlClient(server.url) as client:
        client.ksql(
            "CREATE STREAM ptx (u VARCHAR KEY, amount DOUBLE, ts BIGINT) WITH"
            f" (kafka_topic='{src}',"
            " value_format='JSON', partitions=2, timestamp='ts');"
            f"CREATE TABLE ptotals WITH (kafka_topic='{totals}') AS SELECT u, COUNT(*) AS n"
            " FROM ptx GROUP BY u EMIT CHANGES;"
        )
    produce_json(src, [tx(i) for i in range(30)])
    assert wait_counts(read_topic, totals, 10)
    (runner,) = server.service.runners.values()
    changelog = runner.changelog_topic
    assert changelog is not None
    time.sleep(runner.commit_interval + 1)  # offsets committed with the changelog acked
    server.stop()

    restarted = make_server()
    assert all(r.wait_ready(60) for r in restarted.service.runners.values())
    ok = _pull(restarted.url, "SELECT * FROM ptotals WHERE u = 'ben';")
    assert ok.status_code == 200, ok.text
    rows = [e["row"]["columns"] for e in ok.json()[1:] if "row" in e]
    assert rows == [["ben", 10]]
    restarted.stop()

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.delete_topics([changelog])[changelog].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and changelog in admin.list_topics().topics:
        time.sleep(0.2)
    produce_json(src, [tx(30)])  # one key updated after the loss: the store would hold only it
    third = make_server()
    assert all(r.wait_ready(60) for r in third.service.runners.values())
    refused = _pull(third.url, "SELECT * FROM ptotals;")
    assert refused.status_code == 400, refused.text
    assert "Pull queries on PTOTALS are refused" in refused.json()["message"]
    assert "recreate the table" in refused.json()["message"]
