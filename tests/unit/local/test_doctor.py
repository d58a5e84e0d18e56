"""`fraudstream doctor` probes the registry and KSQL as the clients would: logged in, over TLS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.unit.httpserver.conftest import Echo, self_signed

from fraudstream.httpserver import HttpSecuritySettings, HttpServer
from fraudstream.local.doctor import Verdict, _ksql_client, _registry_client, check_http
from fraudstream.local.procs import free_port

SECRET = "doctor-s3cret"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A TLS server with basic auth (user fred); yields its URL and CA file."""
    cert = self_signed(tmp_path)
    server = HttpServer(
        Echo().app(),
        "127.0.0.1",
        free_port(),
        name="t-doctor",
        security=HttpSecuritySettings(
            basic_auth_user="fred",
            basic_auth_password=SecretStr(SECRET),
            tls_cert_file=cert,
            tls_key_file=cert.with_suffix(".key"),
        ),
    )
    server.start(timeout=10)
    try:
        yield f"https://127.0.0.1:{server.port}", cert
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FRAUDSTREAM_REGISTRY_", "FRAUDSTREAM_KSQL_", "FRAUDSTREAM_HTTP_"):
        for name in [v for v in os.environ if v.startswith(var)]:
            monkeypatch.delenv(name)


def test_registry_probe_logs_in_with_the_registry_client_settings(
    secured: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = secured
    var = "FRAUDSTREAM_REGISTRY_URL"
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION", str(ca))
    refused = check_http("registry", url, "/", var)  # no CA, no login: TLS fails
    assert refused.status is Verdict.fail and var in refused.fix
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO", "fred:wrong")
    wrong = check_http("registry", url, "/", var, client=_registry_client(url))
    assert wrong.status is Verdict.fail and "refused the login (401)" in wrong.detail
    assert "wrong" not in wrong.model_dump_json()
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO", f"fred:{SECRET}")
    ok = check_http("registry", url, "/", var, client=_registry_client(url))
    assert ok.status is Verdict.ok, ok
    assert SECRET not in ok.model_dump_json()


def test_ksql_probe_logs_in_with_the_ksql_client_settings(
    secured: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, ca = secured
    secret_file = tmp_path / "ksql-password"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.setenv("FRAUDSTREAM_KSQL_TLS_CA_FILE", str(ca))
    monkeypatch.setenv("FRAUDSTREAM_KSQL_USERNAME", "fred")
    monkeypatch.setenv("FRAUDSTREAM_KSQL_PASSWORD_FILE", str(secret_file))
    ok = check_http("ksql", url, "/", "FRAUDSTREAM_KSQL_URL", client=_ksql_client)
    assert ok.status is Verdict.ok, ok


def test_a_bad_client_setting_is_the_checks_failure_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_KSQL_TLS_CA_FILE", str(tmp_path / "missing.pem"))
    check = check_http("ksql", "https://127.0.0.1:1", "/info", "FRAUDSTREAM_KSQL_URL",
                       client=_ksql_client)  # fmt: skip
    assert check.status is Verdict.fail
    assert "FRAUDSTREAM_KSQL_TLS_CA_FILE" in check.detail
