"""`FRAUDSTREAM_KSQL_*`: how the ksqlDB client reaches a secured server (basic auth, TLS).

The same knobs the ksqlDB CLI takes (`--user`/`--password`, a truststore, a client
certificate), in the project's one settings pattern: every `fraudstream ksql` command, the
shell, `ksql apply` and `KSQLAPI` read them. The password is a `SecretStr` (or a file, for a
Kubernetes secret mount) and never reaches a log line, an error message or `repr`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from fraudstream.config import (
    FraudstreamSettings,
    load_cert_chain,
    load_settings,
    readable_file,
    secret_file,
    settings_config,
)

__all__ = ["KSQL_ENV_PREFIX", "KsqlClientSettings", "ksql_client_settings"]

KSQL_ENV_PREFIX = "FRAUDSTREAM_KSQL_"


class KsqlClientSettings(FraudstreamSettings):
    """Credentials and TLS of the ksqlDB client (see docs/security.md)."""

    model_config = settings_config("KSQL_")

    url: str = Field("http://127.0.0.1:8088", description="ksqlDB server URL.")
    username: str | None = Field(None, description="HTTP basic auth user (ksql --user).")
    password: SecretStr | None = Field(None, description="Its password (ksql --password).")
    password_file: Path | None = Field(
        None, description="File holding the password (a Kubernetes secret mount)."
    )
    tls_ca_file: Path | None = Field(
        None, description="PEM CA bundle the server certificate must chain to (truststore)."
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM client certificate (mTLS, ssl.client.authentication=REQUIRED)."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of the client cert.")
    tls_key_password: SecretStr | None = Field(None, description="Password of the key file.")
    tls_verify: bool = Field(
        True, description="Verify the server certificate (false only for throwaway tests)."
    )
    history_file: Path | None = Field(
        None,
        description="The shell's history (default: $XDG_DATA_HOME/fraudstream/ksql-history).",
    )

    @field_validator("password_file", "tls_ca_file", "tls_cert_file", "tls_key_file")
    @classmethod
    def _file_readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @field_validator("password_file")
    @classmethod
    def _password_needs_user(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not info.data.get("username"):
            raise ValueError(f"set {KSQL_ENV_PREFIX}USERNAME too")
        return value

    @field_validator("tls_key_file")
    @classmethod
    def _key_needs_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("tls_cert_file") is None:
            raise ValueError(f"set {KSQL_ENV_PREFIX}TLS_CERT_FILE too")
        return value

    def secret(self) -> SecretStr | None:
        """The password, from the variable or its file."""
        if self.password_file is not None:
            return SecretStr(secret_file(self.password_file))
        return self.password

    def auth(self) -> tuple[str, str] | None:
        """(user, password) for httpx, or None without credentials."""
        secret = self.secret()
        if not self.username:
            return None
        return self.username, secret.get_secret_value() if secret else ""

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx verifies the server with: the CA bundle, plus the client certificate."""
        if self.tls_cert_file is None and self.tls_ca_file is None:
            return self.tls_verify
        context = ssl.create_default_context(
            cafile=str(self.tls_ca_file) if self.tls_ca_file else None
        )
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.tls_cert_file is not None:
            load_cert_chain(
                context,
                self.tls_cert_file,
                self.tls_key_file,
                self.tls_key_password,
                f"{KSQL_ENV_PREFIX}TLS_CERT_FILE/TLS_KEY_FILE",
            )
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """`auth` and `verify` for `KsqlClient` (and any httpx client)."""
        return {"auth": self.auth(), "verify": self.verify()}


def ksql_client_settings(**overrides: Any) -> KsqlClientSettings:
    """Read `FRAUDSTREAM_KSQL_*` now (one line naming the variable when one is wrong)."""
    return load_settings(KsqlClientSettings, **overrides)
