"""Registry-only settings (`FRAUDSTREAM_REGISTRY_*`); shared ones come from `get_settings()`."""

from __future__ import annotations

from pydantic import Field

from fraudstream.config import FraudstreamSettings, settings_config

__all__ = [
    "RegistrySettings",
]


class RegistrySettings(FraudstreamSettings):
    model_config = settings_config("REGISTRY_")

    topic: str = Field("_schemas", description="Compacted topic that stores every schema.")
    startup_timeout_s: float = Field(
        60.0, gt=0, description="Max seconds to reach the broker and read the topic to its end."
    )
    write_timeout_s: float = Field(
        30.0, gt=0, description="Max seconds to write a record and read it back (else 50002)."
    )
