"""The embedded server's REST API, the `fraudstream ksql` CLI and the KSQLAPI facade, all
against one in-process server on the real broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fraudstream.ksql.cli import app
from fraudstream.ksql.client.api import KSQLAPI, KSQLError
from fraudstream.ksql.client.client import KsqlClient, KsqlServerError, QueryHeader
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

V1 = "application/vnd.ksql.v1+json"
KSQL_DIR = Path(__file__).resolve().parents[3] / "ksql"


@pytest.fixture
def server_with_stream(
    payments_server: Callable[[list[float]], tuple[KsqlServer, str]],
) -> tuple[KsqlServer, str]:
    """A server with stream PAYMENTS over a fresh topic holding 5 JSON records."""
    return payments_server([i * 1.5 for i in range(5)])


def test_info_healthcheck_and_error_bodies(server_with_stream: tuple[KsqlServer, str]) -> None:
    server, _ = server_with_stream
    with httpx.Client(base_url=server.url, headers={"Accept": V1}, timeout=30) as h:
        info = h.get("/info").json()["KsqlServerInfo"]
        assert info["ksqlServiceId"] == server.service.service_id
        assert info["serverStatus"] == "RUNNING"
        assert h.get("/healthcheck").json()["isHealthy"] is True

        bad = h.post("/ksql", json={"ksql": "CREATE STREAM (;"})
        assert bad.status_code == 400
        body = bad.json()
        assert body["@type"] == "statement_error"
        assert body["error_code"] == 40001
        assert "line 1:" in body["message"]

        unknown = h.post("/ksql", json={"ksql": "DESCRIBE NOPE;"}).json()
        assert unknown["error_code"] == 40001 and "NOPE" in unknown["message"]

        unsupported = h.post("/ksql", json={"ksql": "PRINT 'some_topic';"})
        assert unsupported.status_code == 400
        assert "PRINT" in unsupported.json()["message"]

        select = h.post("/ksql", json={"ksql": "SELECT * FROM PAYMENTS EMIT CHANGES;"}).json()
        assert select["error_code"] == 40002

        missing = h.post("/ksql", json={"streamsProperties": {}})
        assert missing.status_code == 400 and missing.json()["@type"] == "generic_error"

        not_found = h.get("/nope")
        assert not_found.status_code == 404 and not_found.json()["error_code"] == 40400

        no_topic = h.post(
            "/ksql",
            json={
                "ksql": "CREATE STREAM X (A INT) "
                "WITH (KAFKA_TOPIC='absent-t', VALUE_FORMAT='JSON');"
            },
        ).json()
        assert "does not exist" in no_topic["message"] and "PARTITIONS" in no_topic["message"]


def test_multi_statement_request_reports_earlier_entities(
    server_with_stream: tuple[KsqlServer, str],
) -> None:
    server, _ = server_with_stream
    with httpx.Client(base_url=server.url, headers={"Accept": V1}, timeout=30) as h:
        resp = h.post("/ksql", json={"ksql": "LIST STREAMS; DESCRIBE MISSING_ONE;"})
    assert resp.status_code == 400
    body = resp.json()
    assert [e["@type"] for e in body["entities"]] == ["streams"]


def test_push_queries_over_query_and_query_stream(
    server_with_stream: tuple[KsqlServer, str],
) -> None:
    server, _ = server_with_stream
    earliest = {"auto.offset.reset": "earliest"}
    with KsqlClient(server.url) as c:
        rows = list(
            c.query_rows(
                "SELECT ID, MASK_LEFT(WHO, 2) AS M FROM PAYMENTS "
                "WHERE AMOUNT > 1 EMIT CHANGES LIMIT 3;",
                properties=earliest,
                timeout=60,
            )
        )
    assert sorted(r["ID"] for r in rows) == [1, 2, 3]
    assert all(r["M"].startswith("xx") for r in rows)

    with (
        httpx.Client(base_url=server.url, timeout=60) as h,
        h.stream(
            "POST",
            "/query-stream",
            json={"sql": "SELECT ID FROM PAYMENTS EMIT CHANGES LIMIT 2;", "properties": earliest},
            headers={"Accept": "application/vnd.ksqlapi.delimited.v1"},
        ) as resp,
    ):
        lines = [json.loads(line) for line in resp.iter_lines() if line.strip()]
    assert lines[0]["columnNames"] == ["ID"]
    assert len(lines) == 3 and all(isinstance(x, list) for x in lines[1:])


def test_ksqlapi_facade_ports_ksql_python_code(
    server_with_stream: tuple[KsqlServer, str], unique_id: str
) -> None:
    server, _ = server_with_stream
    client = KSQLAPI(server.url)
    assert client.get_ksql_version()
    assert client.create_stream_as(
        table_name="BIG_PAYMENTS",
        select_columns=["ID", "MASK_LEFT(WHO, 2) AS WHO", "AMOUNT"],
        src_table="PAYMENTS",
        kafka_topic=f"big-{unique_id}",
        value_format="JSON",
        conditions="AMOUNT >= 3",
    )
    streams = {s["name"] for s in client.ksql("LIST STREAMS;")[0]["streams"]}
    assert "BIG_PAYMENTS" in streams
    rows = list(
        client.query(
            "SELECT ID, WHO FROM BIG_PAYMENTS EMIT CHANGES LIMIT 3;",
            stream_properties={"auto.offset.reset": "earliest"},
            idle_timeout=60,
            return_objects=True,
        )
    )
    assert sorted(r["ID"] for r in rows) == [2, 3, 4]
    raw = list(
        client.query(
            "SELECT ID FROM PAYMENTS EMIT CHANGES LIMIT 1;",
            stream_properties={"auto.offset.reset": "earliest"},
            idle_timeout=60,
        )
    )
    assert "header" in json.loads(raw[0]) and "row" in json.loads(raw[1])
    assert client.create_stream(
        "MORE", ["ID BIGINT", "X VARCHAR"], f"more-{unique_id}", partitions=1
    )
    with pytest.raises(KSQLError) as info:
        client.ksql("DROP STREAM NOT_THERE;")
    assert info.value.error_code == 40001


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result


def test_cli_commands_against_the_server(
    server_with_stream: tuple[KsqlServer, str], unique_id: str
) -> None:
    server, _ = server_with_stream
    url = ["--url", server.url]
    listed = _cli("list", "streams", "-o", "json", *url)
    assert listed.exit_code == 0
    assert "PAYMENTS" in {s["name"] for s in json.loads(listed.stdout)[0]["streams"]}

    made = _cli(
        "run",
        "CREATE STREAM P2 WITH (KAFKA_TOPIC='${t}', VALUE_FORMAT='JSON') AS "
        "SELECT ID, AMOUNT FROM PAYMENTS EMIT CHANGES;",
        "--var",
        f"t=p2-{unique_id}",
        *url,
    )
    assert made.exit_code == 0, made.stdout
    assert "Created query with ID" in made.stdout

    queries = json.loads(_cli("list", "queries", "-o", "json", *url).stdout)[0]["queries"]
    (qid,) = [q["id"] for q in queries if "P2" in q["sinks"]]

    desc = _cli("describe", "P2", *url)
    assert desc.exit_code == 0 and "AMOUNT" in desc.stdout and qid in desc.stdout

    rows = _cli(
        "query",
        "SELECT ID, AMOUNT FROM P2 EMIT CHANGES LIMIT 2;",
        "-o",
        "json",
        "--from-beginning",
        "--timeout",
        "60",
        *url,
    )
    assert rows.exit_code == 0
    parsed = [json.loads(line) for line in rows.stdout.splitlines() if line.startswith("{")]
    assert len(parsed) == 2 and set(parsed[0]) == {"ID", "AMOUNT"}

    assert _cli("terminate", qid, *url).exit_code == 0
    dropped = _cli("drop", "P2", "--delete-topic", *url)
    assert dropped.exit_code == 0
    topics = json.loads(_cli("list", "topics", "-o", "json", *url).stdout)[0]["topics"]
    assert f"p2-{unique_id}" not in {t["name"] for t in topics}


def test_cli_apply_dry_run_changes_nothing(server_with_stream: tuple[KsqlServer, str]) -> None:
    server, _ = server_with_stream
    before = json.loads(_cli("list", "streams", "-o", "json", "--url", server.url).stdout)
    planned = _cli("apply", str(KSQL_DIR), "--dry-run", "--url", server.url)
    assert planned.exit_code == 0
    assert "CREDITCARDFRAUD_LIVE_AVRO" in planned.stdout and "create" in planned.stdout
    after = json.loads(_cli("list", "streams", "-o", "json", "--url", server.url).stdout)
    assert before[0]["streams"] == after[0]["streams"]


def test_server_error_reaches_client_typed(server_with_stream: tuple[KsqlServer, str]) -> None:
    server, _ = server_with_stream
    with KsqlClient(server.url) as c, pytest.raises(KsqlServerError) as info:
        c.ksql("TERMINATE NO_SUCH_QUERY;")
    assert info.value.status_code == 400


def test_closing_a_push_query_connection_ends_the_query(
    server_with_stream: tuple[KsqlServer, str],
) -> None:
    server, _ = server_with_stream

    def push_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("push-"))

    before = push_threads()
    with KsqlClient(server.url) as c:
        events = c.query(
            "SELECT ID FROM PAYMENTS EMIT CHANGES;",  # no LIMIT: runs until the client leaves
            properties={"auto.offset.reset": "earliest"},
            timeout=60,
        )
        assert isinstance(next(events), QueryHeader)
        assert next(events) == [0]
        assert push_threads() == before + 1
        events.close()  # closes the HTTP response
    deadline = time.monotonic() + 20
    while push_threads() > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert push_threads() == before


def test_cli_apply_replace_sends_create_or_replace(
    server_with_stream: tuple[KsqlServer, str], unique_id: str
) -> None:
    server, _ = server_with_stream
    src = str(KSQL_DIR / "01_source.sql")
    args = ["--var", f"source_topic=src-{unique_id}", "--var", "source_partitions=1"]
    first = _cli("apply", src, *args, "--url", server.url)
    assert first.exit_code == 0 and "create: 1" in first.stdout
    again = _cli("apply", src, *args, "--url", server.url)
    assert "skip: 1" in again.stdout
    replaced = _cli("apply", src, "--replace", *args, "--url", server.url)
    assert replaced.exit_code == 0, replaced.stdout
    assert "replace: 1" in replaced.stdout
