"""Writer schemas by id and output schema registration, over the Confluent REST API.

Deliberately tiny (httpx, two endpoints) so the slim scorer image needs no registry
package: `GET /schemas/ids/{id}` (cached forever, ids are immutable) and
`POST /subjects/{subject}/versions`. 404 means "no such schema" (a dead letter);
anything else that fails is transient (`RegistryUnavailableError`: retry the batch).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx

from fraudstream.scorer.errors import RecordError, ScorerError
from fraudstream.serde.errors import RegistryUnavailableError

log = logging.getLogger(__name__)


class SchemaSource:
    """Schema Registry client with an id -> schema cache."""

    miss_ttl_s = 30.0

    def __init__(
        self, url: str, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._cache: dict[int, dict[str, Any]] = {}
        self._missing: dict[int, float] = {}  # id -> when it was last not found
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def get(self, schema_id: int) -> dict[str, Any]:
        """The writer schema for `schema_id` (RecordError schema_not_found on 404)."""
        cached = self._cache.get(schema_id)
        if cached is not None:
            return cached
        missed = self._missing.get(schema_id)
        if missed is not None and time.monotonic() - missed < self.miss_ttl_s:
            raise RecordError("schema_not_found", f"schema id {schema_id} is not in the registry")
        with self._lock:
            try:
                resp = self._http.get(f"/schemas/ids/{schema_id}")
            except httpx.HTTPError as exc:
                raise RegistryUnavailableError(f"registry {self.url} unreachable: {exc}") from exc
            if resp.status_code == 404:
                # Remember a miss briefly so a burst of such records costs one request.
                self._missing[schema_id] = time.monotonic()
                raise RecordError(
                    "schema_not_found", f"schema id {schema_id} is not in the registry"
                )
            if resp.status_code != 200:
                raise RegistryUnavailableError(
                    f"registry {self.url} answered {resp.status_code} for schema id {schema_id}"
                )
            try:
                body = resp.json()
                schema = json.loads(body["schema"])
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordError(
                    "schema_not_found", f"schema id {schema_id}: unusable registry answer ({exc})"
                ) from exc
            stype = body.get("schemaType", "AVRO")
            if stype != "AVRO":
                raise RecordError("wrong_type", f"schema id {schema_id} is {stype}, not AVRO")
            if not isinstance(schema, dict):
                raise RecordError("wrong_type", f"schema id {schema_id} is not an Avro record")
            self._cache[schema_id] = schema
            return schema

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register `schema` under `subject` (idempotent) and return its id."""
        try:
            resp = self._http.post(
                f"/subjects/{subject}/versions",
                json={"schema": json.dumps(schema)},
                headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(f"registry {self.url} unreachable: {exc}") from exc
        if resp.status_code in (409, 422):  # incompatible / invalid: retrying cannot help
            raise ScorerError(
                f"registry {self.url} refused the {subject} schema: {resp.status_code} "
                f"{resp.text[:300]}"
            )
        if resp.status_code != 200:
            raise RegistryUnavailableError(
                f"registry {self.url} answered {resp.status_code} for {subject}: {resp.text[:300]}"
            )
        sid = int(resp.json()["id"])
        self._cache[sid] = schema
        return sid
