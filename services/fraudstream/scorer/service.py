"""The scoring service: consume -> decode -> score (NumPy) -> produce, in micro-batches.

Delivery (default, at-least-once): offsets are stored only after every output of a batch
(scores, alerts, dead letters) is acknowledged, then committed periodically and on
partition revoke / shutdown; a failed delivery rewinds the batch (the shared delivery
ledger, `fraudstream.kafka.delivery`). `exactly_once`: each batch is one Kafka transaction
holding its outputs and its input offsets.

`Scorer(settings).run(stop_event)` blocks until `stop_event` is set (SIGTERM/SIGINT in the
CLI): the current batch finishes, outputs are flushed, offsets committed, clients closed.
The parts: `connect` (start-up), `loop` (batches), `scoring`, `outputs` + `dlq` (produce),
`health` (probes, lag), `reload` (the model holder).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Set

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from fraudstream.config import get_settings
from fraudstream.errors import ConfigError
from fraudstream.httpserver import HttpServer
from fraudstream.kafka.delivery import DeliveryLedger, format_partitions
from fraudstream.model import open_store
from fraudstream.model.announcements import AnnouncementListener
from fraudstream.scorer.connect import ledger_timeout_s, make_clients, prepare_outputs
from fraudstream.scorer.health import Health
from fraudstream.scorer.http import make_app, metrics_server
from fraudstream.scorer.loop import ScoringLoop, Totals, limit_blas_threads
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.outputs import OutputWriter
from fraudstream.scorer.privacy import MaskingDecoder
from fraudstream.scorer.reload import ModelWatcher, ServingModel
from fraudstream.scorer.scoring import Scored
from fraudstream.scorer.settings import ResolvedSettings, ScorerSettings
from fraudstream.serde.errors import RegistryError, SerdeFailure
from fraudstream.serde.ksql_records import RecordDecoder
from fraudstream.serde.registry_client import RegistryClient, value_subject

log = logging.getLogger(__name__)


class Scorer:
    """One scorer replica. Replicas with the same `group` share the input partitions."""

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        self.settings: ResolvedSettings = (settings or ScorerSettings()).resolved()
        s = self.settings
        self.metrics = ScorerMetrics()
        store = open_store(
            s.model_store,
            model_dir=s.model_dir,
            bootstrap=s.kafka_bootstrap,
            topic=s.topic_model_store,
            chunk_bytes=get_settings().model_chunk_bytes,
        )
        self.watcher = ModelWatcher(
            store, s.reload_interval_s, s.explain_top_k, on_result=self._on_model_result
        )
        self.health = Health(self.metrics, self.watcher, lambda: self.assigned, s.health_stale_s)
        self.totals = Totals()
        self.announcements: AnnouncementListener | None = None
        self.port: int | None = None
        self._ledger: DeliveryLedger[Scored] | None = None
        self._loop: ScoringLoop | None = None
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._http: HttpServer | None = None
        self._schemas: RegistryClient | None = None

    # ------------------------------------------------------------------ state
    @property
    def assigned(self) -> Set[tuple[str, int]]:
        """Input partitions this replica owns now."""
        return self._ledger.assigned if self._ledger is not None else frozenset()

    @property
    def serving(self) -> ServingModel | None:
        """The model the loop scores with (swapped only between batches)."""
        return self._loop.serving if self._loop is not None else None

    @property
    def total_scored(self) -> int:
        return self.totals.scored

    @property
    def total_dead(self) -> int:
        return self.totals.dead

    @property
    def total_batches(self) -> int:
        return self.totals.batches

    def alive(self) -> tuple[bool, str]:
        return self.health.alive()

    def ready(self) -> tuple[bool, str]:
        return self.health.ready()

    def _on_model_result(self, version: str, ok: bool, why: str) -> None:
        self.metrics.model_reloads.labels(result="ok" if ok else "failed").inc()

    # ------------------------------------------------------------------ lifecycle
    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set; always closes what it opened."""
        s = self.settings
        if s.blas_threads:
            limit_blas_threads(s.blas_threads)
        try:
            if s.metrics_port:
                app = make_app(self.metrics.registry, self.alive, self.ready)
                self._http = metrics_server(app, s.bind_host, s.metrics_port)
                self._http.start()
                self.port = s.metrics_port
            self.watcher.start()
            if s.listen_announcements:
                self.announcements = AnnouncementListener(
                    s.kafka_bootstrap, s.topic_models, lambda _v: self.watcher.wake()
                )
                self.announcements.start()
            if not self._wait_for_model(stop) or not self._connect(stop):
                return
            # Start-up objects (modules, model, clients) never die: keep them out of the
            # cyclic GC's full collections, which would otherwise walk them mid-stream.
            gc.collect()
            gc.freeze()
            assert self._loop is not None
            self._loop.run(stop)
        finally:
            self._shutdown()

    def _wait_for_model(self, stop: threading.Event) -> bool:
        while self.watcher.current is None:
            self.health.heartbeat()
            if stop.wait(0.2):
                return False
        return True

    def _connect(self, stop: threading.Event) -> bool:
        s = self.settings
        self._schemas = RegistryClient(s.registry_url)
        outputs = prepare_outputs(s, self._schemas, stop, self.health.heartbeat)
        if outputs is None:
            return False
        # JSON input is the raw source topic: users are masked as KSQL masks them (privacy)
        decoder = (
            RecordDecoder("avro", self._schemas) if s.input_format == "avro" else MaskingDecoder()
        )
        if isinstance(decoder, RecordDecoder):
            self._warm_decoder(decoder, s.topic)
        self._consumer, self._producer = make_clients(s)
        self._ledger = DeliveryLedger(
            self._consumer,
            self._producer,
            delivery_timeout_s=ledger_timeout_s(s),
            commit_interval_s=s.commit_interval_ms / 1000.0,
            max_inflight_events=s.max_inflight_batches * s.batch_size,
        )
        self._loop = ScoringLoop(
            s,
            self._consumer,
            self._producer,
            self._ledger,
            decoder,
            OutputWriter(self._producer, s, outputs, self.metrics),
            self.watcher,
            self.metrics,
            self.health,
            self.totals,
        )
        self._consumer.subscribe(
            [s.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        mode = "exactly-once" if s.exactly_once else "at-least-once"
        log.info(
            "scoring %s (%s) -> %s/%s, group %s, %s, batch <= %d",
            s.topic, s.input_format, s.topic_scores, s.topic_alerts, s.group, mode, s.batch_size,
        )  # fmt: skip
        return True

    def _warm_decoder(self, decoder: RecordDecoder, topic: str) -> None:
        """Fetch and plan the input's latest writer schema before reporting ready: the first
        batch would otherwise wait for the registry (and build the plan) while the first
        records of a load queue behind it. Best effort: on any refusal the first record
        looks its schema up as before."""
        assert self._schemas is not None
        try:
            latest = self._schemas.latest(value_subject(topic))
            if latest is not None and decoder.prepare(latest[0]):
                log.info("input schema id %d of %s planned ahead", latest[0], topic)
        except (RegistryError, SerdeFailure) as exc:
            log.info("input schema of %s not looked up ahead (%s)", topic, exc)

    # ------------------------------------------------------------------ rebalance
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._ledger is not None
        self._ledger.assign(partitions)
        log.info("assigned %s", format_partitions(partitions))
        self.health.heartbeat()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The loop is single-threaded: every batch consumed so far is finished and its
        # offsets stored, so committing here hands the partitions over without re-scoring.
        assert self._ledger is not None
        self._ledger.revoke(partitions, commit=not self.settings.exactly_once)
        log.info("revoked %s", format_partitions(partitions))
        self.health.heartbeat()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._ledger is not None
        self._ledger.lose(partitions)
        log.warning("lost %s (not committing)", format_partitions(partitions))

    # ------------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        s = self.settings
        if self._ledger is not None:
            self._ledger.drain()
        if self._producer is not None:
            left = self._producer.flush(s.delivery_timeout_s)
            if left:
                log.error("%d outputs still unacknowledged at shutdown", left)
        if self._consumer is not None:
            if self._ledger is not None and not s.exactly_once:
                self._ledger.commit(asynchronous=False)
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("consumer close: %s", exc)
        # Drop the clients (and what holds them) so librdkafka's threads end now, not at
        # garbage collection.
        if self._ledger is not None:
            self._ledger.clear()
        self._producer = self._consumer = None
        self._ledger = self._loop = None
        self.watcher.stop()
        if self.announcements is not None:
            self.announcements.stop()
        if self._schemas is not None:
            self._schemas.close()
        if self._http is not None:
            self._http.stop()
        self.metrics.ready.set(0)
        log.info(
            "scorer stopped: %d scored, %d dead-lettered, %d batches",
            self.totals.scored, self.totals.dead, self.totals.batches,
        )  # fmt: skip


__all__ = ["ConfigError", "Scorer"]
