"""The project's one Schema Registry client: an id -> schema cache, register, subject names.

Every product call to a Confluent-compatible registry goes through `RegistryClient`
(httpx, a handful of REST endpoints, no registry package needed in the slim scorer image),
so how the registry is reached (URL, timeout; later auth, TLS and a read-only mode: issue
14) is one `RegistryConfig` passed in here, and how its answers map to errors is decided
once (issue 21):

- 404 on a schema id -> `SchemaNotFoundError` (a record-level failure: dead-letter it);
  misses are remembered for `miss_ttl_s` so a burst of such records costs one request.
- transport errors and 5xx -> `RegistryUnavailableError` (transient: retry the batch).
- other 4xx (incompatible, invalid, no such subject) -> `RegistryRefusedError`.

Code that must hand confluent-kafka's own `SchemaRegistryClient` to confluent-kafka APIs
(its Avro serializers, interop tests) gets it from `confluent_client`, also here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from fraudstream.serde.errors import (
    RegistryRefusedError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    WrongTypeError,
)

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = [
    "CONTENT_TYPE",
    "RegistryClient",
    "RegistryConfig",
    "confluent_client",
    "key_subject",
    "value_subject",
]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def value_subject(topic: str) -> str:
    """`<topic>-value`: Confluent's TopicNameStrategy, the names ksqlDB registers."""
    return f"{topic}-value"


def key_subject(topic: str) -> str:
    """`<topic>-key`: the subject of a topic's key schema."""
    return f"{topic}-key"


@dataclass(frozen=True)
class RegistryConfig:
    """How to reach the registry. Issue 14 adds credentials, TLS and `read_only` here."""

    url: str = "http://127.0.0.1:8081"
    timeout_s: float = 5.0
    miss_ttl_s: float = 30.0  # how long an unknown schema id is answered from cache

    def base_url(self) -> str:
        return self.url.rstrip("/")


def _schema_text(schema: dict[str, Any] | list[Any] | str) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema)


def _error_detail(resp: httpx.Response) -> tuple[int, str]:
    """(error_code, message) of a Confluent error body (0 and the raw text if it is not one)."""
    try:
        body = resp.json()
    except ValueError:
        return 0, resp.text[:300]
    if isinstance(body, dict):
        return int(body.get("error_code") or 0), str(body.get("message", ""))[:300]
    return 0, resp.text[:300]


class RegistryClient:
    """Confluent Schema Registry REST client with the project's one id -> schema cache.

    Schemas by id are immutable, so texts are cached forever; registrations are cached by
    (subject, text). Thread-safe: the scorer's loop and its HTTP threads share one client.
    """

    def __init__(
        self,
        config: RegistryConfig | str,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = RegistryConfig(config) if isinstance(config, str) else config
        self.url = self.config.base_url()
        self.miss_ttl_s = self.config.miss_ttl_s
        self._http = http or httpx.Client(timeout=self.config.timeout_s, transport=transport)
        self._texts: dict[int, str] = {}
        self._parsed: dict[int, dict[str, Any]] = {}
        self._missing: dict[int, float] = {}  # id -> when it was last not found
        self._registered: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------
    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, f"{self.url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(f"registry {self.url} unreachable: {exc}") from exc
        if resp.status_code >= 500:
            code, message = _error_detail(resp)
            raise RegistryUnavailableError(
                f"registry {self.url} answered {resp.status_code} for {what}: {message}"
                + (f" (error_code {code})" if code else "")
            )
        return resp

    def _refused(self, resp: httpx.Response, what: str) -> RegistryRefusedError:
        code, message = _error_detail(resp)
        return RegistryRefusedError(
            f"registry {self.url} refused {what}: {resp.status_code} {message}"
            + (f" (error_code {code})" if code else ""),
            status=resp.status_code,
            error_code=code,
        )

    # -- schemas by id ---------------------------------------------------------------
    def schema_text(self, schema_id: int) -> str:
        """The schema text registered under `schema_id` (SchemaNotFoundError on 404)."""
        text = self._texts.get(schema_id)
        if text is not None:
            return text
        missed = self._missing.get(schema_id)
        if missed is not None and time.monotonic() - missed < self.miss_ttl_s:
            raise SchemaNotFoundError(f"schema id {schema_id} is not in the registry")
        with self._lock:
            text = self._texts.get(schema_id)
            if text is not None:
                return text
            resp = self._request("GET", f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
            if resp.status_code == 404:
                self._missing[schema_id] = time.monotonic()
                raise SchemaNotFoundError(f"schema id {schema_id} is not in the registry")
            if resp.status_code != 200:
                raise self._refused(resp, f"schema id {schema_id}")
            try:
                body = resp.json()
                text = str(body["schema"])
            except (ValueError, KeyError, TypeError) as exc:
                raise SchemaNotFoundError(
                    f"schema id {schema_id}: unusable registry answer ({exc})"
                ) from exc
            stype = body.get("schemaType", "AVRO") or "AVRO"
            if stype != "AVRO":
                raise WrongTypeError(f"schema id {schema_id} is {stype}, not AVRO")
            self._texts[schema_id] = text
            self._missing.pop(schema_id, None)
            return text

    def schema(self, schema_id: int) -> dict[str, Any]:
        """The Avro schema of `schema_id` as a dict (a named type; WrongTypeError if it is a
        bare primitive or union, which no record decoder can use)."""
        parsed = self._parsed.get(schema_id)
        if parsed is not None:
            return parsed
        text = self.schema_text(schema_id)
        try:
            schema = json.loads(text)
        except ValueError as exc:
            raise SchemaNotFoundError(
                f"schema id {schema_id}: unusable registry answer ({exc})"
            ) from exc
        if not isinstance(schema, dict):
            raise WrongTypeError(f"schema id {schema_id} is not an Avro record")
        self._parsed[schema_id] = schema
        return schema

    # -- subjects --------------------------------------------------------------------
    def register(self, subject: str, schema: dict[str, Any] | list[Any] | str) -> int:
        """Register `schema` under `subject` (idempotent on the registry) and return its id."""
        text = _schema_text(schema)
        key = (subject, text)
        cached = self._registered.get(key)
        if cached is not None:
            return cached
        resp = self._request(
            "POST",
            f"/subjects/{subject}/versions",
            f"registering {subject}",
            content=json.dumps({"schema": text}).encode(),
            headers={"Content-Type": CONTENT_TYPE},
        )
        if resp.status_code != 200:
            raise self._refused(resp, f"the {subject} schema")
        schema_id = self._id_of(resp, subject)
        with self._lock:
            self._registered[key] = schema_id
            self._texts.setdefault(schema_id, text)
        return schema_id

    def lookup(self, subject: str, schema: dict[str, Any] | list[Any] | str) -> int:
        """The id `schema` has under `subject`, without registering it (SchemaNotFoundError
        when it is not registered there)."""
        text = _schema_text(schema)
        resp = self._request(
            "POST",
            f"/subjects/{subject}",
            f"looking up {subject}",
            content=json.dumps({"schema": text}).encode(),
            headers={"Content-Type": CONTENT_TYPE},
        )
        if resp.status_code == 404:
            _, message = _error_detail(resp)
            raise SchemaNotFoundError(f"schema is not registered under {subject}: {message}")
        if resp.status_code != 200:
            raise self._refused(resp, f"looking up {subject}")
        return self._id_of(resp, subject)

    def latest(self, subject: str) -> tuple[int, str] | None:
        """(id, schema text) of the latest version of `subject`; None when it has none."""
        resp = self._request(
            "GET", f"/subjects/{subject}/versions/latest", f"latest schema of {subject}"
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._refused(resp, f"latest schema of {subject}")
        schema_id = self._id_of(resp, subject)
        text = str(resp.json().get("schema", ""))
        self._texts.setdefault(schema_id, text)
        return schema_id, text

    def subjects(self) -> list[str]:
        """Every live subject."""
        resp = self._request("GET", "/subjects", "listing subjects")
        if resp.status_code != 200:
            raise self._refused(resp, "listing subjects")
        return [str(s) for s in resp.json()]

    def versions(self, subject: str) -> list[int]:
        """The live versions of `subject` (RegistryRefusedError when there is none)."""
        resp = self._request("GET", f"/subjects/{subject}/versions", f"versions of {subject}")
        if resp.status_code != 200:
            raise self._refused(resp, f"versions of {subject}")
        return [int(v) for v in resp.json()]

    def _id_of(self, resp: httpx.Response, subject: str) -> int:
        try:
            return int(resp.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryUnavailableError(
                f"registry {self.url} answered without an id for {subject}: {resp.text[:300]}"
            ) from exc


@lru_cache(maxsize=32)
def confluent_client(url: str) -> SchemaRegistryClient:
    """confluent-kafka's `SchemaRegistryClient` for `url`, one per URL process-wide, for the
    confluent-kafka APIs that need one (its Avro serializers, interop tests); imported on
    first use so the slim scorer image never loads the registry package."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url})
