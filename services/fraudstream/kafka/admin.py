"""Admin helpers: wait for a broker, create and delete topics (idempotently)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka.clients import admin_config
from fraudstream.kafka.security import KafkaSecurity


def wait_for_broker(
    bootstrap: str, timeout: float = 30.0, *, security: KafkaSecurity | None = None
) -> AdminClient:
    """Return an AdminClient once the cluster answers a metadata request.

    Raises KafkaUnavailableError naming the address after `timeout` seconds (with the
    broker's reason: a refused SASL login says so in one line).
    """
    refused: list[KafkaError] = []

    def on_error(err: KafkaError) -> None:
        # a refused login (wrong password, unknown user) or TLS handshake will not heal
        if err.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL):
            refused.append(err)

    # log_level 0: the connection-refused lines while a broker starts are expected noise.
    admin = AdminClient(
        admin_config(
            bootstrap,
            security=security,
            error_cb=on_error,
            **{"socket.connection.setup.timeout.ms": 3000},
        )
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        admin.poll(0)  # serves error_cb
        if refused:
            raise KafkaUnavailableError(
                f"Kafka broker at {bootstrap} refused the connection: {refused[0].str()}"
            )
        try:
            md = admin.list_topics(timeout=min(2.0, max(remaining, 0.1)))
            if md.brokers:
                return admin
        except KafkaException as exc:
            last = exc
        time.sleep(0.2)
    reason = f" ({last})" if last else ""
    raise KafkaUnavailableError(
        f"Kafka broker at {bootstrap} did not answer within {timeout:.0f}s{reason}"
    )


def create_topics(
    admin: AdminClient,
    topics: Iterable[str],
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    replication_factor: int | None = None,
) -> None:
    """Create topics that do not exist yet; existing ones are left as they are.

    Every topic the project creates passes here, so this is the one place its layout is
    configured: the replication factor is `FRAUDSTREAM_TOPIC_REPLICATION_FACTOR` unless
    given (its default, -1, leaves it to the broker's `default.replication.factor`, so a
    3-broker cluster with `min.insync.replicas=2` gets topics that `acks=all` writes can
    succeed on), and `FRAUDSTREAM_TOPIC_PARTITIONS` (name -> count) overrides `partitions`
    for the topics it names.
    """
    from fraudstream.config import get_settings

    settings = get_settings()
    if replication_factor is None:
        replication_factor = settings.topic_replication_factor
    names = list(topics)
    existing = set(admin.list_topics(timeout=timeout).topics)
    new = [
        NewTopic(
            t,
            num_partitions=settings.topic_partitions.get(t, partitions),
            replication_factor=replication_factor,
            config=dict(config or {}),
        )
        for t in names
        if t not in existing
    ]
    if not new:
        return
    for topic, fut in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
                continue
            raise KafkaUnavailableError(f"could not create topic {topic}: {exc}") from exc
    _wait_for_leaders(admin, [t.topic for t in new], timeout)


def _wait_for_leaders(admin: AdminClient, topics: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=timeout)
        ready = all(
            t in md.topics
            and md.topics[t].error is None
            and md.topics[t].partitions
            and all(p.leader >= 0 for p in md.topics[t].partitions.values())
            for t in topics
        )
        if ready:
            return
        time.sleep(0.1)
    raise KafkaUnavailableError(f"topics {topics} have no leader after {timeout:.0f}s")


def delete_topics(admin: AdminClient, topics: Iterable[str], timeout: float = 30.0) -> None:
    """Delete topics; missing ones are ignored."""
    names = list(topics)
    if not names:
        return
    for _topic, fut in admin.delete_topics(names, operation_timeout=timeout).items():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].name() == "UNKNOWN_TOPIC_OR_PART":
                continue
            raise
