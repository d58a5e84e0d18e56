"""The registry client's credentials, TLS and read-only mode (`FRAUDSTREAM_REGISTRY_*`)."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from fraudstream.errors import ConfigError
from fraudstream.registry.app import build_app
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.serde.errors import RegistryRefusedError
from fraudstream.serde.registry_client import RegistryClient, RegistryConfig, confluent_client
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.registry import MemoryLog

SECRET = "Regi-stry-s3cret"
SCORE = load_schema("score")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("FRAUDSTREAM_REGISTRY_")]:
        monkeypatch.delenv(var)


def _recorder(
    status: int = 200, body: object = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body if body is not None else {"id": 7})

    return httpx.MockTransport(handle), seen


def test_basic_auth_user_info_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "user-info"
    f.write_text(f"svc:{SECRET}\n")
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO_FILE", str(f))
    transport, seen = _recorder()
    client = RegistryClient("http://registry:8081", transport=transport)
    assert client.register("s-value", SCORE) == 7
    expected = "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()
    assert seen[0].headers["Authorization"] == expected
    assert SECRET not in repr(client.config)


def test_bearer_token_and_confluent_cloud_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BEARER_AUTH_TOKEN", SECRET)
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BEARER_AUTH_LOGICAL_CLUSTER", "lsrc-1")
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BEARER_AUTH_IDENTITY_POOL_ID", "pool-9")
    transport, seen = _recorder()
    RegistryClient("https://sr.example", transport=transport).register("s-value", SCORE)
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert seen[0].headers["target-sr-cluster"] == "lsrc-1"
    assert seen[0].headers["Confluent-Identity-Pool-Id"] == "pool-9"
    conf = RegistryConfig.from_env("https://sr.example").confluent_conf()
    assert conf["bearer.auth.token"] == SECRET and conf["bearer.auth.logical.cluster"] == "lsrc-1"


def test_credentials_in_the_url_never_reach_a_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    transport, seen = _recorder(401, {"error_code": 401, "message": "Unauthorized"})
    client = RegistryClient(f"http://svc:{SECRET}@registry:8081", transport=transport)
    assert client.url == "http://registry:8081"
    with pytest.raises(RegistryRefusedError) as exc:
        client.register("s-value", SCORE)
    msg = str(exc.value)
    assert "\n" not in msg and SECRET not in msg
    assert "401" in msg and "FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO" in msg
    assert "credentials given were refused" in msg
    assert seen[0].headers["Authorization"].startswith("Basic ")
    assert SECRET not in caplog.text and SECRET not in repr(client.config)


def test_both_credentials_or_a_bad_user_info_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO", SECRET)  # no colon
    with pytest.raises(ConfigError) as exc:
        RegistryConfig.from_env("http://r")
    assert str(exc.value).startswith("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO:")
    assert SECRET not in str(exc.value)
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO", f"a:{SECRET}")
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BEARER_AUTH_TOKEN", SECRET)
    with pytest.raises(ConfigError, match="set one, not both"):
        RegistryConfig.from_env("http://r")
    monkeypatch.delenv("FRAUDSTREAM_REGISTRY_BEARER_AUTH_TOKEN")
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as exc:
        RegistryConfig.from_env("http://r")
    assert str(exc.value).startswith("FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION:")


def test_confluent_client_gets_the_same_security(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO", f"u:{SECRET}")
    client = confluent_client("http://127.0.0.1:1")
    assert client is confluent_client("http://127.0.0.1:1")
    monkeypatch.delenv("FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO")
    assert confluent_client("http://127.0.0.1:1") is not client


# -- read-only: against the embedded registry in READONLY mode ----------------------------


@pytest.fixture
def readonly_registry() -> Iterator[tuple[Registry, TestClient]]:
    state = RegistryState()
    registry = Registry(state, MemoryLog(state))  # type: ignore[arg-type]
    with TestClient(build_app(registry), base_url="http://registry") as http:
        yield registry, http


def test_ensure_in_read_only_mode_looks_the_schema_up(
    readonly_registry: tuple[Registry, TestClient],
) -> None:
    registry, http = readonly_registry
    sid = registry.register("fraud_scores-value", json.dumps(SCORE)).id
    registry.set_mode(None, "READONLY")
    client = RegistryClient(RegistryConfig("http://registry", read_only=True), http=http)  # type: ignore[arg-type]
    assert client.ensure("fraud_scores-value", SCORE) == sid
    with pytest.raises(RegistryRefusedError) as exc:
        client.ensure("fraud_alerts-value", load_schema("alert"))
    msg = str(exc.value)
    assert "\n" not in msg
    assert "not registered" in msg and "fraudstream registry register" in msg
    assert "FRAUDSTREAM_REGISTRY_READ_ONLY" in msg


def test_a_refused_write_is_one_line_and_ensure_falls_back_to_the_lookup(
    readonly_registry: tuple[Registry, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    registry, http = readonly_registry
    sid = registry.register("fraud_scores-value", json.dumps(SCORE)).id
    registry.set_mode(None, "READONLY")
    client = RegistryClient(RegistryConfig("http://registry"), http=http)  # type: ignore[arg-type]
    with pytest.raises(RegistryRefusedError) as exc:
        client.register("fraud_scores-value", SCORE)
    msg = str(exc.value)
    assert "\n" not in msg and "42205" in msg and "read-only mode" in msg
    assert "FRAUDSTREAM_REGISTRY_READ_ONLY=true" in msg
    with caplog.at_level(logging.WARNING):
        assert client.ensure("fraud_scores-value", SCORE) == sid
    assert "using the pre-registered schema" in caplog.text
