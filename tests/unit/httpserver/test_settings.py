"""`FRAUDSTREAM_HTTP_*`: bad values fail at start with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.errors import ConfigError
from fraudstream.httpserver import HttpSecuritySettings, http_security_settings
from fraudstream.httpserver.settings import split_list


def test_defaults_are_loopback_only_without_auth_or_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    s = http_security_settings()
    assert split_list(s.allowed_hosts) == ("localhost", "127.0.0.1", "::1")
    assert s.scheme == "http" and s.password() is None


def test_lists_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_HTTP_ALLOWED_HOSTS", "a.example, b.example,,")
    assert split_list(http_security_settings().allowed_hosts) == ("a.example", "b.example")


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("FRAUDSTREAM_HTTP_TLS_CERT_FILE", "/nonexistent/cert.pem", "TLS_CERT_FILE: .*not a file"),
        ("FRAUDSTREAM_HTTP_TLS_CLIENT_AUTH", "SOMETIMES", "TLS_CLIENT_AUTH"),
        ("FRAUDSTREAM_HTTP_TLS_CLIENT_AUTH", "REQUIRED", "TLS_CLIENT_AUTH: .*TLS_CA_FILE"),
        ("FRAUDSTREAM_HTTP_MAX_BODY_BYTES", "0", "MAX_BODY_BYTES"),
        ("FRAUDSTREAM_HTTP_BASIC_AUTH_USERS_FILE", "/nonexistent", "BASIC_AUTH_USERS_FILE"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message) as info:
        http_security_settings()
    assert "\n" not in str(info.value)


def test_key_without_cert_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    with pytest.raises(ValueError, match="TLS_CERT_FILE"):
        HttpSecuritySettings(tls_key_file=key)


def test_a_directory_is_not_a_certificate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a file"):
        HttpSecuritySettings(tls_cert_file=tmp_path)
