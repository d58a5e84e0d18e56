"""The ksqlDB client against a KSQL server with basic auth, TLS and client certificates on
(issue 14 item 3): `KsqlClient`, `KSQLAPI`, `fraudstream ksql ...` and the shell all take
`FRAUDSTREAM_KSQL_*`; a wrong password or a missing client certificate is refused and no
password is ever printed. HTTP/2 (ALPN h2) and h2c sit behind the same Guard."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pexpect
import pytest
from tests.unit.httpserver.conftest import self_signed
from typer.testing import CliRunner

from fraudstream.httpserver import HttpSecuritySettings
from fraudstream.ksql.cli import app
from fraudstream.ksql.client.api import KSQLAPI
from fraudstream.ksql.client.client import (
    KsqlClient,
    KsqlConnectionError,
    KsqlServerError,
    QueryHeader,
)
from fraudstream.ksql.client.settings import KsqlClientSettings
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "s3cret-Pa55-for-ksql"
EARLIEST = {"auto.offset.reset": "earliest"}


def _client_env(url: str, tls: Path, **extra: str) -> dict[str, str]:
    return {
        "FRAUDSTREAM_KSQL_URL": url,
        "FRAUDSTREAM_KSQL_USERNAME": "alice",
        "FRAUDSTREAM_KSQL_PASSWORD": PASSWORD,
        "FRAUDSTREAM_KSQL_TLS_CA_FILE": str(tls / "server.pem"),
        "FRAUDSTREAM_KSQL_TLS_CERT_FILE": str(tls / "client.pem"),
        "FRAUDSTREAM_KSQL_TLS_KEY_FILE": str(tls / "client.key"),
        **extra,
    }


def test_client_cli_facade_and_shell_with_basic_auth_and_mtls(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[..., None],
    tmp_path: Path,
    unique_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_cert = self_signed(tmp_path, "server")
    client_cert = self_signed(tmp_path, "client")
    users = tmp_path / "users.properties"
    users.write_text(f"alice: {PASSWORD},developer\n")
    server = make_server(
        security=HttpSecuritySettings(
            tls_cert_file=server_cert,
            tls_key_file=tmp_path / "server.key",
            tls_ca_file=client_cert,
            tls_client_auth="REQUIRED",
            basic_auth_users_file=users,
        )
    )
    assert server.url.startswith("https://")
    env = _client_env(server.url, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = KsqlClientSettings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())

    topic = f"sec-{unique_id}"
    with KsqlClient.from_settings(settings) as c:
        c.ksql(
            "CREATE STREAM SEC (ID INT, NAME VARCHAR) "
            f"WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', PARTITIONS=1);"
        )
        produce_json(topic, [("a", {"ID": 1, "NAME": "one"})])
        assert c.inserts_stream("SEC", [{"ID": 2, "NAME": "two"}]) == [{"status": "ok", "seq": 0}]
        rows = list(c.query_rows("SELECT ID FROM SEC EMIT CHANGES LIMIT 2;", properties=EARLIEST))
        assert sorted(r["ID"] for r in rows) == [1, 2]
        events = c.query_stream("SELECT ID FROM SEC EMIT CHANGES;", properties=EARLIEST)
        header = next(events)
        assert isinstance(header, QueryHeader)
        c.close_query(header.query_id)
        events.close()

    wrong = settings.model_copy(update={"password": None, "username": "alice"})
    with KsqlClient.from_settings(wrong) as c, pytest.raises(KsqlServerError) as refused:
        c.ksql("SHOW STREAMS;")
    assert refused.value.status_code == 401
    no_cert = settings.model_copy(update={"tls_cert_file": None, "tls_key_file": None})
    with KsqlClient.from_settings(no_cert) as c, pytest.raises(KsqlConnectionError) as tls:
        c.info()  # mTLS: the handshake fails without a client certificate
    assert PASSWORD not in str(tls.value)

    facade = KSQLAPI(server.url)  # credentials and TLS from FRAUDSTREAM_KSQL_*
    assert facade.get_ksql_version().startswith("0.29")

    listed = CliRunner().invoke(app, ["list", "streams", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    assert "SEC" in {s["name"] for s in json.loads(listed.stdout)[0]["streams"]}
    bad = CliRunner().invoke(
        app, ["list", "streams"], env={"FRAUDSTREAM_KSQL_PASSWORD": "nope-" + PASSWORD}
    )
    assert bad.exit_code != 0 and PASSWORD not in bad.output

    # HTTP/2 over TLS (ALPN h2) with the same credentials
    with httpx.Client(
        http1=False, http2=True, verify=settings.verify(), auth=settings.auth(), timeout=60
    ) as h2:
        resp = h2.post(
            f"{server.url}/query-stream",
            json={"sql": "SELECT ID FROM SEC EMIT CHANGES LIMIT 1;", "properties": EARLIEST},
        )
        assert resp.http_version == "HTTP/2"
        assert [json.loads(x) for x in resp.text.splitlines()][1] == [1]

    child = pexpect.spawn(
        sys.executable,
        ["-m", "fraudstream", "ksql"],
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(ROOT / "services"),
            "XDG_DATA_HOME": str(tmp_path),
        },
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect("fraudstream ksql shell, server 0.29")
        child.expect_exact("ksql> ")
        child.sendline("SHOW STREAMS;")
        child.expect("SEC")
        child.expect_exact("ksql> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert PASSWORD not in (child.before or "")


def test_h2c_requests_meet_the_same_guard(make_server: Callable[..., KsqlServer]) -> None:
    server = make_server()
    with httpx.Client(http1=False, http2=True, timeout=30) as h2:
        ok = h2.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"})
        assert ok.http_version == "HTTP/2" and ok.status_code == 200
        rebound = h2.post(
            f"{server.url}/ksql",
            json={"ksql": "SHOW STREAMS;"},
            headers={"Host": "rebound.example"},
        )
        assert rebound.status_code == 421
        page = h2.post(
            f"{server.url}/ksql",
            content=b'{"ksql": "SHOW STREAMS;"}',
            headers={"Content-Type": "text/plain"},
        )
        assert page.status_code == 415
        big = h2.post(
            f"{server.url}/ksql",
            content=b'{"ksql": "' + b"x" * (2 << 20) + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
