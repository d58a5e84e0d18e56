"""The KSQL server lets no one in: a web page's text/plain POST, a foreign Host, 5 MB bodies."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

V1 = {"Content-Type": "application/vnd.ksql.v1+json", "Accept": "application/vnd.ksql.v1+json"}


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()  # ksqlDB's KsqlErrorMessage
    assert body["@type"] == "generic_error" and body["error_code"] == status * 100
    return str(body["message"])


def test_ksql_refuses_browsers_foreign_hosts_and_big_bodies(
    make_server: Callable[..., KsqlServer], unique_id: str
) -> None:
    server = make_server()
    url = f"{server.url}/ksql"
    statement = (
        f"CREATE STREAM s{unique_id} (a INT) WITH "
        f"(KAFKA_TOPIC='t{unique_id}', PARTITIONS=1, VALUE_FORMAT='JSON');"
    )
    drop = json.dumps({"ksql": statement})
    page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    _error(httpx.post(url, content=drop, headers=page, timeout=10), 403)
    _error(httpx.post(url, content=drop, headers={"Content-Type": "text/plain"}, timeout=10), 415)
    _error(httpx.post(url, content=drop, headers={**V1, "Host": "rebound.example"}), 421)
    streams = httpx.post(url, json={"ksql": "SHOW STREAMS;"}, headers=V1, timeout=30).json()
    assert f"S{unique_id}" not in str(streams).upper()

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # answered at once
        raw.sendall(
            b"POST /ksql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n{" % (5 << 20)
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    t0 = time.monotonic()
    big = b'{"ksql": "' + b"x" * (5 << 20) + b'"}'
    assert "1048576" in _error(httpx.post(url, content=big, headers=V1, timeout=30), 413)
    assert time.monotonic() - t0 < 10
    assert httpx.get(f"{server.url}/info", timeout=5).status_code == 200
    ok = httpx.post(url, json={"ksql": "SHOW STREAMS;"}, headers=V1, timeout=30)
    assert ok.status_code == 200
