"""The registry lets no one in: browsers cross-site, foreign Hosts, big bodies, no password.

Over the real broker. The secured registry (basic auth + TLS) is driven by confluent-kafka's
`SchemaRegistryClient` with the settings a user gives for Confluent's own registry.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from tests.unit.httpserver.conftest import self_signed

from fraudstream.httpserver import HttpSecuritySettings
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
GOOD = '{"schema": "{\\"type\\": \\"string\\"}"}'
PASSWORD = "registry-Secret-42"


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()  # Confluent's error format, even for the security layer
    assert body["error_code"] == status
    return str(body["message"])


def test_cross_site_text_plain_post_is_refused(schema_registry_url: str, unique_id: str) -> None:
    url = f"{schema_registry_url}/subjects/xsite-{unique_id}/versions"
    page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    _error(httpx.post(url, content=GOOD, headers=page), 403)
    # without an Origin (not a browser) text/plain is still not JSON
    _error(httpx.post(url, content=GOOD, headers={"Content-Type": "text/plain"}), 415)
    config = f"{schema_registry_url}/config"
    _error(httpx.put(config, content='{"compatibility":"NONE"}', headers=page), 403)
    assert httpx.get(f"{schema_registry_url}/subjects").json().count(f"xsite-{unique_id}") == 0
    assert httpx.get(config).json() == {"compatibilityLevel": "BACKWARD"}


def test_foreign_host_is_refused(schema_registry_url: str) -> None:
    resp = httpx.get(f"{schema_registry_url}/subjects", headers={"Host": "attacker.example"})
    assert "Misdirected" in _error(resp, 421)


def test_five_megabytes_get_413_quickly_and_the_registry_keeps_serving(
    schema_registry_url: str, unique_id: str
) -> None:
    url = f"{schema_registry_url}/subjects/big-{unique_id}/versions"
    host, port = schema_registry_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # answered at once
        raw.sendall(
            b"POST /subjects/x/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % (5 << 20)
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    body = b'{"schema": "' + b"x" * (5 << 20) + b'"}'
    t0 = time.monotonic()
    resp = httpx.post(url, content=body, headers=CT, timeout=30)
    assert "2097152" in _error(resp, 413)
    assert time.monotonic() - t0 < 10  # the time to send 5 MB, never to process them
    chunked = httpx.post(
        url,
        content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
        headers=CT,
        timeout=30,
    )
    _error(chunked, 413)
    assert httpx.get(f"{schema_registry_url}/subjects", timeout=5).status_code == 200
    ok = httpx.post(url, content=GOOD, headers=CT, timeout=30)
    assert ok.status_code == 200 and isinstance(ok.json()["id"], int)


def test_trailing_slashes_are_the_same_resource(schema_registry_url: str) -> None:
    for path in ("/config/", "/subjects/", "/schemas/types/"):
        resp = httpx.get(f"{schema_registry_url}{path}", follow_redirects=False)
        assert resp.status_code == 200, path
        assert resp.json() == httpx.get(f"{schema_registry_url}{path.rstrip('/')}").json()


@pytest.fixture(scope="module")
def secured(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    cert = self_signed(tmp)
    users = tmp / "users.properties"
    users.write_text(f"alice: {PASSWORD},developer\n")
    security = HttpSecuritySettings(
        tls_cert_file=cert,
        tls_key_file=tmp / "server.key",
        basic_auth_users_file=users,
    )
    server = RegistryServer(
        kafka_bootstrap,
        port=free_port(),
        topic=f"_schemas-sec-{uuid.uuid4().hex[:10]}",
        security=security,
    )
    server.start(timeout=60)
    try:
        yield server.url, cert
    finally:
        server.stop()


def test_confluent_client_with_basic_auth_and_tls(secured: tuple[str, Path]) -> None:
    url, ca = secured
    assert url.startswith("https://127.0.0.1:")
    conf = {"url": url, "ssl.ca.location": str(ca)}
    client = SchemaRegistryClient({**conf, "basic.auth.user.info": f"alice:{PASSWORD}"})
    schema_id = client.register_schema("sec-value", Schema('"string"', "AVRO"))
    assert client.get_schema(schema_id).schema_str == '"string"'

    for creds in (None, f"alice:wrong-{PASSWORD}", f"mallory:{PASSWORD}"):
        extra = {"basic.auth.user.info": creds} if creds else {}
        with pytest.raises(SchemaRegistryError) as info:
            SchemaRegistryClient({**conf, **extra}).get_subjects()
        assert info.value.http_status_code == 401
        assert PASSWORD not in str(info.value)
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate
        httpx.get(url, auth=("alice", PASSWORD), timeout=5)
