"""Decoder limits, checked before anything is allocated for a record.

A record's size is checked before it is parsed, a string's before it is copied. Collections
and nesting need no counter: the only writer schemas decoded are flat (every field a
primitive or a union of primitives; anything else is refused as `unexpected_schema`), so an
accepted Avro record holds no collection and nests one level; JSON events are bounded by
`max_record_bytes` and orjson's own depth limit (1024).

The limits are settings (`FRAUDSTREAM_DECODE_MAX_RECORD_BYTES`,
`FRAUDSTREAM_DECODE_MAX_STRING_BYTES`): `decode_limits()` reads them; a decoder built
without explicit limits uses it. Each refusal names its limit (`LIMITS`), which the scorer
counts (`fraudstream_decode_refusals_total{limit}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from fraudstream.config import FraudstreamSettings, load_settings, settings_config

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "LIMITS",
    "DecodeLimits",
    "DecodeLimitsSettings",
    "Limit",
    "decode_limits",
]

Limit = Literal["record_bytes", "string_bytes", "unexpected_schema"]
LIMITS: tuple[Limit, ...] = ("record_bytes", "string_bytes", "unexpected_schema")

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


class DecodeLimitsSettings(FraudstreamSettings):
    """`FRAUDSTREAM_DECODE_*`: the limits every decoder of the process enforces."""

    model_config = settings_config("DECODE_")

    max_record_bytes: int = Field(
        1_000_000, ge=64, description="Largest record value decoded (bytes); larger: refused."
    )
    max_string_bytes: int = Field(
        65_536, ge=1, description="Largest string field kept (bytes); longer: refused."
    )


def decode_limits(**overrides: Any) -> DecodeLimits:
    """The limits from the environment (ConfigError naming a bad variable)."""
    s = load_settings(DecodeLimitsSettings, **overrides)
    return DecodeLimits(max_record_bytes=s.max_record_bytes, max_string_bytes=s.max_string_bytes)
