"""`GET /healthcheck` follows ksqlDB: isHealthy is every detail healthy, and the status is 200
even when unhealthy (HealthCheckResource answers EndpointResponse.ok); 503 only before start.
The watchdog's probe reads the body, so it sees a failed query either way."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from fraudstream.ksql.server.app import build_app
from fraudstream.local.watchdog import ksql_probe


def _service(started: bool, states: list[str]) -> Any:
    runners = {
        f"Q{i}": SimpleNamespace(stats=SimpleNamespace(state=s)) for i, s in enumerate(states)
    }
    return SimpleNamespace(started=started, runners=runners, service_id="t_")


def _get(service: Any) -> httpx.Response:
    with TestClient(build_app(service)) as client:
        return client.get("/healthcheck")


def test_healthy_server_answers_200_and_healthy_body() -> None:
    resp = _get(_service(True, ["RUNNING", "RUNNING"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["isHealthy"] is True
    assert {k: v["isHealthy"] for k, v in body["details"].items()} == {
        "metastore": True,
        "kafka": True,
        "commandRunner": True,
    }


def test_failed_query_makes_body_unhealthy_with_status_200_as_ksqldb() -> None:
    resp = _get(_service(True, ["RUNNING", "ERROR"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["details"]["commandRunner"]["isHealthy"] is False
    assert body["isHealthy"] is False  # ksqlDB: isHealthy = all details healthy


def test_not_started_answers_503() -> None:
    resp = _get(_service(False, []))
    assert resp.status_code == 503
    assert resp.json()["isHealthy"] is False


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"isHealthy": True, "details": {"commandRunner": {"isHealthy": True}}}, True),
        (200, {"isHealthy": False, "details": {"commandRunner": {"isHealthy": False}}}, False),
        # the previous embedded server: top-level true, only the runner detail false
        (200, {"isHealthy": True, "details": {"commandRunner": {"isHealthy": False}}}, False),
        (503, {"isHealthy": False, "details": {"commandRunner": {"isHealthy": False}}}, False),
    ],
)
def test_watchdog_probe_reads_status_and_body(
    monkeypatch: pytest.MonkeyPatch, status: int, body: dict[str, Any], expected: bool
) -> None:
    def fake_get(url: str, timeout: float) -> httpx.Response:
        assert url == "http://ksql:8088/healthcheck"
        return httpx.Response(status, json=body, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    assert ksql_probe("http://ksql:8088")() is expected


def test_watchdog_probe_against_the_server_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real app behind the probe: healthy, then a query fails -> the probe says unhealthy."""
    service = _service(True, ["RUNNING"])
    with TestClient(build_app(service), base_url="http://ksql:8088") as client:
        monkeypatch.setattr(httpx, "get", lambda url, timeout: client.get(url))
        probe = ksql_probe("http://ksql:8088")
        assert probe() is True
        service.runners["Q0"].stats.state = "ERROR"
        assert probe() is False
