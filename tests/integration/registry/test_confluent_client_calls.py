"""The rest of confluent-kafka's `SchemaRegistryClient` calls the embedded registry serves.

test_confluent_client.py covers register/evolve/serde; this covers the config, mode, lookup
and listing calls, each as its documentation describes it.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import (
    ConfigCompatibilityLevel,
    Schema,
    SchemaRegistryClient,
    ServerConfig,
)
from confluent_kafka.schema_registry.error import SchemaRegistryError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def avro(*fields: tuple[str, str]) -> Schema:
    body = [{"name": n, "type": t, "default": 0} for n, t in fields]
    doc = {"type": "record", "name": "Row", "namespace": "t", "fields": body}
    return Schema(json.dumps(doc), "AVRO")


def test_listing_and_lookup_calls(schema_registry_url: str, unique_id: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"calls-{unique_id}-value"
    full = client.register_schema_full_response(subject, avro(("a", "int")))
    assert full.schema_id > 0
    second = client.register_schema(subject, avro(("a", "int"), ("b", "long")))

    assert "AVRO" in client.get_schema_types()
    assert client.get_subjects_by_schema_id(full.schema_id) == [subject]
    versions = client.get_schema_versions(second)
    assert [(v.subject, v.version) for v in versions] == [(subject, 2)]
    assert client.get_referenced_by(subject, 1) == []
    assert client.test_compatibility_all_versions(subject, avro(("a", "int"))) is True
    with pytest.raises(SchemaRegistryError) as info:
        client.get_version(subject, 99)
    assert (info.value.http_status_code, info.value.error_code) == (404, 40402)


def test_config_and_mode_calls(schema_registry_url: str, unique_id: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"cfg-{unique_id}-value"
    client.register_schema(subject, avro(("a", "int")))
    forward = ServerConfig(compatibility=ConfigCompatibilityLevel.FORWARD)
    assert client.set_config(subject, forward) == {"compatibility": "FORWARD"}
    assert client.get_config(subject).compatibility_level.value == "FORWARD"
    assert client.get_compatibility(subject) == "FORWARD"
    client.delete_config(subject)
    with pytest.raises(SchemaRegistryError) as info:
        client.get_config(subject)
    assert info.value.error_code == 40408
    assert client.get_config().compatibility_level.value == "BACKWARD"

    assert client.get_global_mode() == "READWRITE"
    assert client.get_mode(subject) == "READWRITE"
    assert client.get_contexts() == ["."]


def test_read_only_subject_mode_calls(schema_registry_url: str, unique_id: str) -> None:
    """update_mode READONLY: registering is refused with 42205, lookups keep working."""
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"ro-{unique_id}-value"
    schema = avro(("a", "int"))
    sid = client.register_schema(subject, schema)
    assert client.update_mode(subject, "READONLY") == "READONLY"
    assert client.get_mode(subject) == "READONLY"
    assert client.get_global_mode() == "READWRITE"  # only this subject
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, avro(("a", "int"), ("b", "long")))
    assert (info.value.http_status_code, info.value.error_code) == (422, 42205)
    assert client.lookup_schema(subject, schema).schema_id == sid
    with pytest.raises(SchemaRegistryError) as info:
        client.update_mode(subject, "IMPORT")
    assert info.value.error_code == 42204
    assert client.update_mode(subject, "READWRITE") == "READWRITE"
    client.register_schema(subject, avro(("a", "int"), ("b", "long")))
