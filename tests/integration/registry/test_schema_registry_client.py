"""python-schema-registry-client (marcosschroh), a client nobody here wrote, against the registry.

Each documented call of its `SchemaRegistryClient`, its async twin and its Avro serializer.
`get_compatibility()` / `update_compatibility()` without a subject ask `/config/` with a
trailing slash, which Confluent's registry treats as `/config`.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from schema_registry.client import AsyncSchemaRegistryClient, SchemaRegistryClient, schema
from schema_registry.client.errors import ClientError
from schema_registry.serializers import AvroMessageSerializer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def payment(*extra: dict[str, object]) -> schema.AvroSchema:
    fields = [{"name": "id", "type": "long"}, *extra]
    return schema.AvroSchema(
        {"type": "record", "name": "Payment", "namespace": "t", "fields": fields}
    )


def test_documented_calls(schema_registry_url: str, unique_id: str) -> None:
    client = SchemaRegistryClient(url=schema_registry_url)
    subject = f"psrc-{unique_id}-value"
    v1 = payment()
    first = client.register(subject, v1)
    assert client.register(subject, v1) == first  # cached, and idempotent on the server
    fresh = SchemaRegistryClient(url=schema_registry_url)
    assert fresh.register(subject, v1) == first  # check_version finds it

    v2 = payment({"name": "amount", "type": "double", "default": 0.0})
    second = client.register(subject, v2)
    assert second != first
    assert subject in client.get_subjects()
    assert client.get_versions(subject) == [1, 2]

    latest = client.get_schema(subject)
    assert (latest.schema_id, latest.version) == (second, 2)
    assert latest.schema.raw_schema == v2.raw_schema
    assert client.get_schema(subject, version=1).schema_id == first
    assert client.get_by_id(first).raw_schema == v1.raw_schema
    uses = client.get_schema_subject_versions(second)
    assert [(u.subject, u.version) for u in uses] == [(subject, 2)]
    found = fresh.check_version(subject, v2)
    assert found is not None and (found.schema_id, found.version) == (second, 2)
    assert fresh.check_version(subject, payment({"name": "x", "type": "int"})) is None

    # compatibility: the default BACKWARD refuses a new required field
    breaking = payment({"name": "must", "type": "int"})
    assert client.test_compatibility(subject, breaking) is False
    verbose = client.test_compatibility(subject, breaking, verbose=True)
    assert verbose["is_compatible"] is False and verbose["messages"]
    assert client.test_compatibility(subject, v2, version=2) is True
    with pytest.raises(ClientError) as info:
        client.register(subject, breaking)
    assert info.value.http_code == 409

    assert client.get_compatibility() == "BACKWARD"  # GET /config/ (trailing slash)
    assert client.update_compatibility("NONE", subject=subject) is True
    assert client.get_compatibility(subject=subject) == "NONE"
    assert isinstance(client.register(subject, breaking), int)

    assert client.delete_version(subject, 3) == 3
    assert client.get_versions(subject) == [1, 2]
    assert client.delete_subject(subject) == [1, 2]
    assert subject not in client.get_subjects()
    assert client.get_by_id(10**9) is None  # unknown ids are None, not an error


def test_global_level_through_the_trailing_slash(schema_registry_url: str) -> None:
    client = SchemaRegistryClient(url=schema_registry_url)
    before = client.get_compatibility()
    try:
        assert client.update_compatibility("FULL") is True  # PUT /config/
        assert client.get_compatibility() == "FULL"
    finally:
        client.update_compatibility(before)
    assert client.get_compatibility() == before


def test_async_client_and_avro_serializer(schema_registry_url: str, unique_id: str) -> None:
    subject = f"psrc-async-{unique_id}-value"

    async def run() -> tuple[int, list[int]]:
        client = AsyncSchemaRegistryClient(url=schema_registry_url)
        schema_id = await client.register(subject, payment())
        return schema_id, await client.get_versions(subject)

    schema_id, versions = asyncio.run(run())
    assert versions == [1]

    serializer = AvroMessageSerializer(SchemaRegistryClient(url=schema_registry_url))
    wire = serializer.encode_record_with_schema(subject, payment(), {"id": 42})
    assert wire[0] == 0 and int.from_bytes(wire[1:5], "big") == schema_id
    assert serializer.decode_message(wire) == {"id": 42}
    # and the embedded registry stored the schema it was given
    stored = SchemaRegistryClient(url=schema_registry_url).get_by_id(schema_id)
    assert json.loads(json.dumps(stored.raw_schema)) == payment().raw_schema
