"""The Confluent wire header as the engine reads and writes it: through `serde.wire`, the
one place in the project that knows its layout. A record without it gets ksqlDB's
message ("Unknown magic byte!")."""

from __future__ import annotations

from fraudstream.errors import SerdeError
from fraudstream.serde import wire

__all__ = ["confluent_header", "read_confluent_header"]


def confluent_header(schema_id: int) -> bytes:
    return wire.header(schema_id)


def read_confluent_header(data: bytes) -> tuple[int, int]:
    """(schema id, offset of the payload) of a framed record."""
    schema_id = wire.schema_id_of(data)
    if schema_id is None:
        raise SerdeError("Unknown magic byte!")
    return schema_id, wire.HEADER_SIZE
