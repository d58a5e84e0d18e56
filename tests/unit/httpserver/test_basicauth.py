"""Basic auth as Confluent's servers do it: a Jetty-style users file or one user."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import httpx
import pytest
from tests.unit.httpserver.conftest import Echo, ServeFn

from fraudstream.errors import ConfigError
from fraudstream.httpserver import HttpSecuritySettings
from fraudstream.httpserver.basicauth import (
    AuthResult,
    BasicAuth,
    basic_auth_from,
    parse_users_file,
)

SECRET = "s3cr3t-Pa55"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _users(tmp_path: Path) -> Path:
    md5 = hashlib.md5(b"other-pass").hexdigest()
    path = tmp_path / "users.properties"
    path.write_text(
        "# Confluent's password file format\n"
        f"fred: {SECRET},admin,dev\n"
        f"barney: MD5:{md5},readonly\n"
        "\n"
    )
    return path


def test_users_file_plain_and_md5_with_roles(tmp_path: Path) -> None:
    auth = BasicAuth(parse_users_file(_users(tmp_path)), "r", frozenset({"admin"}))
    assert auth.check(_basic("fred", SECRET)) is AuthResult.OK
    assert auth.check(_basic("fred", "wrong")) is AuthResult.UNAUTHENTICATED
    assert auth.check(_basic("barney", "other-pass")) is AuthResult.FORBIDDEN  # not admin
    assert auth.check(_basic("nobody", SECRET)) is AuthResult.UNAUTHENTICATED
    for bad in (None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"fred").decode()):
        assert auth.check(bad) is AuthResult.UNAUTHENTICATED


def test_bad_users_file_names_the_variable_and_the_line_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"fred {SECRET}\n")
    with pytest.raises(ConfigError, match=r"FRAUDSTREAM_HTTP_BASIC_AUTH_USERS_FILE.*line 1") as e:
        parse_users_file(path)
    assert SECRET not in str(e.value)
    path.write_text(f"fred: OBF:{SECRET}\n")
    with pytest.raises(ConfigError, match="OBF: passwords are not supported") as e:
        parse_users_file(path)
    assert SECRET not in str(e.value)


def test_single_user_needs_a_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FRAUDSTREAM_HTTP_BASIC_AUTH_PASSWORD: required"):
        basic_auth_from(HttpSecuritySettings(basic_auth_user="fred"))
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")  # as a Kubernetes secret mount may end
    auth = basic_auth_from(
        HttpSecuritySettings(basic_auth_user="fred", basic_auth_password_file=secret_file)
    )
    assert auth is not None and auth.check(_basic("fred", SECRET)) is AuthResult.OK
    assert basic_auth_from(HttpSecuritySettings()) is None


def test_server_asks_for_credentials_and_skips_public_paths(
    serve: ServeFn, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(basic_auth_user="fred", basic_auth_password=SECRET, auth_skip_paths="/health")
    anon = httpx.post(f"{server.url}/echo", content=b"{}", headers={"Content-Type": "text/plain"})
    assert anon.status_code == 401  # auth comes before the body is looked at
    assert anon.headers["www-authenticate"] == 'Basic realm="fraudstream"'
    wrong = httpx.get(server.url, auth=("fred", "nope"))
    assert wrong.status_code == 401
    assert httpx.get(server.url, auth=("fred", SECRET)).text == "hi"
    assert httpx.get(f"{server.url}/health").text == "hi"
    ok = httpx.post(
        f"{server.url}/echo",
        content=b"{}",
        auth=("fred", SECRET),
        headers={"Content-Type": "application/json"},
    )
    assert ok.json() == {"got": 2}
    assert echo.bodies == [2]
    for text in (anon.text, wrong.text, caplog.text, repr(server.policy)):
        assert SECRET not in text
