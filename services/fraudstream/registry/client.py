"""Compatibility name for `fraudstream.serde.registry_client` (removed once lane ksql's
registry adapter imports the serde client directly)."""

from __future__ import annotations

from fraudstream.serde.registry_client import confluent_client as registry_client

__all__ = ["registry_client"]
