"""The scorer's name for `fraudstream.serde.registry_client.RegistryClient`, kept until
`scorer/service.py` imports the serde client directly."""

from __future__ import annotations

from fraudstream.serde.registry_client import RegistryClient as SchemaSource

__all__ = ["SchemaSource"]
