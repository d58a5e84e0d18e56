"""Serialization: Confluent-framed Avro (`serde.avro`) and raw JSON events (`serde.jsonevents`)."""
