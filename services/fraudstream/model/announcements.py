"""The model topic's contract (`fraudstream_models`), both halves: announcing a published
model version (the trainer) and listening for announcements (the scorer).

The key is the version; the value carries metadata only (`announcement`), never weights:
the model store is the source of truth. For a listener a message is only a hint to check
`models/LATEST` at once, so a garbled or stale announcement can cause nothing but a check.
Each scorer replica reads the topic with its own throwaway group from the latest offset.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.model.errors import ModelError
from fraudstream.model.manifest import ModelManifest

if TYPE_CHECKING:
    from fraudstream.model.lifecycle import LifecycleEvent, ManagedModelStore

__all__ = [
    "AnnouncementError",
    "AnnouncementListener",
    "announce",
    "announce_change",
    "announcement",
]

log = logging.getLogger(__name__)


class AnnouncementError(ModelError):
    """A model version could not be announced (no acknowledgement from the broker)."""


def announcement(manifest: ModelManifest, path: str) -> dict[str, object]:
    """The JSON value announced for a model version."""
    return {
        "version": manifest.version,
        "path": path,
        "created_at": manifest.created_at.isoformat(),
        "threshold": manifest.threshold,
        "threshold_strategy": manifest.threshold_strategy,
        "score": manifest.score.kind,
        "features": manifest.features,
        "metrics": manifest.metrics,
    }


def announce(
    bootstrap: str, topic: str, manifest: ModelManifest, path: str, timeout_s: float = 15.0
) -> None:
    """Produce the announcement and wait for the broker's ack (AnnouncementError if none)."""
    errors: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    try:
        producer = Producer(
            producer_config(bootstrap, **{"message.timeout.ms": int(timeout_s * 1000)})
        )
        producer.produce(
            topic,
            key=manifest.version.encode(),
            value=json.dumps(announcement(manifest, path)).encode(),
            on_delivery=on_delivery,
        )
        remaining = producer.flush(timeout_s)
    except KafkaException as exc:
        raise AnnouncementError(f"announcing {manifest.version} on {topic} failed: {exc}") from None
    if remaining or errors:
        reason = errors[0] if errors else "no acknowledgement"
        raise AnnouncementError(f"announcing {manifest.version} on {topic} failed: {reason}")


def announce_change(
    store: ManagedModelStore,
    event: LifecycleEvent,
    bootstrap: str,
    topic: str,
    timeout_s: float = 5.0,
) -> None:
    """Announce a lifecycle change (promote, rollback, set-threshold) so scorers check their
    store at once; a failure is a warning only: the change is made and recorded, and
    scorers still find it at their next poll."""
    try:
        announce(
            bootstrap,
            topic,
            store.manifest(event.version),
            f"{store.location}/{event.version}",
            timeout_s=timeout_s,
        )
    except AnnouncementError as exc:
        log.warning("%s (scorers pick the change up at their next poll)", exc)


class AnnouncementListener:
    """A daemon thread calling `on_announce(key)` for every record on `topic`."""

    def __init__(self, bootstrap: str, topic: str, on_announce: Callable[[str], None]) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.on_announce = on_announce
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-announcements", daemon=True)
        self.assigned = threading.Event()  # set once partitions are assigned (tests wait on it)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            consumer = Consumer(
                consumer_config(
                    self.bootstrap,
                    f"fraudstream-scorer-announcements-{uuid.uuid4().hex[:12]}",
                    auto_offset_reset="latest",
                )
            )
        except KafkaException as exc:
            log.warning("model announcements disabled: %s", exc)
            return
        try:
            consumer.subscribe([self.topic], on_assign=lambda _c, _p: self.assigned.set())
            missing_logged = False
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        if not missing_logged:  # no trainer has announced yet: keep polling
                            log.info("no %s topic yet; LATEST polling only", self.topic)
                            missing_logged = True
                    else:
                        log.debug("announcement consumer: %s", err)
                    continue
                key = (msg.key() or b"").decode("utf-8", "replace")
                log.info("model announcement %r on %s: checking LATEST now", key, self.topic)
                try:
                    self.on_announce(key)
                except Exception:  # a hint must never kill the listener
                    log.exception("handling model announcement failed")
        finally:
            consumer.close()
