"""Old home of the Avro schemas, now `fraudstream.serde.schemas`. Kept only until
`scorer/connect.py` (lane plumb-kafka) imports the new path; do not use."""

from __future__ import annotations

from fraudstream.serde.schemas import SCHEMA_NAMES, load_schema, parsed_schema

__all__ = ["SCHEMA_NAMES", "load_schema", "parsed_schema"]
