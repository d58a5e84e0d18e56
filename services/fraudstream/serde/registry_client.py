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

Security (issue 14): `RegistryConfig.from_env()` reads `FRAUDSTREAM_REGISTRY_*` (basic auth
user info, a bearer token, TLS CA / client certificate, `READ_ONLY`); a `RegistryClient`
built from a URL string gets them too. Credentials never reach an error message or a log
line (`RegistryConfig`'s repr hides them; user info in the URL is moved into the header).
In read-only mode `ensure` looks the pre-registered schema up instead of registering it
(`fraudstream registry register` registers them in the deploy pipeline); a write the
registry refuses (401/403, or 42205 from a registry in READONLY mode) is one line that
says what to do.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from fraudstream.config import (
    FraudstreamSettings,
    load_cert_chain,
    load_settings,
    readable_file,
    secret_file,
    settings_config,
)
from fraudstream.errors import ConfigError
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
    "READ_ONLY_VAR",
    "RegistryClient",
    "RegistryClientSettings",
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


log = logging.getLogger(__name__)

_PREFIX = "FRAUDSTREAM_REGISTRY_"
READ_ONLY_VAR = f"{_PREFIX}READ_ONLY"
# Confluent's OperationNotPermittedException: a write to a subject in READONLY mode.
_READ_ONLY_CODE = 42205


def _secret(value: SecretStr | None, path: Path | None) -> SecretStr | None:
    if path is not None:
        return SecretStr(secret_file(path))
    return value


class RegistryClientSettings(FraudstreamSettings):
    """`FRAUDSTREAM_REGISTRY_*` of registry clients, named after confluent-kafka's
    `SchemaRegistryClient` config (`basic.auth.user.info`, `bearer.auth.token`, `ssl.*`)."""

    model_config = settings_config("REGISTRY_")

    basic_auth_user_info: SecretStr | None = Field(
        None, description="'user:password' for HTTP basic auth (Confluent Cloud: key:secret)."
    )
    basic_auth_user_info_file: Path | None = Field(
        None, description="File holding user:password (a Kubernetes secret mount)."
    )
    bearer_auth_token: SecretStr | None = Field(None, description="Static bearer token.")
    bearer_auth_token_file: Path | None = Field(None, description="File holding the token.")
    bearer_auth_logical_cluster: str | None = Field(
        None, description="Confluent Cloud: the registry's logical cluster (lsrc-...)."
    )
    bearer_auth_identity_pool_id: str | None = Field(
        None, description="Confluent Cloud: the identity pool of the token."
    )
    ssl_ca_location: Path | None = Field(None, description="PEM CA bundle of an https registry.")
    ssl_certificate_location: Path | None = Field(None, description="PEM client certificate.")
    ssl_key_location: Path | None = Field(None, description="PEM key of that certificate.")
    read_only: bool = Field(
        False,
        description="Never register: look the (pre-registered) schemas up; register them "
        "with `fraudstream registry register` in the deploy pipeline.",
    )

    @field_validator(
        "basic_auth_user_info_file",
        "bearer_auth_token_file",
        "ssl_ca_location",
        "ssl_certificate_location",
        "ssl_key_location",
    )
    @classmethod
    def _file_readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)


@dataclass(frozen=True)
class RegistryConfig:
    """How to reach the registry: URL, timeouts, credentials, TLS, read-only mode."""

    url: str = "http://127.0.0.1:8081"
    timeout_s: float = 5.0
    miss_ttl_s: float = 30.0  # how long an unknown schema id is answered from cache
    user_info: SecretStr | None = field(default=None, repr=False)
    bearer_token: SecretStr | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.username is not None or parts.password is not None:
            # basic.auth.credentials.source=URL: keep the credentials out of every message
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            if parts.port is not None:
                netloc += f":{parts.port}"
            object.__setattr__(self, "url", urlunsplit(parts._replace(netloc=netloc)))
            if self.user_info is None:
                user = parts.username or ""
                object.__setattr__(self, "user_info", SecretStr(f"{user}:{parts.password or ''}"))
        if self.user_info is not None and self.bearer_token is not None:
            raise ConfigError(
                f"{_PREFIX}BASIC_AUTH_USER_INFO and {_PREFIX}BEARER_AUTH_TOKEN: set one, not both"
            )
        if self.user_info is not None and ":" not in self.user_info.get_secret_value():
            raise ConfigError(f"{_PREFIX}BASIC_AUTH_USER_INFO: expected user:password")
        if (self.cert_file is None) != (self.key_file is None) and self.key_file is not None:
            raise ConfigError(f"{_PREFIX}SSL_KEY_LOCATION: needs {_PREFIX}SSL_CERTIFICATE_LOCATION")

    @classmethod
    def from_env(cls, url: str | None = None, **overrides: Any) -> RegistryConfig:
        """The config of `url` (default FRAUDSTREAM_REGISTRY_URL) with the security of
        `FRAUDSTREAM_REGISTRY_*`; ConfigError naming the variable when one is bad."""
        s = load_settings(RegistryClientSettings)
        if url is None:
            from fraudstream.config import get_settings

            url = get_settings().registry_url
        headers: list[tuple[str, str]] = []
        if s.bearer_auth_logical_cluster:
            headers.append(("target-sr-cluster", s.bearer_auth_logical_cluster))
        if s.bearer_auth_identity_pool_id:
            headers.append(("Confluent-Identity-Pool-Id", s.bearer_auth_identity_pool_id))
        return replace(
            cls(
                url=url,
                user_info=_secret(s.basic_auth_user_info, s.basic_auth_user_info_file),
                bearer_token=_secret(s.bearer_auth_token, s.bearer_auth_token_file),
                headers=tuple(headers),
                ca_file=s.ssl_ca_location,
                cert_file=s.ssl_certificate_location,
                key_file=s.ssl_key_location,
                read_only=s.read_only,
            ),
            **overrides,
        )

    def base_url(self) -> str:
        return self.url.rstrip("/")

    def http_kwargs(self) -> dict[str, Any]:
        """httpx.Client arguments: auth, headers, TLS verification and client certificate."""
        kwargs: dict[str, Any] = {}
        headers = dict(self.headers)
        if self.user_info is not None:
            user, _, password = self.user_info.get_secret_value().partition(":")
            kwargs["auth"] = httpx.BasicAuth(user, password)
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.get_secret_value()}"
        if headers:
            kwargs["headers"] = headers
        if self.ca_file is not None or self.cert_file is not None:
            ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file is not None:
                load_cert_chain(
                    ctx, self.cert_file, self.key_file, None, f"{_PREFIX}SSL_CERTIFICATE_LOCATION"
                )
            kwargs["verify"] = ctx
        return kwargs

    def confluent_conf(self) -> dict[str, Any]:
        """The same settings as confluent-kafka's `SchemaRegistryClient` config."""
        conf: dict[str, Any] = {"url": self.base_url()}
        if self.user_info is not None:
            conf["basic.auth.user.info"] = self.user_info.get_secret_value()
        if self.bearer_token is not None:
            conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
            conf["bearer.auth.token"] = self.bearer_token.get_secret_value()
            hdr = dict(self.headers)
            conf["bearer.auth.logical.cluster"] = hdr.get("target-sr-cluster", "")
            conf["bearer.auth.identity.pool.id"] = hdr.get("Confluent-Identity-Pool-Id", "")
        if self.ca_file is not None:
            conf["ssl.ca.location"] = str(self.ca_file)
        if self.cert_file is not None:
            conf["ssl.certificate.location"] = str(self.cert_file)
        if self.key_file is not None:
            conf["ssl.key.location"] = str(self.key_file)
        return conf


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
        self.config = RegistryConfig.from_env(config) if isinstance(config, str) else config
        self.url = self.config.base_url()
        self.miss_ttl_s = self.config.miss_ttl_s
        self._http = http or httpx.Client(
            timeout=self.config.timeout_s, transport=transport, **self.config.http_kwargs()
        )
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
        hint = ""
        if resp.status_code == 401:
            hint = f": set {_PREFIX}BASIC_AUTH_USER_INFO or {_PREFIX}BEARER_AUTH_TOKEN" + (
                " (the credentials given were refused)" if self._has_credentials() else ""
            )
        return RegistryRefusedError(
            f"registry {self.url} refused {what}: {resp.status_code} {message}"
            + (f" (error_code {code})" if code else "")
            + hint,
            status=resp.status_code,
            error_code=code,
        )

    def _has_credentials(self) -> bool:
        return self.config.user_info is not None or self.config.bearer_token is not None

    @staticmethod
    def _write_refused(exc: RegistryRefusedError) -> bool:
        """A refusal to write as such (read-only mode, a user without write access)."""
        return exc.error_code == _READ_ONLY_CODE or exc.status == 403

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
            exc = self._refused(resp, f"to register the {subject} schema")
            if self._write_refused(exc):
                code, message = _error_detail(resp)
                raise RegistryRefusedError(
                    f"registry {self.url} refused to register the {subject} schema "
                    f"({resp.status_code}{f' {code}' if code else ''}: {message}): register it "
                    f"with `fraudstream registry register` (write credentials) and set "
                    f"{READ_ONLY_VAR}=true",
                    status=exc.status,
                    error_code=exc.error_code,
                ) from None
            raise exc
        schema_id = self._id_of(resp, subject)
        with self._lock:
            self._registered[key] = schema_id
            self._texts.setdefault(schema_id, text)
        return schema_id

    def ensure(self, subject: str, schema: dict[str, Any] | list[Any] | str) -> int:
        """The id of `schema` under `subject`: registered unless the client is read-only,
        looked up (pre-registered) otherwise, or when the registry refuses the write."""
        if not self.config.read_only:
            try:
                return self.register(subject, schema)
            except RegistryRefusedError as exc:
                if not self._write_refused(exc):
                    raise
                log.warning("%s; using the pre-registered schema", exc)
                refused: RegistryRefusedError | None = exc
        else:
            refused = None
        try:
            return self.lookup(subject, schema)
        except SchemaNotFoundError:
            why = str(refused) if refused else f"{READ_ONLY_VAR} is set"
            raise RegistryRefusedError(
                f"the {subject} schema is not registered at {self.url} and {why.rstrip('.')}"
                + ("" if refused else ": run `fraudstream registry register` first"),
                status=404,
                error_code=40403,
            ) from None

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


def confluent_client(url: str) -> SchemaRegistryClient:
    """confluent-kafka's `SchemaRegistryClient` for `url` with the security of
    `FRAUDSTREAM_REGISTRY_*`, one per URL and settings process-wide, for the confluent-kafka
    APIs that need one (its Avro serializers, interop tests); imported on first use so the
    slim scorer image never loads the registry package."""
    conf = RegistryConfig.from_env(url).confluent_conf()
    return _confluent_client(tuple(sorted(conf.items())))


@lru_cache(maxsize=32)
def _confluent_client(conf: tuple[tuple[str, Any], ...]) -> SchemaRegistryClient:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient(dict(conf))
