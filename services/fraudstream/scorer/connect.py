"""Start-up of a scorer replica: wait for the broker, create topics, register the output
schemas and build the consumer/producer pair, retrying transient failures with backoff."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka import consumer_config, create_topics, producer_config, wait_for_broker
from fraudstream.kafka.delivery import backoff
from fraudstream.scorer.errors import ScorerError
from fraudstream.scorer.settings import ResolvedSettings
from fraudstream.serde.errors import RegistryUnavailableError
from fraudstream.serde.registry_client import RegistryClient, value_subject
from fraudstream.serde.schemas import load_schema
from fraudstream.serde.wire import header

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Outputs:
    """Where the scores and alerts go: Confluent wire prefixes of their registered schemas.

    The shadow scores have their own subject (`<shadow topic>-value`, TopicNameStrategy), so
    a consumer of the shadow topic finds its schema as for any topic; the schema is the
    scores' (the registry gives an identical schema the same id, so the prefix is usually
    the scores' too)."""

    score_prefix: bytes
    alert_prefix: bytes
    shadow_prefix: bytes = b""


def retrying(
    what: str,
    fn: Callable[[], T],
    stop: threading.Event,
    limit_s: float,
    heartbeat: Callable[[], None],
) -> T | None:
    """Call fn until it succeeds, with exponential backoff and one log line per try.

    None if `stop` was set while waiting; ScorerError after `limit_s` (0: no limit)."""
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return fn()
        except (KafkaUnavailableError, RegistryUnavailableError, KafkaException) as exc:
            waited = time.monotonic() - start
            if limit_s and waited >= limit_s:
                raise ScorerError(f"{what} failed for {waited:.0f}s: {exc}") from exc
            delay = backoff(attempt)
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            attempt += 1
            heartbeat()
            if stop.wait(delay):
                return None


def prepare_outputs(
    s: ResolvedSettings,
    schemas: RegistryClient,
    stop: threading.Event,
    heartbeat: Callable[[], None],
) -> Outputs | None:
    """Broker reachable, output topics present, output schemas registered (None: stopped)."""
    admin = retrying(
        f"connecting to Kafka at {s.kafka_bootstrap}",
        lambda: wait_for_broker(s.kafka_bootstrap, timeout=5.0),
        stop,
        s.broker_wait_s,
        heartbeat,
    )
    if admin is None:
        return None
    if s.create_output_topics:
        outs = [s.topic_scores, s.topic_alerts, s.topic_dlq, s.topic_scores_shadow]
        retrying(
            "creating output topics",
            lambda: create_topics(admin, outs, partitions=s.output_partitions),
            stop,
            s.broker_wait_s,
            heartbeat,
        )

    def register() -> tuple[int, int, int]:
        # ensure: registered, or looked up when the registry is read-only (issue 14)
        return (
            schemas.ensure(value_subject(s.topic_scores), load_schema("score")),
            schemas.ensure(value_subject(s.topic_alerts), load_schema("alert")),
            schemas.ensure(value_subject(s.topic_scores_shadow), load_schema("score")),
        )

    ids = retrying(
        f"registering output schemas at {s.registry_url}",
        register,
        stop,
        s.broker_wait_s,
        heartbeat,
    )
    if ids is None:
        return None
    return Outputs(header(ids[0]), header(ids[1]), header(ids[2]))


def message_timeout_ms(s: ResolvedSettings) -> int:
    """librdkafka's `message.timeout.ms` (= `delivery.timeout.ms`) for the output producer:
    the scorer's own delivery timeout (librdkafka's default is 300 s: a batch the ledger
    gave up on and rewound would still be retried, and delivered later as a duplicate).
    Transactional producers must keep it within `transaction.timeout.ms`."""
    ms = int(s.delivery_timeout_s * 1000)
    if s.exactly_once:
        ms = min(ms, s.transaction_timeout_ms)
    return max(ms, int(s.linger_ms) + 1)


def ledger_timeout_s(s: ResolvedSettings) -> float:
    """How long the delivery ledger waits for a batch's acks: a little longer than the
    producer's message timeout, so librdkafka reports (and stops retrying) a lost output
    before the ledger rewinds its batch."""
    return message_timeout_ms(s) / 1000.0 + 2.0


def client_configs(s: ResolvedSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The consumer and producer configurations of a replica (see `make_clients`)."""
    client_id = f"fraudstream-scorer-{socket.gethostname()}-{os.getpid()}"
    cextra: dict[str, Any] = {
        "client.id": client_id,
        # Prefetch bound (whole consumer queue, bounds RSS). When it is full librdkafka
        # pauses fetching for fetch.queue.backoff.ms (default 1 s!): keep that short.
        "queued.max.messages.kbytes": 16384,
        "fetch.queue.backoff.ms": 5,
        "fetch.min.bytes": s.fetch_min_bytes,
        "fetch.wait.max.ms": s.fetch_wait_max_ms,
        "session.timeout.ms": s.session_timeout_ms,
        "heartbeat.interval.ms": max(s.session_timeout_ms // 4, 500),
        "error_cb": _on_client_error,
    }
    pextra: dict[str, Any] = {
        "client.id": client_id,
        "linger.ms": s.linger_ms,
        "error_cb": _on_client_error,
        # At-least-once passes a per-batch callback with each record; this default
        # only logs (exactly-once learns the outcome from commit_transaction).
        "on_delivery": _on_delivery,
        "message.timeout.ms": message_timeout_ms(s),
    }
    if s.exactly_once:
        cextra["isolation.level"] = "read_committed"
        pextra["transactional.id"] = (
            s.transactional_id or f"{s.group}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        )
        pextra["transaction.timeout.ms"] = s.transaction_timeout_ms
    cconf = consumer_config(s.kafka_bootstrap, s.group)
    cconf.update(cextra)
    pconf = producer_config(s.kafka_bootstrap)
    pconf.update(pextra)
    return cconf, pconf


def make_clients(s: ResolvedSettings) -> tuple[Consumer, Producer]:
    """The input consumer and the output producer (transactional in exactly-once mode)."""
    cconf, pconf = client_configs(s)
    consumer = Consumer(cconf)
    producer = Producer(pconf)
    if s.exactly_once:
        producer.init_transactions(30)
    return consumer, producer


def _on_client_error(err: KafkaError) -> None:
    if err.fatal():
        log.error("Kafka client fatal error: %s", err)
    else:
        log.warning("Kafka client: %s", err)


def _on_delivery(err: KafkaError | None, msg: Message) -> None:
    """Default delivery report (exactly-once mode: the transaction commit is the ack)."""
    if err is not None:
        log.error("delivery to %s failed: %s", msg.topic(), err)


__all__ = [
    "Outputs",
    "client_configs",
    "ledger_timeout_s",
    "make_clients",
    "message_timeout_ms",
    "prepare_outputs",
    "retrying",
]
