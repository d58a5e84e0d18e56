"""Confluent's mode API (PUT /mode READONLY): a registry that refuses writes (42205) but
still answers lookups, so services can run on schemas a deploy step pre-registered."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from fraudstream.registry import errors as e
from fraudstream.registry.app import build_app
from fraudstream.registry.service import Registry
from fraudstream.registry.state import RegistryState
from fraudstream.testing.registry import MemoryLog

SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})
CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


class Recording(MemoryLog):
    def __init__(self, state: RegistryState) -> None:
        super().__init__(state)
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, key: bytes, value: bytes | None, timeout: float = 30.0) -> int:
        self.records.append((key, value))
        return super().append(key, value, timeout)


def make() -> tuple[Registry, Recording]:
    state = RegistryState()
    log = Recording(state)
    return Registry(state, log), log  # type: ignore[arg-type]


def test_read_only_refuses_every_write_but_serves_lookups() -> None:
    reg, _ = make()
    sv = reg.register("s-value", SCHEMA)
    assert reg.set_mode(None, "readonly") == "READONLY"
    for write in (
        lambda: reg.register("s-value", SCHEMA),  # even the same schema: Confluent checks first
        lambda: reg.register("t-value", SCHEMA),
        lambda: reg.delete_subject("s-value", False),
        lambda: reg.delete_version("s-value", "1", False),
        lambda: reg.set_level("s-value", "NONE"),
        lambda: reg.delete_level(None),
    ):
        with pytest.raises(e.OperationNotPermitted) as exc:
            write()
        assert (exc.value.status, exc.value.error_code) == (422, 42205)
        assert "read-only mode" in exc.value.message
    assert reg.lookup("s-value", SCHEMA).id == sv.id
    assert reg.set_mode(None, "READWRITE") == "READWRITE"  # mode changes always allowed
    assert reg.register("t-value", SCHEMA).id == sv.id


def test_subject_modes_and_the_override() -> None:
    reg, _ = make()
    reg.set_mode("locked-value", "READONLY")
    with pytest.raises(e.OperationNotPermitted, match="Subject locked-value"):
        reg.register("locked-value", SCHEMA)
    reg.register("open-value", SCHEMA)
    reg.set_mode(None, "READONLY_OVERRIDE")
    reg.set_mode("open-value", "READWRITE")
    with pytest.raises(e.OperationNotPermitted):
        reg.register("open-value", SCHEMA)  # READONLY_OVERRIDE beats subject modes
    reg.set_mode(None, "READWRITE")
    assert reg.delete_mode("locked-value") == "READONLY"
    reg.register("locked-value", SCHEMA)
    with pytest.raises(e.SubjectNotFound):
        reg.delete_mode("locked-value")


def test_invalid_mode_is_42204() -> None:
    reg, _ = make()
    for bad in ("IMPORT", "sideways", None, 3):
        with pytest.raises(e.InvalidMode) as exc:
            reg.set_mode(None, bad)
        assert exc.value.error_code == 42204


def test_modes_survive_a_restart_through_the_log() -> None:
    reg, log = make()
    reg.set_mode(None, "READONLY")
    reg.set_mode("x-value", "READWRITE")
    state = RegistryState()
    for key, value in log.records:
        state.apply(key, value)
    assert state.skipped == 0
    assert state.mode(None) == "READONLY" and state.mode("x-value") == "READWRITE"
    assert json.loads(log.records[0][0]) == {"keytype": "MODE", "subject": None, "magic": 0}


def test_mode_endpoints_speak_confluents_api() -> None:
    reg, _ = make()
    with TestClient(build_app(reg), base_url="http://127.0.0.1") as http:
        assert http.get("/mode").json() == {"mode": "READWRITE"}
        put = http.put("/mode", content='{"mode": "READONLY"}', headers=CT)
        assert put.status_code == 200 and put.json() == {"mode": "READONLY"}
        assert http.get("/mode/any-value").json() == {"mode": "READONLY"}
        refused = http.post("/subjects/s-value/versions", json={"schema": SCHEMA}, headers=CT)
        assert refused.status_code == 422
        assert refused.json() == {
            "error_code": 42205,
            "message": "Subject s-value is in read-only mode",
        }
        bad = http.put("/mode", content='{"mode": "IMPORT"}', headers=CT)
        assert bad.status_code == 422 and bad.json()["error_code"] == 42204
        assert (
            http.put("/mode/s-value", content='{"mode":"READWRITE"}', headers=CT).status_code == 200
        )
        assert http.get("/mode/s-value").json() == {"mode": "READWRITE"}
        ok = http.post("/subjects/s-value/versions", json={"schema": SCHEMA}, headers=CT)
        assert ok.status_code == 200
        assert http.delete("/mode/s-value").json() == {"mode": "READWRITE"}
        assert http.get("/mode/s-value").json() == {"mode": "READONLY"}
