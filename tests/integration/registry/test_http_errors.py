"""Bad input gets Confluent's status and error code, and the server keeps serving."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
GOOD = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


@pytest.fixture
def http(schema_registry_url: str) -> httpx.Client:
    with httpx.Client(base_url=schema_registry_url, timeout=10, headers=CT) as c:
        yield c  # type: ignore[misc]


def _err(resp: httpx.Response, status: int, code: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def test_error_codes(http: httpx.Client, unique_id: str) -> None:
    subj = f"err-{unique_id}"
    _err(http.post(f"/subjects/{subj}/versions", content=b"{not json"), 400, 400)
    _err(http.post(f"/subjects/{subj}/versions", content=b"[1]"), 422, 422)
    _err(http.post(f"/subjects/{subj}/versions", json={"schemaType": "AVRO"}), 422, 422)
    msg = _err(http.post(f"/subjects/{subj}/versions", json={"schema": '{"type":"x"}'}), 422, 42201)
    assert "Invalid schema" in msg
    _err(http.post(f"/subjects/{subj}/versions", json={"schema": "{"}), 422, 42201)
    _err(
        http.post(f"/subjects/{subj}/versions", json={"schema": GOOD, "schemaType": "PROTOBUF"}),
        422,
        42201,
    )
    _err(http.get(f"/subjects/{subj}/versions"), 404, 40401)
    _err(http.get(f"/subjects/{subj}/versions/latest"), 404, 40401)
    _err(http.get("/schemas/ids/987654"), 404, 40403)
    _err(http.get("/schemas/ids/abc"), 404, 404)
    _err(http.put("/config", json={"compatibility": "SIDEWAYS"}), 422, 42203)
    _err(http.get(f"/config/{subj}"), 404, 40408)
    _err(http.get("/no/such/endpoint"), 404, 404)
    _err(http.delete(f"/subjects/{subj}"), 404, 40401)

    # the server is fine afterwards: register, then version-level errors
    r = http.post(f"/subjects/{subj}/versions", json={"schema": GOOD})
    assert r.status_code == 200 and isinstance(r.json()["id"], int)
    assert r.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")
    _err(http.get(f"/subjects/{subj}/versions/2"), 404, 40402)
    _err(http.get(f"/subjects/{subj}/versions/0"), 422, 42202)
    _err(http.get(f"/subjects/{subj}/versions/banana"), 422, 42202)
    _err(http.post(f"/subjects/{subj}", json={"schema": '"string"'}), 404, 40403)
    incompatible = json.dumps(
        {"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]}
    )
    msg = _err(http.post(f"/subjects/{subj}/versions", json={"schema": incompatible}), 409, 409)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in msg
    _err(http.delete(f"/subjects/{subj}?permanent=true"), 404, 40405)
    _err(http.delete(f"/subjects/{subj}/versions/1?permanent=true"), 404, 40407)
    assert http.delete(f"/subjects/{subj}/versions/1").json() == 1
    _err(http.delete(f"/subjects/{subj}/versions/1"), 404, 40406)
    _err(http.delete(f"/subjects/{subj}/versions/9"), 404, 40402)


def test_rest_shapes(http: httpx.Client, unique_id: str) -> None:
    subj = f"shape-{unique_id}"
    sid = http.post(f"/subjects/{subj}/versions", json={"schema": GOOD}).json()["id"]
    assert http.get(f"/subjects/{subj}/versions/latest").json() == {
        "subject": subj,
        "version": 1,
        "id": sid,
        "schema": GOOD,
    }
    assert http.get(f"/subjects/{subj}/versions/1/schema").json() == json.loads(GOOD)
    assert http.get(f"/schemas/ids/{sid}").json() == {"schema": GOOD}
    assert http.get(f"/schemas/ids/{sid}/schema").json() == json.loads(GOOD)
    assert {"subject": subj, "version": 1} in http.get(f"/schemas/ids/{sid}/versions").json()
    assert subj in http.get(f"/schemas/ids/{sid}/subjects").json()
    assert http.get("/schemas/types").json() == ["AVRO"]
    assert http.get("/config").json()["compatibilityLevel"] in {"BACKWARD", "NONE", "FULL"}
    assert http.put(f"/config/{subj}", json={"compatibility": "full"}).json() == {
        "compatibility": "FULL"
    }
    assert http.get(f"/config/{subj}").json() == {"compatibilityLevel": "FULL"}
    verbose = http.post(
        f"/compatibility/subjects/{subj}/versions/latest?verbose=true",
        json={"schema": json.dumps({"type": "record", "name": "R", "fields": []})},
    ).json()
    assert verbose["is_compatible"] is False and verbose["messages"]
    assert http.delete(f"/config/{subj}").json() == {"compatibilityLevel": "FULL"}
    assert http.get(f"/subjects?subjectPrefix=shape-{unique_id}").json() == [subj]
    assert http.get("/mode").json() == {"mode": "READWRITE"}
