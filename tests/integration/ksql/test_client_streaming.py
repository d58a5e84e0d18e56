"""The ksqlDB client's streaming calls against the embedded server: quiet push queries stay
open, `/query-stream` + `/close-query`, `/inserts-stream`, and `ksql query` printing table
rows as they arrive (issue 20 item 5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fraudstream.ksql.client.api import KSQLAPI
from fraudstream.ksql.client.client import KsqlClient, KsqlServerError, QueryHeader
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[3]
EARLIEST = {"auto.offset.reset": "earliest"}


@pytest.fixture
def payments(
    payments_server: Callable[[list[float]], tuple[KsqlServer, str]],
) -> tuple[KsqlServer, str]:
    """A server with stream PAYMENTS over a fresh topic holding 2 JSON records."""
    return payments_server([1.5] * 2)


def test_a_quiet_push_query_stays_open_past_the_client_timeout(
    payments: tuple[KsqlServer, str], produce_json: Callable[..., None]
) -> None:
    server, topic = payments
    with KsqlClient(server.url, timeout=1.0) as c:  # a 1 s timeout for plain requests
        events = c.query("SELECT ID FROM PAYMENTS EMIT CHANGES;", properties=EARLIEST)
        assert isinstance(next(events), QueryHeader)
        assert [next(events), next(events)] == [[0], [1]]
        later = threading.Timer(4.0, produce_json, args=(topic, [("k9", {"ID": 9})]))
        later.start()
        t0 = time.monotonic()
        assert next(events) == [9]  # 4 s of silence: no read timeout
        assert time.monotonic() - t0 >= 3.5
        events.close()
        later.join()
        facade = KSQLAPI(server.url, timeout=1.0)  # ksql-python's facade: the same, quiet
        later = threading.Timer(3.0, produce_json, args=(topic, [("k10", {"ID": 10})]))
        later.start()
        rows = facade.query(
            "SELECT ID FROM PAYMENTS EMIT CHANGES LIMIT 4;",
            stream_properties=EARLIEST,
            return_objects=True,
        )
        assert [r["ID"] for r in rows] == [0, 1, 9, 10]
        later.join()


def test_query_stream_close_query_and_inserts_stream(payments: tuple[KsqlServer, str]) -> None:
    server, _ = payments
    with KsqlClient(server.url) as c:
        acks = c.inserts_stream("payments", [{"ID": 7, "WHO": "o'neil", "AMOUNT": 2}, {"id": 8}])
        assert acks == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
        with pytest.raises(KsqlServerError) as bad:
            c.inserts_stream("PAYMENTS", [{"ID": 10}, {"NOPE": 1}, {"ID": 11}])
        assert "row 1" in str(bad.value) and bad.value.body[0] == {"status": "ok", "seq": 0}
        with pytest.raises(KsqlServerError, match="unknown stream"):
            c.inserts_stream("NO_SUCH_STREAM", [{"ID": 1}])

        events = c.query_stream("SELECT ID, WHO FROM PAYMENTS EMIT CHANGES;", properties=EARLIEST)
        header = next(events)
        assert isinstance(header, QueryHeader) and header.columns == ["ID", "WHO"]
        got = [next(events) for _ in range(5)]
        assert got == [[0, "user0"], [1, "user1"], [7, "o'neil"], [8, None], [10, None]]
        assert len(server.open_queries) == 1
        c.close_query(header.query_id)
        assert list(events) == []  # the server ended the stream
        assert len(server.open_queries) == 0
        with pytest.raises(KsqlServerError, match="No query with id") as unknown:
            c.close_query(header.query_id)
        assert unknown.value.status_code == 400

        # leaving a quiet /query-stream early closes it on the server (HTTP/1.1 gives the
        # server no other sign until its next row)
        quiet = c.query_stream("SELECT ID FROM PAYMENTS WHERE ID < 0 EMIT CHANGES;")
        assert isinstance(next(quiet), QueryHeader) and len(server.open_queries) == 1
        quiet.close()
        assert len(server.open_queries) == 0

    # the HTTP/1.1 JSON form when asked for explicitly, delimited otherwise (ksqlDB's default)
    body = {"sql": "SELECT ID FROM PAYMENTS EMIT CHANGES LIMIT 1;", "properties": EARLIEST}
    as_json = httpx.post(
        f"{server.url}/query-stream", json=body, headers={"Accept": "application/json"}, timeout=60
    )
    assert as_json.json()[1] == [0]
    default = httpx.post(f"{server.url}/query-stream", json=body, timeout=60)
    lines = [json.loads(x) for x in default.text.splitlines()]
    assert lines[0]["columnNames"] == ["ID"] and lines[1] == [0]


def test_ksql_query_table_prints_rows_as_they_arrive(
    payments: tuple[KsqlServer, str], produce_json: Callable[..., None]
) -> None:
    server, topic = payments
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "COLUMNS": "60"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fraudstream",
            "ksql",
            "query",
            "--url",
            server.url,
            "--from-beginning",
            "SELECT ID, WHO FROM PAYMENTS EMIT CHANGES;",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("user1" in line for line in lines):
            lines.append(proc.stdout.readline())
            assert lines[-1], "the query ended before printing its rows"
        assert lines[1].startswith("|ID") and "WHO" in lines[1]
        assert all(len(line.rstrip("\n")) <= 60 for line in lines)
        produce_json(topic, [("k5", {"ID": 5, "WHO": "late"})])
        while "late" not in lines[-1]:  # printed while the query still runs
            lines.append(proc.stdout.readline())
            assert lines[-1]
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "3 rows" in stderr
