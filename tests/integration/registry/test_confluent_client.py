"""confluent-kafka's own SchemaRegistryClient and Avro serde against the embedded registry."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from fraudstream.kafka import consumer_config, producer_config
from fraudstream.serde.avro import AvroDecoder, AvroEncoder
from fraudstream.serde.registry_client import RegistryClient, confluent_client, value_subject
from fraudstream.serde.schemas import load_schema

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def record(*fields: tuple[str, str], **defaults: object) -> str:
    fs = []
    for name, t in fields:
        fd: dict[str, object] = {"name": name, "type": t}
        if name in defaults:
            fd["default"] = defaults[name]
        fs.append(fd)
    return json.dumps({"type": "record", "name": "Payment", "namespace": "t", "fields": fs})


def test_register_evolve_reject(schema_registry_url: str, unique_id: str) -> None:
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"pay-{unique_id}-value"
    v1 = client.register_schema(subject, Schema(record(("id", "long")), "AVRO"))
    assert client.register_schema(subject, Schema(record(("id", "long")), "AVRO")) == v1
    v2 = client.register_schema(
        subject, Schema(record(("id", "long"), ("amount", "double"), amount=0.0), "AVRO")
    )
    assert v2 != v1
    assert client.get_versions(subject) == [1, 2]
    latest = client.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (2, v2)
    assert subject in client.get_subjects()

    # BACKWARD (default): a new required field is rejected with Confluent's 409
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, Schema(record(("id", "long"), ("x", "int")), "AVRO"))
    assert info.value.http_status_code == 409 and info.value.error_code == 409
    assert client.get_versions(subject) == [1, 2]

    # compatibility test endpoint, then relax the subject and register anyway
    incompatible = Schema(record(("id", "string")), "AVRO")
    assert client.test_compatibility(subject, incompatible) is False
    assert client.test_compatibility(subject, Schema(record(("id", "long")), "AVRO")) is True
    assert client.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert client.get_compatibility(subject) == "NONE"
    v3 = client.register_schema(subject, incompatible)
    assert client.get_version(subject, 3).schema_id == v3

    # lookup, and ids are global: the same schema in another subject reuses the id
    assert client.lookup_schema(subject, Schema(record(("id", "long")), "AVRO")).version == 1
    assert (
        client.register_schema(f"other-{unique_id}", Schema(record(("id", "long")), "AVRO")) == v1
    )
    assert json.loads(client.get_schema(v2).schema_str or "")["fields"][1]["name"] == "amount"

    # soft delete a version, then the subject; a hard delete needs the soft one first
    assert client.delete_version(subject, 3) == 3
    assert client.get_versions(subject) == [1, 2]
    assert client.delete_subject(subject) == [1, 2]
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_versions(subject)
    assert gone.value.error_code == 40401
    assert client.delete_subject(subject, permanent=True) == [1, 2, 3]
    assert subject not in client.get_subjects(deleted=True)
    # v1 is still used by the other subject, so it stays reachable by id; v2 is gone
    assert client.get_schema(v1).schema_str
    with pytest.raises(SchemaRegistryError) as no_id:
        SchemaRegistryClient({"url": schema_registry_url}).get_schema(v2)
    assert no_id.value.error_code == 40403


def test_helpers(schema_registry_url: str, unique_id: str) -> None:
    """Our client and confluent-kafka's see the same registrations."""
    confluent = confluent_client(schema_registry_url)
    assert confluent_client(schema_registry_url) is confluent
    subject = value_subject(f"live-{unique_id}")
    with RegistryClient(schema_registry_url) as ours:
        sid = ours.register(subject, load_schema("live"))
        latest = ours.latest(subject)
        assert latest is not None and latest[0] == sid
        assert json.loads(latest[1]) == load_schema("live")
    got = confluent.get_latest_version(subject)
    assert got.schema_id == sid and json.loads(got.schema.schema_str) == load_schema("live")


def test_avro_serializer_round_trip_through_kafka(
    schema_registry_url: str,
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    unique_id: str,
) -> None:
    """Producer with AvroSerializer (topic strategy set explicitly), consumer with
    AvroDeserializer, and our decoder/encoder interoperating on the same bytes."""
    topic = topic_factory("reg-avro")
    client = SchemaRegistryClient({"url": schema_registry_url})
    schema = load_schema("score")
    serializer = AvroSerializer(
        client,
        json.dumps(schema),
        conf={
            "auto.register.schemas": True,
            # confluent-kafka >= 2.14 defaults to an association-based strategy; ksqlDB and
            # this project use <topic>-value, so say so explicitly.
            "subject.name.strategy": topic_subject_name_strategy,
        },
    )
    deserializer = AvroDeserializer(client)
    sample = _sample(schema)
    producer = Producer(producer_config(kafka_bootstrap))
    ctx = SerializationContext(topic, MessageField.VALUE)
    payloads = []
    for i in range(20):
        value = dict(sample)
        value["id"] = i
        data = serializer(value, ctx)
        assert data is not None
        payloads.append(data)
        producer.produce(topic, value=data)
    ours_client = RegistryClient(schema_registry_url)
    ours = AvroEncoder(ours_client, value_subject(topic), schema, auto_register=False)
    producer.produce(topic, value=ours.encode(sample))
    assert producer.flush(30) == 0

    # the subject the serializer used is <topic>-value
    assert client.get_latest_version(value_subject(topic)).schema_id == ours.schema_id

    consumer = Consumer(consumer_config(kafka_bootstrap, f"g-{unique_id}"))
    consumer.subscribe([topic])
    got = []
    try:
        while len(got) < 21:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            got.append(msg.value())
    finally:
        consumer.close()
    decoder = AvroDecoder(ours_client)
    for raw in got:
        assert deserializer(raw, ctx) == decoder.decode(raw)
    assert AvroDecoder(ours_client, logical_types=False).decode(got[-1]) == sample
    ours_client.close()


def _sample(schema: dict) -> dict:  # type: ignore[type-arg]
    """A value for every field of a flat schema (first non-null union branch)."""
    defaults = {"string": "s", "long": 1, "int": 1, "double": 0.5, "float": 0.5, "boolean": True}
    out = {}
    for f in schema["fields"]:
        t = f["type"]
        if isinstance(t, list):
            t = next(b for b in t if b != "null")
        if isinstance(t, dict):
            if t.get("type") == "array":
                out[f["name"]] = []
                continue
            if t.get("type") == "map":
                out[f["name"]] = {}
                continue
            if t.get("type") == "enum":
                out[f["name"]] = t["symbols"][0]
                continue
            t = t["type"]
        out[f["name"]] = defaults[t]
    return out


def test_services_read_schemas_instead_of_registering(
    schema_registry_url: str, unique_id: str
) -> None:
    """auto.register.schemas=False: lookup (POST /subjects/s) or use.latest.version."""
    client = SchemaRegistryClient({"url": schema_registry_url})
    topic = f"read-{unique_id}"
    schema = load_schema("alert")
    ctx = SerializationContext(topic, MessageField.VALUE)
    strategy = {"subject.name.strategy": topic_subject_name_strategy}
    lookup_only = AvroSerializer(
        client, json.dumps(schema), conf={"auto.register.schemas": False, **strategy}
    )
    with pytest.raises(Exception, match=r"40401|not found"):
        lookup_only(_sample(schema), ctx)  # nothing registered yet: refused, not registered
    assert value_subject(topic) not in client.get_subjects()

    with RegistryClient(schema_registry_url) as ours:
        sid = ours.register(value_subject(topic), schema)
    data = lookup_only(_sample(schema), ctx)
    assert data is not None and int.from_bytes(data[1:5], "big") == sid
    latest = AvroSerializer(
        client,
        None,
        conf={"auto.register.schemas": False, "use.latest.version": True, **strategy},
    )
    assert latest(_sample(schema), ctx) == data
