"""Serialization: Confluent-framed Avro (`serde.avro`) and raw JSON events (`serde.jsonevents`)."""

from __future__ import annotations

__all__: list[str] = []
