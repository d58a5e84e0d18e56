"""`FRAUDSTREAM_HTTP_*`: what every embedded server enforces (hosts, origins, auth, TLS).

One settings class for the registry, the KSQL server and the scorer's metrics endpoint, so
a user configures them the way they configure Confluent's servers (a listener with TLS,
`authentication.method=BASIC` with a password file, `authentication.skip.paths`, ...).
Invalid values fail at start with one line naming the variable (`load_settings`); secrets
are `SecretStr` or files and never reach a log line, an error message or a metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream.config import ENV_PREFIX, load_settings, readable_file

__all__ = ["HTTP_ENV_PREFIX", "HttpSecuritySettings", "http_security_settings", "split_list"]

HTTP_ENV_PREFIX = f"{ENV_PREFIX}HTTP_"


def split_list(raw: str) -> tuple[str, ...]:
    """`"a, b,,c"` -> `("a", "b", "c")`: the comma lists of these settings."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


class HttpSecuritySettings(BaseSettings):
    """Security of the embedded HTTP servers (see docs/security.md)."""

    model_config = SettingsConfigDict(env_prefix=HTTP_ENV_PREFIX, extra="ignore", frozen=True)

    allowed_hosts: str = Field(
        "localhost,127.0.0.1,::1",
        description=(
            "Comma list of Host names the servers answer (421 otherwise); '.example.com' "
            "matches subdomains, '*' turns the check off. IP literals and *.localhost are "
            "always accepted: DNS rebinding needs a name."
        ),
    )
    allowed_origins: str = Field(
        "",
        description=(
            "Comma list of browser origins (scheme://host:port) allowed to call the servers "
            "cross-site (Confluent's access.control.allow.origin); others get 403."
        ),
    )
    max_body_bytes: int | None = Field(
        None,
        gt=0,
        description="Request body limit for every server (default: 2 MiB registry, 1 MiB KSQL).",
    )
    basic_auth_user: str | None = Field(
        None, description="Single user for HTTP basic auth (with BASIC_AUTH_PASSWORD[_FILE])."
    )
    basic_auth_password: SecretStr | None = Field(None, description="Its password.")
    basic_auth_password_file: Path | None = Field(
        None, description="File holding the password (a Kubernetes secret mount)."
    )
    basic_auth_users_file: Path | None = Field(
        None,
        description=(
            "Jetty-style password file as Confluent's servers use with authentication.method="
            "BASIC: 'user: password[,role...]' per line; plain or MD5: passwords."
        ),
    )
    auth_roles: str = Field(
        "", description="Comma list of roles allowed in (authentication.roles); empty: any user."
    )
    auth_realm: str = Field("fraudstream", description="Basic auth realm (authentication.realm).")
    auth_skip_paths: str = Field(
        "", description="Comma list of paths served without auth (authentication.skip.paths)."
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain: serve HTTPS (a listener https://...)."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of the certificate.")
    tls_key_password: SecretStr | None = Field(None, description="Password of the key file.")
    tls_ca_file: Path | None = Field(
        None, description="PEM CA bundle that client certificates must chain to (mTLS)."
    )
    tls_client_auth: Literal["NONE", "REQUESTED", "REQUIRED"] = Field(
        "NONE", description="Client certificates (ssl.client.authentication)."
    )

    @field_validator(
        "tls_cert_file",
        "tls_key_file",
        "tls_ca_file",
        "basic_auth_password_file",
        "basic_auth_users_file",
    )
    @classmethod
    def _file_readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @field_validator("tls_key_file")
    @classmethod
    def _key_needs_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("tls_cert_file") is None:
            raise ValueError("set FRAUDSTREAM_HTTP_TLS_CERT_FILE too")
        return value

    @field_validator("tls_client_auth")
    @classmethod
    def _client_auth_needs_ca(cls, value: str, info: ValidationInfo) -> str:
        if value != "NONE" and info.data.get("tls_ca_file") is None:
            raise ValueError("client certificates need FRAUDSTREAM_HTTP_TLS_CA_FILE")
        if value != "NONE" and info.data.get("tls_cert_file") is None:
            raise ValueError("client certificates need TLS: set FRAUDSTREAM_HTTP_TLS_CERT_FILE")
        return value

    @field_validator("basic_auth_password_file")
    @classmethod
    def _password_needs_user(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not info.data.get("basic_auth_user"):
            raise ValueError("set FRAUDSTREAM_HTTP_BASIC_AUTH_USER too")
        return value

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def password(self) -> SecretStr | None:
        """The single user's password, from the variable or its file."""
        if self.basic_auth_password_file is not None:
            text = self.basic_auth_password_file.read_text(encoding="utf-8")
            return SecretStr(text.rstrip("\r\n"))
        return self.basic_auth_password


def http_security_settings() -> HttpSecuritySettings:
    """Read `FRAUDSTREAM_HTTP_*` now (servers read it when they are built)."""
    return load_settings(HttpSecuritySettings)
