"""`FRAUDSTREAM_KAFKA_*` client security: SASL and TLS for every Kafka client of the project.

Every producer, consumer and admin client gets its config from `kafka/clients.py`, which
adds `kafka_security().librdkafka()`; so the producer, the KSQL runtime, the registry's
storage, the trainer, the scorer, the admin helpers and the live view all reach a secured
cluster with one set of variables (docs/security.md, "Kafka clients"):

- `SECURITY_PROTOCOL` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `SASL_MECHANISM` (PLAIN,
  SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER), `SASL_USERNAME` + `SASL_PASSWORD[_FILE]`;
- OAUTHBEARER with OIDC client credentials, as librdkafka does it (`sasl.oauthbearer.*`);
- `SSL_CA_LOCATION`, `SSL_CERTIFICATE_LOCATION`, `SSL_KEY_LOCATION`, `SSL_KEY_PASSWORD[_FILE]`,
  `SSL_ENDPOINT_IDENTIFICATION_ALGORITHM` (https, none);
- `CONFIG_FILE`: a Java-properties client config (Confluent Cloud's client.properties, a
  `--command-config` file); the variables above override it.

Secrets are `SecretStr` or files (Kubernetes secret mounts) and never reach a log line, an
error message, a metric or a `repr`. Bad settings fail when the first client is built, with
one line naming the variable (a `ConfigError`), not a librdkafka stack of lines.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from fraudstream.config import (
    FraudstreamSettings,
    load_settings,
    readable_file,
    secret_file,
    settings_config,
)
from fraudstream.errors import ConfigError
from fraudstream.kafka.javaprops import read_properties

__all__ = [
    "KAFKA_ENV_PREFIX",
    "PROTOCOLS",
    "SASL_MECHANISMS",
    "SECRET_KEYS",
    "KafkaSecurity",
    "KafkaSecuritySettings",
    "kafka_security",
]

log = logging.getLogger(__name__)

KAFKA_ENV_PREFIX = "FRAUDSTREAM_KAFKA_"
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
# librdkafka properties whose values are secrets: never logged, never in an error.
SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "ssl.key.pem",
        "sasl.jaas.config",
    }
)
# Java-client keys that librdkafka does not know and that carry nothing it needs.
_JAVA_ONLY = frozenset(
    {
        "bootstrap.servers",  # FRAUDSTREAM_KAFKA_BOOTSTRAP says where the cluster is
        "sasl.login.callback.handler.class",
        "sasl.client.callback.handler.class",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.truststore.type",
        "ssl.keystore.type",
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
    }
)
_JAVA_ONLY_PREFIXES = ("schema.registry.", "basic.auth.", "bearer.auth.")
_CONFIG_FILE_VAR = f"{KAFKA_ENV_PREFIX}CONFIG_FILE"


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class KafkaSecuritySettings(FraudstreamSettings):
    """The variables (`FRAUDSTREAM_KAFKA_<FIELD>`); `kafka_security()` resolves them."""

    model_config = settings_config("KAFKA_")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        None, description="security.protocol (default PLAINTEXT, or the config file's)."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = (
        Field(None, description="sasl.mechanism; required with SASL_* protocols.")
    )
    sasl_username: str | None = Field(None, description="sasl.username (PLAIN, SCRAM).")
    sasl_password: SecretStr | None = Field(None, description="sasl.password.")
    sasl_password_file: Path | None = Field(
        None, description="File holding sasl.password (a Kubernetes secret mount)."
    )
    sasl_oauthbearer_token_endpoint_url: str | None = Field(
        None, description="OIDC token endpoint: OAUTHBEARER with client credentials."
    )
    sasl_oauthbearer_client_id: str | None = Field(None, description="OIDC client id.")
    sasl_oauthbearer_client_secret: SecretStr | None = Field(
        None, description="OIDC client secret."
    )
    sasl_oauthbearer_client_secret_file: Path | None = Field(
        None, description="File holding the OIDC client secret."
    )
    sasl_oauthbearer_scope: str | None = Field(None, description="OIDC scope.")
    sasl_oauthbearer_extensions: str | None = Field(
        None, description="SASL extensions (key=value,...), e.g. Confluent Cloud's logicalCluster."
    )
    ssl_ca_location: Path | None = Field(None, description="PEM CA bundle of the brokers.")
    ssl_certificate_location: Path | None = Field(
        None, description="PEM client certificate (mTLS)."
    )
    ssl_key_location: Path | None = Field(None, description="PEM private key of that cert.")
    ssl_key_password: SecretStr | None = Field(None, description="Password of the key.")
    ssl_key_password_file: Path | None = Field(None, description="File holding it.")
    ssl_endpoint_identification_algorithm: Literal["https", "none"] | None = Field(
        None, description="https (default): the broker's name must match its certificate."
    )
    config_file: Path | None = Field(
        None, description="Java-properties client config; the variables above override it."
    )

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _case(cls, value: Any) -> Any:
        return _upper(value)

    @field_validator("ssl_endpoint_identification_algorithm", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "sasl_password_file",
        "sasl_oauthbearer_client_secret_file",
        "ssl_ca_location",
        "ssl_certificate_location",
        "ssl_key_location",
        "ssl_key_password_file",
        "config_file",
    )
    @classmethod
    def _file_readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)


_JAAS_OPTION = re.compile(
    r"""(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+?))(?=[\s;]|$)"""
)


def _from_jaas(jaas: str) -> dict[str, str]:
    """librdkafka properties from a Java `sasl.jaas.config` (Plain/Scram/OAuthBearer modules)."""
    options = {
        m.group(1): next(g for g in m.groups()[1:] if g is not None)
        for m in _JAAS_OPTION.finditer(jaas)
    }
    if "OAuthBearerLoginModule" in jaas:
        out = {"sasl.oauthbearer.method": "oidc"}
        for java, rd in (
            ("clientId", "sasl.oauthbearer.client.id"),
            ("clientSecret", "sasl.oauthbearer.client.secret"),
            ("scope", "sasl.oauthbearer.scope"),
        ):
            if java in options:
                out[rd] = options[java]
        ext = [
            f"{k[len('extension_') :]}={v}"
            for k, v in options.items()
            if k.startswith("extension_")
        ]
        if ext:
            out["sasl.oauthbearer.extensions"] = ",".join(ext)
        return out
    out = {}
    if "username" in options:
        out["sasl.username"] = options["username"]
    if "password" in options:
        out["sasl.password"] = options["password"]
    return out


def _translate_file(props: Mapping[str, str]) -> dict[str, str]:
    """A Java client config as librdkafka properties (unknown keys pass through)."""
    where = f"{_CONFIG_FILE_VAR}"
    out: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in props.items():
        if key in _JAVA_ONLY or key.startswith(_JAVA_ONLY_PREFIXES):
            dropped.append(key)
        elif key.startswith("ssl.truststore."):
            raise ConfigError(
                f"{where}: {key} is a Java truststore; librdkafka reads PEM: export the CA "
                "(keytool -exportcert -rfc) and set ssl.ca.location"
            )
        elif key == "sasl.jaas.config":
            out.update(_from_jaas(value))
        elif key == "ssl.endpoint.identification.algorithm":
            out[key] = value.strip().lower() or "none"  # Java's "" turns the check off
        elif key == "sasl.mechanisms":
            out["sasl.mechanism"] = value
        else:
            out[key] = value
    if dropped:
        log.debug("%s: ignoring Java-only keys %s", where, ", ".join(sorted(dropped)))
    return out


@dataclass(frozen=True)
class KafkaSecurity:
    """The resolved librdkafka security properties. Its repr never shows a value."""

    conf: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def protocol(self) -> str:
        return str(self.conf.get("security.protocol", "PLAINTEXT")).upper()

    def librdkafka(self) -> dict[str, str]:
        """A copy of the properties to merge into a client config."""
        return dict(self.conf)

    def describe(self) -> dict[str, str]:
        """The properties with secrets masked: safe for logs and status output."""
        return {k: ("[hidden]" if k in SECRET_KEYS else v) for k, v in sorted(self.conf.items())}

    def __repr__(self) -> str:
        return f"KafkaSecurity(protocol={self.protocol}, keys={sorted(self.conf)})"


class _Resolver:
    """Merges the config file and the variables, remembering which variable set each key."""

    def __init__(self, s: KafkaSecuritySettings) -> None:
        self.s = s
        self.conf: dict[str, str] = {}
        self.origin: dict[str, str] = {}

    def put(self, key: str, value: str | None, var: str) -> None:
        if value is not None:
            self.conf[key] = value
            self.origin[key] = f"{KAFKA_ENV_PREFIX}{var}"

    def var(self, key: str, default: str) -> str:
        return self.origin.get(key, f"{KAFKA_ENV_PREFIX}{default}")

    def resolve(self) -> KafkaSecurity:
        s = self.s
        if s.config_file is not None:
            try:
                props = _translate_file(read_properties(s.config_file))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{_CONFIG_FILE_VAR}: cannot read the file ({exc})") from None
            for key, value in props.items():
                self.put(key, value, "CONFIG_FILE")
        self.put("security.protocol", s.security_protocol, "SECURITY_PROTOCOL")
        self.put("sasl.mechanism", s.sasl_mechanism, "SASL_MECHANISM")
        self.put("sasl.username", s.sasl_username, "SASL_USERNAME")
        if s.sasl_password_file is not None:
            self.put("sasl.password", secret_file(s.sasl_password_file), "SASL_PASSWORD_FILE")
        elif s.sasl_password is not None:
            self.put("sasl.password", s.sasl_password.get_secret_value(), "SASL_PASSWORD")
        oidc: dict[str, str | None] = {
            "sasl.oauthbearer.token.endpoint.url": s.sasl_oauthbearer_token_endpoint_url,
            "sasl.oauthbearer.client.id": s.sasl_oauthbearer_client_id,
            "sasl.oauthbearer.scope": s.sasl_oauthbearer_scope,
            "sasl.oauthbearer.extensions": s.sasl_oauthbearer_extensions,
        }
        for name, setting in oidc.items():
            self.put(name, setting, "SASL_" + name.removeprefix("sasl.").replace(".", "_").upper())
        secret_path = s.sasl_oauthbearer_client_secret_file
        if secret_path is not None:
            self.put(
                "sasl.oauthbearer.client.secret",
                secret_file(secret_path),
                "SASL_OAUTHBEARER_CLIENT_SECRET_FILE",
            )
        elif s.sasl_oauthbearer_client_secret is not None:
            self.put(
                "sasl.oauthbearer.client.secret",
                s.sasl_oauthbearer_client_secret.get_secret_value(),
                "SASL_OAUTHBEARER_CLIENT_SECRET",
            )
        for key, path, var in (
            ("ssl.ca.location", s.ssl_ca_location, "SSL_CA_LOCATION"),
            ("ssl.certificate.location", s.ssl_certificate_location, "SSL_CERTIFICATE_LOCATION"),
            ("ssl.key.location", s.ssl_key_location, "SSL_KEY_LOCATION"),
        ):
            self.put(key, str(path) if path is not None else None, var)
        if s.ssl_key_password_file is not None:
            self.put(
                "ssl.key.password", secret_file(s.ssl_key_password_file), "SSL_KEY_PASSWORD_FILE"
            )
        elif s.ssl_key_password is not None:
            self.put("ssl.key.password", s.ssl_key_password.get_secret_value(), "SSL_KEY_PASSWORD")
        self.put(
            "ssl.endpoint.identification.algorithm",
            s.ssl_endpoint_identification_algorithm,
            "SSL_ENDPOINT_IDENTIFICATION_ALGORITHM",
        )
        self._check()
        return KafkaSecurity(dict(self.conf))

    # -- checks: one line naming the variable, never a value of a secret -------------
    def _check(self) -> None:
        conf = self.conf
        protocol = conf.get("security.protocol", "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"{self.var('security.protocol', 'SECURITY_PROTOCOL')}: unknown security "
                f"protocol {protocol!r} (one of {', '.join(PROTOCOLS)})"
            )
        if "security.protocol" in conf:
            conf["security.protocol"] = protocol
        if protocol.startswith("SASL_"):
            self._check_sasl(protocol)
        if protocol in ("SSL", "SASL_SSL"):
            self._check_tls()
        elif any(k.startswith("ssl.") and k.endswith(".location") for k in conf):
            key = next(k for k in conf if k.startswith("ssl.") and k.endswith(".location"))
            raise ConfigError(
                f"{self.var(key, 'SSL_CA_LOCATION')}: TLS files need "
                f"{KAFKA_ENV_PREFIX}SECURITY_PROTOCOL=SSL or SASL_SSL (it is {protocol})"
            )

    def _check_sasl(self, protocol: str) -> None:
        conf = self.conf
        mech = conf.get("sasl.mechanism", "").upper()
        var = self.var("sasl.mechanism", "SASL_MECHANISM")
        if not mech:
            raise ConfigError(
                f"{var}: required with {protocol} (one of {', '.join(SASL_MECHANISMS)})"
            )
        if mech not in (*SASL_MECHANISMS, "GSSAPI"):
            raise ConfigError(
                f"{var}: unknown SASL mechanism {mech!r} (one of {', '.join(SASL_MECHANISMS)})"
            )
        conf["sasl.mechanism"] = mech
        if mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            if not conf.get("sasl.username"):
                raise ConfigError(f"{KAFKA_ENV_PREFIX}SASL_USERNAME: required with {mech}")
            if not conf.get("sasl.password"):
                raise ConfigError(
                    f"{KAFKA_ENV_PREFIX}SASL_PASSWORD (or ..._FILE): required with {mech}"
                )
        if mech == "OAUTHBEARER" and (
            conf.get("sasl.oauthbearer.method", "").lower() == "oidc"
            or "sasl.oauthbearer.token.endpoint.url" in conf
        ):
            conf["sasl.oauthbearer.method"] = "oidc"
            for key, var_name in (
                ("sasl.oauthbearer.token.endpoint.url", "SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL"),
                ("sasl.oauthbearer.client.id", "SASL_OAUTHBEARER_CLIENT_ID"),
                ("sasl.oauthbearer.client.secret", "SASL_OAUTHBEARER_CLIENT_SECRET"),
            ):
                if not conf.get(key):
                    raise ConfigError(
                        f"{KAFKA_ENV_PREFIX}{var_name}: required with OAUTHBEARER (OIDC)"
                    )

    def _check_tls(self) -> None:
        conf = self.conf
        for key, default in (
            ("ssl.ca.location", "SSL_CA_LOCATION"),
            ("ssl.certificate.location", "SSL_CERTIFICATE_LOCATION"),
            ("ssl.key.location", "SSL_KEY_LOCATION"),
            ("ssl.keystore.location", "CONFIG_FILE"),
        ):
            value = conf.get(key)
            if value is None or (key == "ssl.ca.location" and value == "probe"):
                continue
            try:
                readable_file(Path(value))
            except ValueError as exc:
                raise ConfigError(f"{self.var(key, default)}: {value}: {exc}") from None
        cert, key_file = conf.get("ssl.certificate.location"), conf.get("ssl.key.location")
        if (cert is None) != (key_file is None):
            missing = "SSL_KEY_LOCATION" if key_file is None else "SSL_CERTIFICATE_LOCATION"
            raise ConfigError(f"{KAFKA_ENV_PREFIX}{missing}: a client certificate needs both files")
        if key_file is not None:
            self._check_key(Path(key_file))

    def _check_key(self, path: Path) -> None:
        """The key must load with its password now, not fail in librdkafka's SSL init."""
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
        except ImportError:  # pragma: no cover - the check needs the optional package
            return
        key_var = self.var("ssl.key.location", "SSL_KEY_LOCATION")
        pw_var = self.var("ssl.key.password", "SSL_KEY_PASSWORD")
        text = path.read_bytes()
        match = re.search(
            rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", text, re.S
        )
        if match is None:
            raise ConfigError(f"{key_var}: {path}: no PEM private key in the file")
        password = self.conf.get("ssl.key.password")
        try:
            load_pem_private_key(match.group(0), password.encode() if password else None)
        except TypeError:
            raise ConfigError(
                f"{key_var}: {path}: the key is encrypted: set {pw_var}"
                if not password
                else f"{pw_var}: the key {path} is not encrypted: unset it"
            ) from None
        except ValueError:
            raise ConfigError(
                f"{pw_var}: does not decrypt {path} (wrong password or corrupt key)"
            ) from None


def _env_snapshot() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(KAFKA_ENV_PREFIX)))


@lru_cache(maxsize=8)
def _resolve(_env: tuple[tuple[str, str], ...]) -> KafkaSecurity:
    return _Resolver(load_settings(KafkaSecuritySettings)).resolve()


def kafka_security(settings: KafkaSecuritySettings | None = None) -> KafkaSecurity:
    """The security properties every client gets: from `settings`, else the environment
    (re-read when a `FRAUDSTREAM_KAFKA_*` variable changes). Raises ConfigError."""
    if settings is not None:
        return _Resolver(settings).resolve()
    return _resolve(_env_snapshot())
