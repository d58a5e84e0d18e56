"""The engine's `SchemaRegistryLike` over the project's one registry client.

The engine only needs three calls (register, schema text by id, latest by subject);
`fraudstream.serde.registry_client.RegistryClient` does them (and caches what never
changes: a schema id's text, and the id a (subject, schema) pair was registered under).
This adapter only translates a schema id the registry does not know into a `RegistryError`,
which is what the engine reports.
"""

from __future__ import annotations

from fraudstream.errors import RegistryError
from fraudstream.serde.errors import SerdeFailure
from fraudstream.serde.registry_client import RegistryClient

__all__ = ["RegistryAdapter"]


class RegistryAdapter:
    """SchemaRegistryLike: `register`, `get_schema`, `get_latest` with caching."""

    def __init__(self, url: str | None = None, *, client: RegistryClient | None = None) -> None:
        if client is None and url is None:
            raise ValueError("RegistryAdapter needs a url or a client")
        self._client = client if client is not None else RegistryClient(str(url))
        self.url = url

    def register(self, subject: str, schema_str: str) -> int:
        return self._client.register(subject, schema_str)

    def get_schema(self, schema_id: int) -> str:
        try:
            return self._client.schema_text(schema_id)
        except SerdeFailure as exc:
            raise RegistryError(f"schema id {schema_id}: {exc}") from exc

    def get_latest(self, subject: str) -> tuple[int, str] | None:
        return self._client.latest(subject)
