"""The scoring loop: poll -> decode -> score -> produce, one micro-batch at a time.

At-least-once (default): each batch joins the delivery ledger (`fraudstream.kafka.delivery`),
which stores its offsets once all its outputs are acknowledged, rewinds on a failure and
commits on a cadence; the ledger reports each completed batch to `_completed`, which counts
it. Exactly-once: each batch is one transaction holding its outputs and input offsets.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from fraudstream.kafka.delivery import (
    DeliveryLedger,
    InFlightBatch,
    abort_transaction,
    backoff,
    commit_transaction,
    seek,
)
from fraudstream.kafka.errors import (
    DeliveryFailedError,
    TransactionAbortedError,
    TransactionFatalError,
)
from fraudstream.scorer.drift import DriftWindow
from fraudstream.scorer.errors import DeliveryError, ScorerError
from fraudstream.scorer.health import Health
from fraudstream.scorer.metrics import (
    ScorerMetrics,
    event_latency_s,
    observe_many,
    record_times_ms,
)
from fraudstream.scorer.outputs import OutputWriter
from fraudstream.scorer.reload import ModelWatcher, ServingModel
from fraudstream.scorer.scoring import Scored, score_batch, score_shadow
from fraudstream.scorer.settings import ResolvedSettings
from fraudstream.serde.errors import RegistryUnavailableError
from fraudstream.serde.ksql_records import RecordDecoder

log = logging.getLogger(__name__)

_BENIGN_CODES = {KafkaError._PARTITION_EOF}


class Totals:
    """Totals kept for logs and tests (the metrics hold the same numbers)."""

    def __init__(self) -> None:
        self.scored = 0
        self.dead = 0
        self.batches = 0


class ScoringLoop:
    """Runs batches through decode, score and produce until stopped."""

    def __init__(
        self,
        settings: ResolvedSettings,
        consumer: Consumer,
        producer: Producer,
        ledger: DeliveryLedger[Scored],
        decoder: RecordDecoder,
        writer: OutputWriter,
        watcher: ModelWatcher,
        metrics: ScorerMetrics,
        health: Health,
        totals: Totals,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.ledger = ledger
        self.decoder = decoder
        self.writer = writer
        self.watcher = watcher
        self.metrics = metrics
        self.health = health
        self.totals = totals
        self.serving: ServingModel | None = None
        self.drift: DriftWindow | None = None
        ledger.on_complete = self._completed

    # ------------------------------------------------------------------ the loop
    def run(self, stop: threading.Event) -> None:
        s = self.settings
        timeout = s.max_wait_ms / 1000.0
        linger = s.batch_linger_ms / 1000.0
        next_lag = next_log = time.monotonic()
        logged = 0
        failures = 0
        while not stop.is_set():
            self.health.heartbeat()
            model = self._model()
            # Wake on the first record, then take whatever else is already fetched, and
            # wait up to `batch_linger_ms` for more while the batch is not full: heavy
            # traffic fills whole batches at once, a paced load makes fewer, larger batches.
            # With outputs awaiting acks, wake every 2 ms to serve their delivery reports
            # (offsets stored and latency observed when the ack arrives, not when the next
            # record does).
            head = self.consumer.poll(0.002 if self.ledger.inflight else timeout)
            msgs = [head] if head is not None else []
            if msgs and s.batch_size > 1:
                msgs += self.consumer.consume(s.batch_size - 1, timeout=0)
                if linger and len(msgs) < s.batch_size:
                    msgs += self._gather(s.batch_size - len(msgs), time.monotonic() + linger)
            if msgs:
                failures = self._batch(msgs, model, failures, stop)
            elif self.ledger.inflight:
                self.producer.poll(0)
                try:
                    self.ledger.settle()
                except DeliveryFailedError as exc:
                    log.warning("in-flight batch failed (%s)", exc)
            if not s.exactly_once:
                self.ledger.maybe_commit()
            now = time.monotonic()
            if now >= next_lag:
                self.health.update_lag(self.consumer)
                if self.drift is not None:
                    self.metrics.set_drift(self.drift.values(), self.drift.events)
                next_lag = now + s.lag_interval_s
            if now >= next_log:
                self._log_progress(now - next_log + 10.0, logged, model, first=next_log == now)
                logged = self.totals.scored
                next_log = now + 10.0

    def _gather(self, want: int, deadline: float) -> list[Message]:
        """Up to `want` more records, waiting until `deadline` at most (the batching wait:
        a batch has a fixed cost, so at a paced load fewer, larger batches cost less CPU)."""
        more: list[Message] = []
        while len(more) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more += self.consumer.consume(want - len(more), timeout=left)
        return more

    def _model(self) -> ServingModel:
        model = self.watcher.current
        assert model is not None
        if model is not self.serving:  # swap only here, between batches
            self.serving = model
            self.metrics.set_model(model.version, model.threshold)
            self._reset_drift(model)
            log.info("serving model %s", model.version)
        return model

    def _reset_drift(self, model: ServingModel) -> None:
        """A new model brings its own reference: start an empty window against it."""
        ref = model.model.manifest.drift_reference
        s = self.settings
        self.drift = None
        if s.drift and ref is not None:
            self.drift = DriftWindow(ref, s.drift_window, s.drift_min_events, s.drift_sample)
        self.metrics.set_drift({}, 0)

    def _batch(
        self, msgs: list[Message], model: ServingModel, failures: int, stop: threading.Event
    ) -> int:
        """Handle one polled batch; returns the updated count of consecutive failures.

        Records of partitions revoked while `consume()` ran are dropped: their new owner
        scores them (in exactly-once mode their offsets would fence the transaction)."""
        good = self.ledger.owned(self._drop_errors(msgs))
        if not good:
            return failures
        try:
            self._handle(good, model)
            return 0
        except (DeliveryError, RegistryUnavailableError, KafkaException) as exc:
            if not isinstance(exc, DeliveryError):  # the ledger rewound already
                self.ledger.rewind(good)
            failures += 1
            delay = backoff(failures, cap=10.0)
            log.warning("batch of %d failed (%s); rewound, retry in %.1fs", len(good), exc, delay)
            stop.wait(delay)
            return failures

    def _log_progress(self, window: float, logged: int, model: ServingModel, first: bool) -> None:
        scored = self.totals.scored
        if scored != logged or first:
            log.info(
                "scored %d (%.0f/s), dead-lettered %d, model %s, ready=%s",
                scored, (scored - logged) / max(window, 1e-9), self.totals.dead,
                model.version, self.health.ready()[0],
            )  # fmt: skip

    def _drop_errors(self, msgs: list[Message]) -> list[Message]:
        good = [m for m in msgs if m.error() is None]
        if len(good) == len(msgs):
            return good
        good = []
        for m in msgs:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.code() not in _BENIGN_CODES:
                log.warning("consume error: %s", err)
                if err.fatal():
                    raise ScorerError(f"fatal consumer error: {err}")
        return good

    # ------------------------------------------------------------------ one batch
    def _handle(self, msgs: list[Message], model: ServingModel) -> None:
        """Decode, score and produce one batch. At-least-once: the batch joins the ledger,
        which stores its offsets once all its outputs are acknowledged; exactly-once: one
        transaction with the outputs and the input offsets."""
        t0 = time.perf_counter()
        self.metrics.consumed.inc(len(msgs))
        self.metrics.batch_size.observe(len(msgs))
        batch = self.decoder.decode(msgs)
        scored = score_batch(
            batch, model, self.settings.explain_top_k, self.writer.outputs.score_prefix
        )
        scored.record_ms = record_times_ms(batch.msgs)  # rows and msgs are aligned here
        # one reference per batch (the watcher swaps it atomically)
        challenger: ServingModel | None = getattr(self.watcher, "challenger", None)
        if challenger is not None:
            score_shadow(
                scored, challenger, self.settings.explain_top_k, self.writer.outputs.shadow_prefix
            )
        if self.drift is not None:
            self.drift.observe(batch.numeric, scored.scores)
        fl = self.ledger.open(msgs, scored, topic=self.settings.topic)
        batch.msgs = []  # keep only what completion needs; the messages can be freed now
        if self.settings.exactly_once:
            self._transaction(fl, t0)
            return
        fl.expect(scored.outputs)
        self.writer.send(scored, fl.ack)
        self.metrics.scoring_duration.observe(time.perf_counter() - t0)
        try:
            self.ledger.track(fl)
        except DeliveryFailedError as exc:  # the toolkit's error, in the scorer's words
            raise DeliveryError(str(exc)) from exc

    def _transaction(self, fl: InFlightBatch[Scored], t0: float) -> None:
        """One transaction: the batch's outputs and its input offsets. A commit that timed
        out is retried (it may have gone through: an abort and a rewind would write the
        outputs twice); an abortable error aborts and rewinds; a fatal one stops the replica
        (a restart's `init_transactions` settles what was open)."""
        producer = self.producer
        timeout_s = self.settings.transaction_timeout_ms / 1000.0
        producer.begin_transaction()
        try:
            try:
                self.writer.send(fl.payload, None)
            except BaseException:
                abort_transaction(producer)
                raise
            self.metrics.scoring_duration.observe(time.perf_counter() - t0)
            commit_transaction(
                producer, self.consumer, fl.next, timeout_s=30.0, give_up_s=max(timeout_s, 30.0)
            )
        except TransactionAbortedError as exc:
            first = {(tp.topic, tp.partition): tp.offset for tp in fl.first}
            seek(self.consumer, first, self.ledger.assigned)
            raise DeliveryError(str(exc)) from exc
        except TransactionFatalError as exc:
            raise ScorerError(f"transactional producer is fenced or fatal: {exc}") from exc
        fl.done_at = time.time()
        self.ledger.complete_untracked(fl)

    def _completed(self, fl: InFlightBatch[Scored]) -> None:
        """The batch's outputs are durable (offsets stored by the ledger): count it."""
        scored = fl.payload
        batch = scored.batch
        m = self.metrics
        if len(batch):
            observe_many(m.event_latency, event_latency_s(fl.done_at, scored.record_ms))
            observe_many(m.score, scored.scores)
        m.scored.inc(len(batch))
        m.anomalous.inc(int(scored.anomalous.sum()))
        for d in batch.dead:
            m.dead_lettered.labels(reason=d.reason).inc()
            if d.limit is not None:
                m.decode_refusals.labels(limit=d.limit).inc()
        self.totals.scored += len(batch)
        self.totals.dead += len(batch.dead)
        self.totals.batches += 1


def limit_blas_threads(n: int) -> None:
    """Cap BLAS threads (threadpoolctl when installed; OPENBLAS_NUM_THREADS covers the rest)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


__all__ = ["ScoringLoop", "Totals", "limit_blas_threads"]
