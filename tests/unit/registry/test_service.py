"""Registry semantics (ids, versions, deletes, configs, error codes) over an in-memory log.

The log here applies records synchronously; the integration tests run the same code over
the real broker. What matters here: every state change goes through a log record.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudstream.registry import errors as e
from fraudstream.registry.avroschema import parse_avro
from fraudstream.registry.compat import Level
from fraudstream.registry.service import Registry, parse_version
from fraudstream.registry.state import RegistryState


class ListLog:
    """Records appended in order; replaying them into a fresh state must rebuild it."""

    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, key: bytes, value: bytes | None, timeout: float = 30.0) -> int:
        self.records.append((key, value))
        self.state.apply(key, value)
        return len(self.records) - 1


def make() -> tuple[Registry, ListLog]:
    state = RegistryState()
    log = ListLog(state)
    return Registry(state, log), log  # type: ignore[arg-type]


def s(*fields: tuple[str, Any], **defaults: Any) -> str:
    out = []
    for name, t in fields:
        fld: dict[str, Any] = {"name": name, "type": t}
        if name in defaults:
            fld["default"] = defaults[name]
        out.append(fld)
    return json.dumps({"type": "record", "name": "R", "fields": out})


def test_same_schema_same_id_across_whitespace_and_subjects() -> None:
    reg, _ = make()
    a = reg.register("a-value", s(("x", "int")))
    again = reg.register("a-value", json.dumps(json.loads(s(("x", "int"))), indent=2))
    other = reg.register("b-value", s(("x", "int")))
    assert (a.id, a.version) == (1, 1)
    assert again == a
    assert other.id == a.id and other.version == 1


def test_evolve_and_reject() -> None:
    reg, _ = make()
    reg.register("t", s(("x", "int")))
    v2 = reg.register("t", s(("x", "int"), ("y", "string"), y=""))
    assert (v2.id, v2.version) == (2, 2)
    with pytest.raises(e.IncompatibleSchema) as info:
        reg.register("t", s(("z", "int")))
    assert info.value.status == 409 and info.value.error_code == 409
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in info.value.message
    assert reg.versions("t") == [1, 2]


def test_invalid_schema_is_42201() -> None:
    reg, _ = make()
    for bad in ['{"type": "nope"}', "not json", "", '["int", "int"]', "42"]:
        with pytest.raises(e.InvalidSchema) as info:
            reg.register("t", bad)
        assert info.value.error_code == 42201
    with pytest.raises(e.InvalidSchema):
        reg.register("t", '"string"', schema_type="PROTOBUF")


def test_lookup_and_not_found_codes() -> None:
    reg, _ = make()
    sv = reg.register("t", s(("x", "int")))
    assert reg.lookup("t", s(("x", "int"))) == sv
    with pytest.raises(e.SchemaNotFound) as a:
        reg.lookup("t", s(("q", "int")))
    assert a.value.error_code == 40403
    with pytest.raises(e.SubjectNotFound) as b:
        reg.lookup("nope", s(("x", "int")))
    assert b.value.error_code == 40401
    with pytest.raises(e.VersionNotFound) as c:
        reg.get_version("t", "7")
    assert c.value.error_code == 40402
    with pytest.raises(e.InvalidVersion) as d:
        reg.get_version("t", "zero")
    assert d.value.error_code == 42202
    with pytest.raises(e.SchemaNotFound):
        reg.schema_by_id(99)


def test_soft_then_hard_delete_never_reuses_the_id() -> None:
    reg, log = make()
    sv = reg.register("t", s(("x", "int")))
    with pytest.raises(e.SubjectNotSoftDeleted) as hard_first:
        reg.delete_subject("t", permanent=True)
    assert hard_first.value.error_code == 40405
    assert reg.delete_subject("t", permanent=False) == [1]
    assert reg.state.subjects() == [] and reg.state.subjects(include_deleted=True) == ["t"]
    with pytest.raises(e.SubjectSoftDeleted):
        reg.delete_subject("t", permanent=False)
    assert reg.delete_subject("t", permanent=True) == [1]
    with pytest.raises(e.SubjectNotFound):
        reg.versions("t", include_deleted=True)
    # the schema is gone by id, and its id is never handed out again, even after a replay
    with pytest.raises(e.SchemaNotFound):
        reg.schema_by_id(sv.id)
    fresh = RegistryState()
    for key, value in log.records:
        fresh.apply(key, value)
    assert fresh.max_id == sv.id and fresh.schemas == {}
    again = reg.register("t", s(("x", "int")))
    assert again.id == sv.id + 1 and again.version == 1


def test_version_delete_codes() -> None:
    reg, _ = make()
    reg.register("t", s(("x", "int")))
    reg.register("t", s(("x", "int"), ("y", "int"), y=0))
    with pytest.raises(e.VersionNotSoftDeleted):
        reg.delete_version("t", "1", permanent=True)
    assert reg.delete_version("t", "1", permanent=False) == 1
    assert reg.versions("t") == [2]
    assert reg.versions("t", include_deleted=True) == [1, 2]
    with pytest.raises(e.VersionSoftDeleted) as again:
        reg.delete_version("t", "1", permanent=False)
    assert again.value.error_code == 40406
    with pytest.raises(e.VersionNotFound):
        reg.delete_version("t", "5", permanent=False)
    assert reg.delete_version("t", "1", permanent=True) == 1
    assert reg.versions("t", include_deleted=True) == [2]
    # a new version after deletes never reuses a live version number
    v3 = reg.register("t", s(("x", "int"), ("y", "int"), ("z", "int"), y=0, z=0))
    assert v3.version == 3


def test_config_levels() -> None:
    reg, _ = make()
    assert reg.state.level(None) is Level.BACKWARD
    with pytest.raises(e.SubjectConfigNotFound) as info:
        reg.subject_level("t", default_to_global=False)
    assert info.value.error_code == 40408
    assert reg.subject_level("t", default_to_global=True) is Level.BACKWARD
    assert reg.set_level("t", "none") is Level.NONE
    reg.register("t", s(("x", "int")))
    reg.register("t", s(("totally", "string")))  # NONE: anything goes
    with pytest.raises(e.InvalidCompatibilityLevel) as bad:
        reg.set_level(None, "SIDEWAYS")
    assert bad.value.error_code == 42203
    reg.set_level(None, "FULL")
    assert reg.state.level("other") is Level.FULL
    assert reg.delete_level("t") is Level.NONE
    assert reg.state.level("t") is Level.FULL


def test_test_compatibility() -> None:
    reg, _ = make()
    reg.register("t", s(("x", "int")))
    assert reg.test_compatibility("t", "latest", s(("x", "long"))) == []
    assert reg.test_compatibility("t", "1", s(("x", "string")))
    assert reg.test_compatibility("t", None, s(("x", "int"), ("y", "int"), y=1)) == []
    with pytest.raises(e.SubjectNotFound):
        reg.test_compatibility("nope", "latest", s(("x", "int")))


def test_replaying_the_log_rebuilds_identical_state() -> None:
    reg, log = make()
    reg.register("a", s(("x", "int")))
    reg.register("a", s(("x", "int"), ("y", "int"), y=0))
    reg.register("b", s(("q", "string")))
    reg.delete_version("a", "1", permanent=False)
    reg.set_level("b", "FORWARD")
    fresh = RegistryState()
    for key, value in log.records:
        fresh.apply(key, value)
    assert fresh.versions == reg.state.versions
    assert fresh.schemas == reg.state.schemas
    assert fresh.configs == reg.state.configs
    assert fresh.max_id == 3


def test_malformed_topic_records_are_skipped_not_fatal() -> None:
    state = RegistryState()
    state.apply(b"not json", b"{}")
    state.apply(b'{"keytype": "SCHEMA", "subject": "a"}', b"{}")  # no version
    state.apply(b'{"keytype": "WHAT"}', None)
    state.apply(None, b"{}")
    state.apply(
        b'{"keytype":"SCHEMA","subject":"a","version":1,"magic":1}',
        b'{"subject":"a","version":1,"id":5,"schema":"\\"int\\"","deleted":false}',
    )
    assert state.skipped == 4
    assert state.schemas == {5: '"int"'} and state.max_id == 5


@pytest.mark.parametrize(
    ("raw", "expected"), [("latest", None), ("-1", None), ("1", 1), ("2147483647", 2**31 - 1)]
)
def test_parse_version_ok(raw: str, expected: int | None) -> None:
    assert parse_version(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-2", "2147483648", "x", "1.5"])
def test_parse_version_bad(raw: str) -> None:
    with pytest.raises(e.InvalidVersion):
        parse_version(raw)


def test_canonical_form_ignores_layout_not_content() -> None:
    a = parse_avro('{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}')
    b = parse_avro(
        '{ "fields": [ {"type": {"type":"int"}, "name": "x"} ], "name": "R",\n  "type": "record" }'
    )
    c = parse_avro('{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":1}]}')
    assert a.canonical == b.canonical
    assert a.canonical != c.canonical
    assert parse_avro("string").canonical == parse_avro('"string"').canonical
