"""What every embedded server refuses: foreign Host, cross-site, wrong type, big bodies."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.unit.httpserver.conftest import Echo, ServeFn

JSON = {"Content-Type": "application/json"}


def test_foreign_host_is_refused_loopback_names_and_ips_pass(serve: ServeFn) -> None:
    server = serve()
    for host in ("evil.example", "evil.example:8081", "127.0.0.1.nip.io", "localhost.evil.com"):
        resp = httpx.get(server.url, headers={"Host": host}, timeout=5)
        assert resp.status_code == 421, host
        assert "Misdirected" in resp.text
    for host in ("localhost", "LOCALHOST:1", "127.0.0.1:9", "[::1]:80", "10.1.2.3", "a.localhost"):
        assert httpx.get(server.url, headers={"Host": host}, timeout=5).text == "hi", host


def test_allowed_hosts_are_configurable(serve: ServeFn) -> None:
    server = serve(allowed_hosts="registry.internal,.corp.example")
    ok = ("registry.internal:8081", "a.corp.example", "corp.example", "localhost")
    for host in ok:
        assert httpx.get(server.url, headers={"Host": host}, timeout=5).status_code == 200, host
    bad = httpx.get(server.url, headers={"Host": "evil.example"}, timeout=5)
    assert bad.status_code == 421
    anyhost = serve(allowed_hosts="*")
    assert httpx.get(anyhost.url, headers={"Host": "evil.example"}, timeout=5).status_code == 200


def test_cross_site_text_plain_post_is_refused_and_never_reaches_the_app(
    serve: ServeFn, echo: Echo
) -> None:
    server = serve()
    # What a web page can send without a CORS preflight: a form or text/plain body.
    for headers in (
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
        {"Origin": "http://localhost:3000", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"},
    ):
        resp = httpx.post(f"{server.url}/echo", content=b'{"ksql":"DROP"}', headers=headers)
        assert resp.status_code == 403, headers
        assert "cross-site" in resp.text
    assert echo.bodies == []


def test_same_origin_and_allowed_origins_pass(serve: ServeFn, echo: Echo) -> None:
    server = serve(allowed_origins="https://ui.example:8443")
    own = {"Origin": server.url, "Sec-Fetch-Site": "same-origin", **JSON}
    assert httpx.post(f"{server.url}/echo", content=b"{}", headers=own).json() == {"got": 2}
    ui = {"Origin": "https://ui.example:8443", "Sec-Fetch-Site": "cross-site", **JSON}
    assert httpx.post(f"{server.url}/echo", content=b"{}", headers=ui).status_code == 200
    other_port = {"Origin": "https://ui.example:9999", **JSON}
    assert httpx.post(f"{server.url}/echo", content=b"{}", headers=other_port).status_code == 403
    assert echo.bodies == [2, 2]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_post_without_a_json_type_gets_415(
    serve: ServeFn, echo: Echo, content_type: str | None
) -> None:
    server = serve()
    headers = {"Content-Type": content_type} if content_type else {}
    resp = httpx.post(f"{server.url}/echo", content=b"{}", headers=headers)  # no type if None
    assert resp.status_code == 415, resp.text
    assert "application/json" in resp.text
    assert echo.bodies == []


def test_json_and_vendor_types_pass(serve: ServeFn, echo: Echo) -> None:
    server = serve()
    for ct in (
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.ksql.v1+json",
        "application/vnd.ksqlapi.delimited.v1",
    ):
        resp = httpx.put(f"{server.url}/echo", content=b"[1]", headers={"Content-Type": ct})
        assert resp.status_code == 200, ct
    # a POST without a body needs no type
    assert httpx.post(f"{server.url}/echo").json() == {"got": 0}
    assert len(echo.bodies) == 6


def test_body_limit_by_content_length_is_immediate_and_server_stays_responsive(
    serve: ServeFn, echo: Echo
) -> None:
    server = serve(server_kw={"max_body_bytes": 1 << 20})
    # The answer comes before the body: only 64 KiB of the announced 5 MB are ever sent.
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (5 << 20) + b"x" * (64 << 10)
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    resp = httpx.post(f"{server.url}/echo", content=b"x" * (5 << 20), headers=JSON, timeout=30)
    assert resp.status_code == 413
    assert "1048576" in resp.text
    assert echo.bodies == []  # the app never saw a byte of it
    assert httpx.get(server.url, timeout=5).text == "hi"
    exact = httpx.post(f"{server.url}/echo", content=b"x" * (1 << 20), headers=JSON, timeout=10)
    assert exact.json() == {"got": 1 << 20}


def _chunks(total: int, size: int = 64 << 10) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


def test_body_limit_while_streaming_without_length(serve: ServeFn, echo: Echo) -> None:
    server = serve(server_kw={"max_body_bytes": 256 << 10})
    with httpx.Client(timeout=10) as client:
        resp = client.post(f"{server.url}/echo", content=_chunks(5 << 20), headers=JSON)
        assert resp.status_code == 413
        assert client.get(server.url).text == "hi"  # same connection pool, still served
    assert echo.bodies == []
    small = httpx.post(f"{server.url}/echo", content=_chunks(100 << 10), headers=JSON)
    assert small.json() == {"got": 100 << 10}


def test_settings_limit_overrides_the_app_default(serve: ServeFn) -> None:
    server = serve(max_body_bytes=10, server_kw={"max_body_bytes": 1 << 20})
    resp = httpx.post(f"{server.url}/echo", content=b"x" * 11, headers=JSON)
    assert resp.status_code == 413


def test_a_slow_oversized_upload_does_not_block_other_requests(serve: ServeFn) -> None:
    server = serve(server_kw={"max_body_bytes": 1 << 20})
    with socket.create_connection((server.host, server.port), timeout=5) as slow:
        slow.sendall(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * (256 << 10)
        for _ in range(3):  # 768 KiB, under the limit: the app is still waiting for more
            slow.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            t0 = time.monotonic()
            assert httpx.get(server.url, timeout=5).text == "hi"
            assert time.monotonic() - t0 < 1
        for _ in range(2):  # now over
            slow.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413")


def test_refusals_use_the_apps_error_format(serve: ServeFn) -> None:
    def render(status: int, message: str) -> tuple[bytes, str]:
        return f'{{"error_code": {status}, "message": "{message}"}}'.encode(), "application/x-t"

    server = serve(server_kw={"render_error": render})
    resp = httpx.get(server.url, headers={"Host": "evil.example"})
    assert resp.status_code == 421
    assert resp.headers["content-type"] == "application/x-t"
    assert resp.json()["error_code"] == 421


def test_websocket_from_a_foreign_origin_is_refused(serve: ServeFn) -> None:
    server = serve()
    with socket.create_connection((server.host, server.port), timeout=5) as ws:
        ws.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        answer = ws.recv(4096)
    assert not answer.startswith(b"HTTP/1.1 101"), answer
