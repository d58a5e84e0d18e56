"""What `fraudstream up --secure` locks, and the keys every component of the stack gets.

- the broker: SASL_SSL with SCRAM users (`LocalKafka(secure=True)`);
- the registry and KSQL servers: HTTPS (a certificate of the stack's private CA) and HTTP
  basic auth, through the servers' own `FRAUDSTREAM_HTTP_*` settings;
- every client (producer, KSQL runtime, registry storage, trainer, scorer, `ksql apply`, the
  live view, the supervisor's probes): the `FRAUDSTREAM_KAFKA_*`, `FRAUDSTREAM_REGISTRY_*`
  and `FRAUDSTREAM_KSQL_*` variables that reach them.

Passwords are random, made once under `<data_dir>/secrets/` (0600) and handed over as file
paths, so no password is ever in an environment, a command line, a log or `status`.
The scorer's `/metrics` stays plain HTTP on 127.0.0.1 (what Prometheus scrapes).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudstream.local.certs import LocalCa, write_private
from fraudstream.local.kafka import password_file

__all__ = ["HTTP_USER", "SecureStack", "probe_kwargs"]

HTTP_USER = "fraudstream"


@dataclass(frozen=True)
class SecureStack:
    """The secured stack's files under `data_dir` (made on first use, reused after)."""

    data_dir: Path
    hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1")

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def ca_file(self) -> Path:
        return LocalCa(self.tls_dir).ca_file()

    def http_password_file(self) -> Path:
        return password_file(self.secrets_dir, f"http-{HTTP_USER}")

    def registry_user_info_file(self) -> Path:
        """`user:password` as confluent's `basic.auth.user.info` (FRAUDSTREAM_REGISTRY_...)."""
        path = self.secrets_dir / "registry-user-info"
        password = self.http_password_file().read_text().strip()
        if not path.is_file() or path.read_text() != f"{HTTP_USER}:{password}":
            write_private(path, f"{HTTP_USER}:{password}".encode())
        return path

    def server_env(self) -> dict[str, str]:
        """`FRAUDSTREAM_HTTP_*` of the registry and KSQL servers: TLS + basic auth."""
        pair = LocalCa(self.tls_dir).issue("http-server", tuple(self.hosts))
        return {
            "FRAUDSTREAM_HTTP_TLS_CERT_FILE": str(pair.cert),
            "FRAUDSTREAM_HTTP_TLS_KEY_FILE": str(pair.key),
            "FRAUDSTREAM_HTTP_BASIC_AUTH_USER": HTTP_USER,
            "FRAUDSTREAM_HTTP_BASIC_AUTH_PASSWORD_FILE": str(self.http_password_file()),
        }

    def client_env(self) -> dict[str, str]:
        """How registry and ksqlDB clients get in (Kafka's come from `LocalKafka`)."""
        ca = str(self.ca_file())
        return {
            "FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO_FILE": str(self.registry_user_info_file()),
            "FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION": ca,
            "FRAUDSTREAM_KSQL_USERNAME": HTTP_USER,
            "FRAUDSTREAM_KSQL_PASSWORD_FILE": str(self.http_password_file()),
            "FRAUDSTREAM_KSQL_TLS_CA_FILE": ca,
        }

    def probe(self) -> dict[str, str]:
        """What the supervisor's readiness and health probes need (paths, no secret)."""
        return {
            "ca": str(self.ca_file()),
            "user": HTTP_USER,
            "password_file": str(self.http_password_file()),
        }


def probe_kwargs(probe: Mapping[str, str] | None) -> dict[str, Any]:
    """httpx arguments of a probe: trust the stack's CA, log in as its user."""
    if not probe:
        return {}
    kwargs: dict[str, Any] = {}
    if probe.get("ca"):
        kwargs["verify"] = ssl.create_default_context(cafile=probe["ca"])
    if probe.get("user") and probe.get("password_file"):
        password = Path(probe["password_file"]).read_text(encoding="utf-8").strip()
        kwargs["auth"] = (probe["user"], password)
    return kwargs
