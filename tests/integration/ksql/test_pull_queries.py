"""Pull queries on the embedded server and the real broker: a CTAS aggregate read by key
lookup and by table scan over `/query` and `/query-stream`, a pull query over a stream (a scan
of its topic), ksqlDB's error for a non-queryable table, `fraudstream ksql query` and the
shell printing the rows (issue 20 item 2)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
from typer.testing import CliRunner

from fraudstream.ksql.cli import app
from fraudstream.ksql.client.api import KSQLAPI
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

V1 = "application/vnd.ksql.v1+json"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def totals(
    payments_server: Callable[[list[float]], tuple[KsqlServer, str]],
) -> KsqlServer:
    """PAYMENTS (user0 10.0, user1 20.0, user2 5.0, user1 2.5) and TOTALS, its sums per WHO,
    materialized (the pull queries wait until the aggregate has read all four records)."""
    server, _topic = payments_server([10.0, 20.0, 5.0])
    with KsqlClient(server.url) as c:
        c.ksql(
            "CREATE TABLE TOTALS AS SELECT WHO, SUM(AMOUNT) AS TOTAL, COUNT(*) AS N "
            "FROM PAYMENTS GROUP BY WHO;",
            properties={"auto.offset.reset": "earliest"},
        )
    return server


def _pull(h: httpx.Client, sql: str) -> list[Any]:
    resp = h.post("/query", json={"ksql": sql, "streamsProperties": {}})
    assert resp.status_code == 200, resp.text
    body: list[Any] = resp.json()
    return body


def _until_rows(h: httpx.Client, sql: str, n: int, timeout: float = 90.0) -> list[Any]:
    """The pull query's answer once it holds n rows (the CTAS runs on its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        body = _pull(h, sql)
        rows = [e["row"]["columns"] for e in body[1:] if "row" in e]
        if len(rows) >= n or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_pull_queries_over_query_and_query_stream(totals: KsqlServer) -> None:
    with httpx.Client(base_url=totals.url, headers={"Accept": V1}, timeout=60) as h:
        scan = _until_rows(h, "SELECT * FROM TOTALS;", 3)
        assert scan[0]["header"]["schema"] == "`WHO` STRING KEY, `TOTAL` DOUBLE, `N` BIGINT"
        assert scan[0]["header"]["queryId"]
        assert sorted(e["row"]["columns"] for e in scan[1:]) == [
            ["user0", 10.0, 1],
            ["user1", 20.0, 1],
            ["user2", 5.0, 1],
        ]
        assert not any("finalMessage" in e for e in scan)  # a table's answer just ends

        lookup = _pull(h, "SELECT WHO, TOTAL FROM TOTALS WHERE WHO = 'user1';")
        assert [e["row"]["columns"] for e in lookup[1:]] == [["user1", 20.0]]
        missing = _pull(h, "SELECT * FROM TOTALS WHERE WHO = 'nobody';")
        assert len(missing) == 1 and "header" in missing[0]

        ranged = _pull(h, "SELECT WHO FROM TOTALS WHERE WHO > 'user0' AND TOTAL < 15 LIMIT 5;")
        assert [e["row"]["columns"] for e in ranged[1:]] == [["user2"]]

        # a stream: its topic read to the end offsets of now, then "Query Completed"
        stream = _pull(h, "SELECT ID, WHO FROM PAYMENTS WHERE ID < 2;")
        assert stream[0]["header"]["schema"] == "`ID` BIGINT, `WHO` STRING"
        assert sorted(e["row"]["columns"] for e in stream[1:-1]) == [[0, "user0"], [1, "user1"]]
        assert stream[-1] == {"finalMessage": "Query Completed"}

        # /query-stream: delimited header line, then one array per row
        resp = h.post(
            "/query-stream",
            json={"sql": "SELECT WHO, N FROM TOTALS WHERE WHO IN ('user0', 'user2');"},
            headers={"Accept": "application/vnd.ksqlapi.delimited.v1"},
        )
        assert resp.status_code == 200, resp.text
        lines = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
        assert lines[0]["columnNames"] == ["WHO", "N"]
        assert lines[0]["columnTypes"] == ["STRING", "BIGINT"]
        assert sorted(lines[1:]) == [["user0", 1], ["user2", 1]]

        # ksqlDB's errors: a plain CREATE TABLE is not queryable; GROUP BY is refused
        h.post(
            "/ksql",
            json={
                "ksql": "CREATE TABLE PLAIN (K STRING PRIMARY KEY, V INT) WITH "
                f"(KAFKA_TOPIC='plain-{totals.service.service_id}', VALUE_FORMAT='JSON', "
                "PARTITIONS=1);"
            },
        ).raise_for_status()
        bad = h.post("/query", json={"ksql": "SELECT * FROM PLAIN WHERE K = 'a';"})
        assert bad.status_code == 400
        assert "The `PLAIN` table isn't queryable" in bad.json()["message"]
        grouped = h.post("/query", json={"ksql": "SELECT WHO FROM PAYMENTS GROUP BY WHO;"})
        assert grouped.status_code == 400
        assert "Pull queries don't support GROUP BY clauses" in grouped.json()["message"]


def test_cli_ksqlapi_and_shell_print_pull_rows(totals: KsqlServer, tmp_path: Path) -> None:
    with httpx.Client(base_url=totals.url, headers={"Accept": V1}, timeout=60) as h:
        _until_rows(h, "SELECT * FROM TOTALS;", 3)
    sql = "SELECT WHO, TOTAL FROM TOTALS WHERE WHO = 'user1';"
    args = ["query", sql, "-o", "json", "--timeout", "60", "--url", totals.url]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows == [{"WHO": "user1", "TOTAL": 20.0}]

    client = KSQLAPI(totals.url)
    objects = list(client.stream("SELECT WHO, N FROM TOTALS WHERE WHO IN ('user0', 'user1');"))
    assert sorted(o["WHO"] for o in objects) == ["user0", "user1"]

    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "XDG_DATA_HOME": str(tmp_path)}
    env["TERM"] = "xterm"
    env.pop("FRAUDSTREAM_KSQL_HISTORY_FILE", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fraudstream", "ksql", "--url", totals.url],
        env=env,
        encoding="utf-8",
        dimensions=(40, 90),
        timeout=60,
    )
    try:
        child.expect_exact("ksql> ")
        child.sendline("SELECT WHO, N FROM TOTALS WHERE WHO = 'user2';")
        child.expect(r"\|WHO\s+\|N\s+\|")
        child.expect(r"\|user2\s+\|1\s+\|")
        child.expect_exact("ksql> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
