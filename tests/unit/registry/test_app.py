"""The registry's HTTP surface without a broker: slashes, the OpenAPI description, errors."""

from __future__ import annotations

import json

import orjson
from starlette.routing import Route
from starlette.testclient import TestClient
from tests.unit.registry.test_service import make

from fraudstream.registry.app import (
    CONTENT_TYPE,
    REQUEST_TYPES,
    build_app,
    openapi_description,
    render_error,
)

CT = {"Content-Type": CONTENT_TYPE}
SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


def _client() -> TestClient:
    registry, _log = make()
    return TestClient(build_app(registry))


def test_trailing_slash_is_the_same_resource_without_a_redirect() -> None:
    client = _client()
    got = client.get("/config/", follow_redirects=False)
    assert got.status_code == 200 and got.json() == {"compatibilityLevel": "BACKWARD"}
    assert client.put("/config/", json={"compatibility": "FULL"}, headers=CT).status_code == 200
    assert client.get("/config").json() == {"compatibilityLevel": "FULL"}
    reg = client.post("/subjects/s/versions/", json={"schema": SCHEMA}, headers=CT)
    assert reg.json() == {"id": 1}
    assert client.get("/subjects/s/versions/1/").json()["id"] == 1
    assert client.get("/").json() == {}


def test_the_description_covers_exactly_the_routes() -> None:
    app = build_app(make()[0])
    routes: set[tuple[str, str]] = set()
    for route in app.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                routes.add((route.path, method.lower()))
    spec = orjson.loads(openapi_description())
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == routes | {("/metrics", "get")}  # servermetrics.with_metrics adds it
    served = _client().get("/openapi.json")
    assert served.headers["content-type"] == "application/json"
    assert served.json() == spec
    for ct in REQUEST_TYPES - {"application/octet-stream"}:
        register = spec["paths"]["/subjects/{subject}/versions"]["post"]
        assert ct in register["requestBody"]["content"]


def test_unexpected_errors_answer_50001_without_details() -> None:
    registry, _log = make()

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("password=hunter2 in a driver message")

    registry.register = boom  # type: ignore[method-assign]
    client = TestClient(build_app(registry), raise_server_exceptions=False)
    resp = client.post("/subjects/s/versions", json={"schema": SCHEMA}, headers=CT)
    assert resp.status_code == 500
    assert resp.json() == {"error_code": 50001, "message": "Error in the backend"}


def test_security_refusals_in_confluent_format() -> None:
    body, media = render_error(415, "Unsupported Media Type text/plain")
    assert media == CONTENT_TYPE
    assert orjson.loads(body) == {"error_code": 415, "message": "Unsupported Media Type text/plain"}
