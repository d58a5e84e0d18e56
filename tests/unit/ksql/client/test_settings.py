"""FRAUDSTREAM_KSQL_*: bad values fail with one line naming the variable; no secret shown."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudstream.errors import ConfigError
from fraudstream.ksql.client.settings import KsqlClientSettings, ksql_client_settings


@pytest.fixture(autouse=True)
def _no_ksql_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("FRAUDSTREAM_KSQL_")]:
        monkeypatch.delenv(var)


def test_defaults_have_no_credentials_and_verify_the_server() -> None:
    s = ksql_client_settings()
    assert s.url == "http://127.0.0.1:8088"
    assert s.client_kwargs() == {"auth": None, "verify": True}
    with pytest.raises(ValidationError):  # frozen, as every settings class
        s.username = "mallory"  # type: ignore[misc]


def test_password_from_env_or_file_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_KSQL_USERNAME", "alice")
    monkeypatch.setenv("FRAUDSTREAM_KSQL_PASSWORD", "hunter2-secret")
    s = ksql_client_settings()
    assert s.auth() == ("alice", "hunter2-secret")
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s.model_dump())
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    monkeypatch.setenv("FRAUDSTREAM_KSQL_PASSWORD_FILE", str(secret))
    assert ksql_client_settings().auth() == ("alice", "from-file")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FRAUDSTREAM_KSQL_TLS_CA_FILE": "/no/such/ca.pem"}, "FRAUDSTREAM_KSQL_TLS_CA_FILE"),
        ({"FRAUDSTREAM_KSQL_TLS_VERIFY": "maybe"}, "FRAUDSTREAM_KSQL_TLS_VERIFY"),
        ({"FRAUDSTREAM_KSQL_PASSWORD_FILE": "{tmp}/pw"}, "FRAUDSTREAM_KSQL_PASSWORD_FILE"),
        ({"FRAUDSTREAM_KSQL_TLS_KEY_FILE": "{tmp}/pw"}, "FRAUDSTREAM_KSQL_TLS_KEY_FILE"),
    ],
)
def test_bad_settings_fail_in_one_line_naming_the_variable(
    env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("x")
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    with pytest.raises(ConfigError) as info:
        ksql_client_settings()
    assert str(info.value).startswith(named) and "\n" not in str(info.value)


def test_a_client_certificate_that_does_not_load_names_the_variables(tmp_path: Path) -> None:
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate")
    s = KsqlClientSettings(tls_cert_file=junk)
    with pytest.raises(ConfigError, match="FRAUDSTREAM_KSQL_TLS_CERT_FILE"):
        s.verify()


def test_ca_file_gives_a_verifying_context(tmp_path: Path) -> None:
    from tests.unit.httpserver.conftest import self_signed

    ca = self_signed(tmp_path, "ca")
    context = KsqlClientSettings(tls_ca_file=ca).verify()
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    loose = KsqlClientSettings(tls_ca_file=ca, tls_verify=False).verify()
    assert isinstance(loose, ssl.SSLContext) and loose.verify_mode == ssl.CERT_NONE
    assert KsqlClientSettings(tls_verify=False).verify() is False
