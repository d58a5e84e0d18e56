"""Scorer settings (`FRAUDSTREAM_SCORER_*`); shared values come from `fraudstream.config`.

Every knob has a documented default; the CLI options override the environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from fraudstream.config import (
    FraudstreamSettings,
    Settings,
    get_settings,
    load_settings,
    settings_config,
)

__all__ = ["ScorerSettings", "get_settings", "scorer_settings"]


class ScorerSettings(FraudstreamSettings):
    """Everything `fraudstream score` / `Scorer` needs. Unset shared values (bootstrap,
    registry, topics, model dir, metrics port) fall back to the shared `Settings`."""

    model_config = settings_config("SCORER_")

    # Shared values (None = take it from FRAUDSTREAM_* via get_settings()).
    kafka_bootstrap: str | None = Field(None, description="Override FRAUDSTREAM_KAFKA_BOOTSTRAP.")
    registry_url: str | None = Field(None, description="Override FRAUDSTREAM_REGISTRY_URL.")
    model_dir: Path | None = Field(None, description="Override FRAUDSTREAM_MODEL_DIR.")
    model_store: Literal["directory", "topic"] | None = Field(
        None, description="Override FRAUDSTREAM_MODEL_STORE (directory | topic)."
    )
    topic_model_store: str | None = Field(
        None, description="Override FRAUDSTREAM_TOPIC_MODEL_STORE."
    )
    topic: str | None = Field(None, description="Input topic (default: live Avro or source JSON).")
    topic_scores: str | None = Field(None, description="Override FRAUDSTREAM_TOPIC_SCORES.")
    topic_alerts: str | None = Field(None, description="Override FRAUDSTREAM_TOPIC_ALERTS.")
    topic_scores_shadow: str | None = Field(
        None, description="Override FRAUDSTREAM_TOPIC_SCORES_SHADOW."
    )
    topic_dlq: str | None = Field(None, description="Override FRAUDSTREAM_TOPIC_DLQ.")
    topic_models: str | None = Field(None, description="Override FRAUDSTREAM_TOPIC_MODELS.")
    listen_announcements: bool = Field(
        True, description="Also check the model store at once when the trainer announces a model."
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Override FRAUDSTREAM_METRICS_PORT (0 = no HTTP server)."
    )
    bind_host: str | None = Field(None, description="Override FRAUDSTREAM_BIND_HOST.")

    input_format: Literal["avro", "json"] = Field(
        "avro", description="avro: KSQL live stream (default); json: raw source stream."
    )
    group: str = Field("fraudstream-scorer", description="Consumer group shared by replicas.")
    exactly_once: bool = Field(False, description="Transactional produce + offsets.")
    transactional_id: str | None = Field(
        None,
        description="Stable transactional id of this replica (e.g. the pod name): a restarted "
        "replica then fences its dead predecessor at once. Default: <group>-<host>-<random>.",
    )
    transaction_timeout_ms: int = Field(
        60_000, ge=1000, description="A dead replica's open transaction aborts after this."
    )
    batch_size: int = Field(2000, ge=1, le=100_000, description="Max events per micro-batch.")
    max_wait_ms: int = Field(
        100,
        ge=1,
        le=60_000,
        description="Poll timeout when idle. A batch is whatever is fetched (<= batch_size) "
        "once the first record arrives, so this does not delay records.",
    )
    batch_linger_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="After a batch's first record, wait up to this long for more (up to "
        "batch_size) before scoring it. A batch has a fixed CPU cost (~0.5 ms: decode, "
        "score and encode setup, produce, ledger, metrics), so at a paced load fewer, larger "
        "batches cost less CPU, for at most this much more latency. 0: score what is fetched.",
    )
    fetch_min_bytes: int = Field(
        16384,
        ge=1,
        le=10_000_000,
        description="Consumer fetch.min.bytes: the broker holds a fetch until this much is "
        "there (or fetch_wait_max_ms passed). With fetch_wait_max_ms 5: at a paced 5,000 "
        "events/s ~40-event batches instead of ~11-28 and ~30 % less scorer CPU per event "
        "(docs/benchmarks.md, 'The rest of the 50 ms'); 1 with 500: librdkafka's defaults.",
    )
    fetch_wait_max_ms: int = Field(
        5,
        ge=0,
        le=60_000,
        description="Consumer fetch.wait.max.ms: the longest a fetch is held for "
        "fetch_min_bytes, so the most a record waits for it. An idle consumer fetches this "
        "often (200 empty fetches/s at 5 ms).",
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description="Consumer session timeout: how soon a dead replica's partitions move on.",
    )
    commit_interval_ms: int = Field(1000, ge=10, description="At-least-once commit period.")
    max_inflight_batches: int = Field(
        32,
        ge=1,
        le=256,
        description="Pipelining: up to this many full batches (x batch_size events) may be "
        "produced but not yet acknowledged.",
    )
    linger_ms: float = Field(
        5.0, ge=0, le=1000, description="Output producer linger: larger batches vs latency."
    )
    delivery_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Max wait for a batch's acks; also the producer's message.timeout.ms, so an "
        "output given up on is never delivered later.",
    )
    reload_interval_s: float = Field(
        1.0, gt=0, description="How often the model store (LATEST or the topic) is checked."
    )
    health_stale_s: float = Field(
        30.0, gt=0, description="/healthz fails when the poll loop has not run for this long."
    )
    lag_interval_s: float = Field(2.0, gt=0, description="Consumer-lag gauge refresh period.")
    broker_wait_s: float = Field(
        0.0, ge=0, description="Give up if the broker is unreachable this long (0 = retry forever)."
    )
    create_output_topics: bool = Field(True, description="Create scores/alerts/DLQ if missing.")
    output_partitions: int = Field(4, ge=1, description="Partitions for output topics it creates.")
    blas_threads: int = Field(
        1,
        ge=0,
        description="BLAS threads for the forward pass (0 = library default). Batches are "
        "small matrices: extra BLAS threads only spin against the Kafka client threads.",
    )
    dlq_max_value_bytes: int = Field(
        900_000,
        ge=1024,
        description="Dead letters keep at most this many bytes of the original value (a "
        "record at the broker's size limit plus DLQ headers would otherwise never fit).",
    )
    dlq_max_key_bytes: int = Field(
        4096, ge=16, description="Dead letters keep at most this many bytes of the key."
    )
    dlq_max_headers_bytes: int = Field(
        16_384,
        ge=0,
        description="Dead letters copy source headers up to this many bytes in all (the "
        "dlq.* headers come on top).",
    )
    dlq_spill_path: Path = Field(
        Path(tempfile.gettempdir()) / "fraudstream" / "dlq-spill.jsonl",
        description="A dead letter the producer still refuses is appended here (one JSON line).",
    )
    explain_top_k: int = Field(3, ge=1, le=10, description="Top features per score record.")
    drift: bool = Field(
        True, description="PSI of each feature and the score vs the model's drift reference."
    )
    drift_window: int = Field(
        20_000, ge=100, description="Drift: the sliding window, in events (per replica)."
    )
    drift_min_events: int = Field(
        2_000, ge=1, description="Drift: PSI is NaN until the window holds this many events."
    )
    drift_sample: int = Field(
        2,
        ge=1,
        le=100,
        description="Drift: bin every k-th event (1 = all). Binning is the whole cost: 1 in 2 "
        "keeps it under 3 % of the batch path's CPU (docs/benchmarks.md, Drift).",
    )

    def resolved(self, shared: Settings | None = None) -> ResolvedSettings:
        """Fill every None from the shared settings."""
        s = shared or get_settings()
        topic = self.topic or (s.topic_live if self.input_format == "avro" else s.topic_source)
        return ResolvedSettings(
            kafka_bootstrap=self.kafka_bootstrap or s.kafka_bootstrap,
            registry_url=self.registry_url or s.registry_url,
            model_dir=self.model_dir or s.model_dir,
            model_store=self.model_store or s.model_store,
            topic_model_store=self.topic_model_store or s.topic_model_store,
            topic=topic,
            topic_scores=self.topic_scores or s.topic_scores,
            topic_alerts=self.topic_alerts or s.topic_alerts,
            topic_scores_shadow=self.topic_scores_shadow or s.topic_scores_shadow,
            topic_dlq=self.topic_dlq or s.topic_dlq,
            topic_models=self.topic_models or s.topic_models,
            metrics_port=s.metrics_port if self.metrics_port is None else self.metrics_port,
            bind_host=self.bind_host or s.bind_host,
            **self.model_dump(
                exclude={
                    "kafka_bootstrap",
                    "registry_url",
                    "model_dir",
                    "model_store",
                    "topic_model_store",
                    "topic",
                    "topic_scores",
                    "topic_alerts",
                    "topic_scores_shadow",
                    "topic_dlq",
                    "topic_models",
                    "metrics_port",
                    "bind_host",
                }
            ),
        )


class ResolvedSettings(ScorerSettings):
    """`ScorerSettings` with every shared value filled in (what the service runs on)."""

    kafka_bootstrap: str
    registry_url: str
    model_dir: Path
    model_store: Literal["directory", "topic"]
    topic_model_store: str
    topic: str
    topic_scores: str
    topic_alerts: str
    topic_scores_shadow: str
    topic_dlq: str
    topic_models: str
    metrics_port: int
    bind_host: str

    def resolved(self, shared: Settings | None = None) -> ResolvedSettings:
        return self


def scorer_settings(**overrides: object) -> ResolvedSettings:
    """Settings from the environment plus explicit overrides, fully resolved."""
    return load_settings(ScorerSettings, **overrides).resolved()
