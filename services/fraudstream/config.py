"""Twelve-factor settings: every value comes from a `FRAUDSTREAM_*` environment variable.

The defaults are the local stack's (see docs/architecture.md); docker compose and
Kubernetes override them through the environment.

The project's ONE settings pattern (every settings class follows it):
- subclass `FraudstreamSettings` and set `model_config = settings_config("SECTION_")`:
  variables `FRAUDSTREAM_SECTION_<FIELD>`, unknown variables ignored, instances frozen;
- build it with `load_settings(cls, **overrides)` (CLI options are the overrides), so an
  invalid value fails with one line naming the variable (`ConfigError`);
- values shared by every component (bootstrap, registry URL, topics, ...) live in
  `Settings` here (`get_settings()`); a component's own knobs in its `settings.py`.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "FraudstreamSettings",
    "Settings",
    "get_settings",
    "load_cert_chain",
    "load_settings",
    "readable_file",
    "secret_file",
    "settings_config",
]

ENV_PREFIX = "FRAUDSTREAM_"


def readable_file(path: Path | None) -> Path | None:
    """Validator of every file setting (TLS material, `*_FILE` secrets): an existing,
    readable file, checked at start so the error names the variable, not a later client."""
    if path is None:
        return None
    if not path.is_file():
        raise ValueError("not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"not readable ({exc.strerror})") from None
    return path


def load_cert_chain(
    context: ssl.SSLContext,
    cert: Path | str,
    key: Path | str | None,
    password: SecretStr | None,
    variables: str,
) -> None:
    """Load a certificate and its key into `context`; a bad one is a ConfigError naming the
    `variables` that gave them (one line, never the password)."""
    try:
        context.load_cert_chain(
            cert, key, password=password.get_secret_value() if password else None
        )
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise ConfigError(
            f"{variables}: cannot load the certificate or its key ({reason})"
        ) from None


def secret_file(path: Path) -> str:
    """A secret mounted as a file (Kubernetes, compose secrets): its text, trailing newline off."""
    return path.read_text(encoding="utf-8").rstrip("\r\n")


def settings_config(section: str = "") -> SettingsConfigDict:
    """The model_config of a settings class reading `FRAUDSTREAM_<section><FIELD>`."""
    return SettingsConfigDict(env_prefix=f"{ENV_PREFIX}{section}", extra="ignore", frozen=True)


class FraudstreamSettings(BaseSettings):
    """Base of every settings class (see the module docstring for the pattern)."""

    model_config = settings_config()


class Settings(FraudstreamSettings):
    """Settings shared by every component."""

    model_config = settings_config()

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers (host:port[,host:port])."
    )
    registry_url: str = Field("http://127.0.0.1:8081", description="Schema Registry URL.")
    ksql_url: str = Field("http://127.0.0.1:8088", description="ksqlDB server URL.")
    model_dir: Path = Field(Path("models"), description="Model store: <version>/ and LATEST.")
    data_dir: Path = Field(
        Path(".fraudstream"), description="Local stack state: broker data, logs, pid files."
    )
    bind_host: str = Field("127.0.0.1", description="Address the embedded servers bind to.")
    metrics_port: int = Field(8000, ge=0, le=65535, description="Scorer /metrics port.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every component."
    )

    topic_source: str = Field("creditcardfraud_source", description="Raw JSON card events.")
    topic_users: str = Field("users", description="Compacted users table topic.")
    topic_preprocessed: str = Field(
        "creditcardfraud_preprocessed_avro", description="Labelled training events (Avro)."
    )
    topic_live: str = Field(
        "creditcardfraud_live_avro", description="Every event, masked, for scoring (Avro)."
    )
    topic_per_user: str = Field(
        "creditcardfraud_per_user", description="Events joined with Premium-city users."
    )
    topic_scores: str = Field("fraud_scores", description="Scores (Avro, key = event Id).")
    topic_alerts: str = Field("fraud_alerts", description="Anomalous events (Avro).")
    topic_scores_shadow: str = Field(
        "fraud_scores_shadow",
        description="Scores of the challenger (`fraudstream models promote --candidate`), "
        "same schema as the scores (own subject); the challenger never alerts.",
    )
    topic_dlq: str = Field("fraud_scores_dlq", description="Dead letters: raw bytes + reason.")
    topic_models: str = Field("fraudstream_models", description="New model announcements.")
    topic_labels: str = Field(
        "fraud_labels",
        description="Delayed labels (JSON {Id, Class, LabelTime}, key = event Id).",
    )
    topic_replication_factor: int = Field(
        -1,
        ge=-1,
        description="Replication factor of every topic the project creates; -1 = the "
        "broker's default.replication.factor (e.g. 3 where min.insync.replicas=2).",
    )
    topic_partitions: dict[str, int] = Field(
        default_factory=dict,
        description="Partition count per topic name, for any topic the project creates "
        '(JSON, e.g. {"fraud_scores": 12}); a topic not named keeps its creator\'s count '
        "(the component's own setting). Single-partition logs (_schemas, the model store, "
        "KSQL's command topic) need exactly 1.",
    )
    topic_model_store: str = Field(
        "fraudstream_model_store",
        description="Compacted topic holding every model version (manifest + weights).",
    )
    model_store: Literal["directory", "topic"] = Field(
        "directory",
        description="Where the trainer publishes and scorers load models: directory = "
        "FRAUDSTREAM_MODEL_DIR (local use); topic = FRAUDSTREAM_TOPIC_MODEL_STORE (pods "
        "anywhere, no shared volume).",
    )
    model_chunk_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=8 * 1024 * 1024,
        description="A model bundle is cut into records of at most this many bytes (keep it "
        "under the broker's message.max.bytes).",
    )
    model_keep_versions: int = Field(
        10,
        ge=1,
        description="Versions kept on the model topic; each publish tombstones older ones.",
    )

    @field_validator("topic_replication_factor")
    @classmethod
    def _replication_factor(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be -1 (the broker's default) or at least 1")
        return value

    @field_validator("topic_partitions")
    @classmethod
    def _partitions(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(t for t, n in value.items() if n < 1)
        if bad:
            raise ValueError(f"partition counts must be at least 1 ({', '.join(bad)})")
        return value


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build `cls` from the environment; raise ConfigError naming the bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ENV_PREFIX))
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "?"
        got = err.get("input")
        raise ConfigError(
            f"{prefix}{field.upper()}: {err.get('msg', 'invalid value')} (got {got!r})"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide shared settings (read once from the environment)."""
    return load_settings(Settings)
