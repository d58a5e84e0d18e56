"""Producer defaults (`FRAUDSTREAM_PRODUCER_*`); CLI options override them per run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fraudstream.config import FraudstreamSettings, settings_config

__all__ = [
    "ProducerSettings",
]


class ProducerSettings(FraudstreamSettings):
    """Knobs of `fraudstream produce`; topic names and bootstrap come from the shared Settings."""

    model_config = settings_config("PRODUCER_")

    rate: float = Field(0.0, ge=0, description="Target events/s; 0 = as fast as possible.")
    burst: float = Field(
        0.0, ge=0, description="Token-bucket capacity in events; 0 = rate/10 (100 ms worth)."
    )
    seed: int = Field(42, description="Seed of the synthetic generator and the users table.")
    fraud_rate: float = Field(
        0.00172, ge=0, le=0.5, description="Synthetic fraud prevalence (the dataset's 0.172 %)."
    )
    users: int = Field(1000, ge=1, le=10_000_000, description="Size of the users table.")
    start: str = Field(
        "2013-09-01T00:00:00Z",
        description="Timestamp origin: Timestamp = start + Time seconds (ISO-8601, or 'now').",
    )
    partitions: int = Field(
        4, ge=1, le=1000, description="Partitions for the source topic when it is created."
    )
    broker_wait_s: float = Field(30.0, gt=0, description="How long to wait for the broker.")
    flush_timeout_s: float = Field(
        60.0, gt=0, description="Final flush bound; events still unconfirmed then count as failed."
    )
    delivery_timeout_ms: int = Field(
        0,
        ge=0,
        description="librdkafka message.timeout.ms. 0 (default): never give up on an event; "
        "during a broker outage events wait in the bounded local queue and the producer slows "
        "down instead of dropping them. N > 0: give up after N ms and count the event failed.",
    )
    linger_ms: int = Field(20, ge=0, le=1000, description="librdkafka linger.ms (batching).")
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4",
        description="Batch compression of the source topic. lz4 (default) stores ~1.7x fewer "
        "bytes (315 vs 540 B/event) and was fastest on a quiet machine; 'none' costs the "
        "producer less CPU, which helped on a CPU-starved one (see docs/benchmarks.md).",
    )
    labels: Literal["inline", "delayed"] = Field(
        "inline",
        description="inline: each event carries its label (Class); delayed: live events carry "
        "none and the labels go to the labels topic later (FRAUDSTREAM_TOPIC_LABELS).",
    )
    label_delay: str = Field(
        "exp:10s",
        description="Delay of each label with --labels delayed: fixed:D, uniform:A,B or "
        "exp:MEAN (durations like 500ms, 5s, 2m, 1.5h, 3d).",
    )
    label_share: float = Field(
        1.0, gt=0, le=1, description="Share of labels that ever arrive (delayed labels)."
    )
    label_drain_s: float = Field(
        60.0,
        ge=0,
        description="At the end of a run, how long to keep publishing labels as they fall due.",
    )
