"""Decoder limits, checked before anything is allocated for a record.

A record's size is checked before it is parsed, a string's before it is copied. Collections
and nesting need no counter: the only writer schemas decoded are flat (every field a
primitive or a union of primitives; anything else is refused as `unexpected_schema`), so an
accepted Avro record holds no collection and nests one level; JSON events are bounded by
`max_record_bytes` and orjson's own depth limit (1024).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INT64_MAX", "INT64_MIN", "DecodeLimits"]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@dataclass(frozen=True)
class DecodeLimits:
    """Largest record value and string a decoder accepts (bytes)."""

    max_record_bytes: int = 1_000_000
    max_string_bytes: int = 65_536

    def __post_init__(self) -> None:
        if self.max_record_bytes < 1 or self.max_string_bytes < 1:
            raise ValueError("decode limits must be positive")
