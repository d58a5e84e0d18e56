"""Listening to model announcements (`fraudstream_models`) to reload sooner than the poll.

The trainer announces a version after publishing it (`fraudstream train --announce`). The
message is only a hint: the scorer then checks `models/LATEST` at once (the model store is
the source of truth, so a garbled or stale announcement can cause nothing but a check).
Each replica reads the topic with its own throwaway group from the latest offset.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException

from fraudstream.kafka.clients import consumer_config

log = logging.getLogger(__name__)


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
