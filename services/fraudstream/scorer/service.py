"""The scoring service: consume -> decode -> score (NumPy) -> produce, in micro-batches.

Delivery (default, at-least-once): offsets are stored only after every output of a batch
(scores, alerts, dead letters) is acknowledged, then committed periodically and on
partition revoke / shutdown; a failed delivery rewinds the batch. `exactly_once`: each
batch is one Kafka transaction holding its outputs and its input offsets.

`Scorer(settings).run(stop_event)` blocks until `stop_event` is set (SIGTERM/SIGINT in the
CLI): the current batch finishes, outputs are flushed, offsets committed, clients closed.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from fraudstream.errors import ConfigError, KafkaUnavailableError
from fraudstream.httpserver import HttpServer
from fraudstream.kafka import consumer_config, create_topics, producer_config, wait_for_broker
from fraudstream.schemas import load_schema
from fraudstream.scorer.announcements import AnnouncementListener
from fraudstream.scorer.decode import DeadLetter, DecodedBatch, Decoder
from fraudstream.scorer.errors import DeliveryError, ScorerError
from fraudstream.scorer.http import make_app, metrics_server
from fraudstream.scorer.metrics import ScorerMetrics, observe_many
from fraudstream.scorer.reload import ModelWatcher, ServingModel
from fraudstream.scorer.schemas import SchemaSource
from fraudstream.scorer.settings import ResolvedSettings, ScorerSettings
from fraudstream.serde.errors import RegistryUnavailableError

log = logging.getLogger(__name__)

_WIRE = struct.Struct(">bI")
_BENIGN_CODES = {KafkaError._PARTITION_EOF}


def _backoff(attempt: int, cap: float = 30.0) -> float:
    return float(min(cap, 0.5 * 2 ** min(attempt, 10)))


class Scorer:
    """One scorer replica. Replicas with the same `group` share the input partitions."""

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        self.settings: ResolvedSettings = (settings or ScorerSettings()).resolved()
        s = self.settings
        self.metrics = ScorerMetrics()
        self.watcher = ModelWatcher(
            s.model_dir, s.reload_interval_s, s.explain_top_k, on_result=self._on_model_result
        )
        self._assigned: set[tuple[str, int]] = set()
        self._last_poll = time.monotonic()
        self._serving: ServingModel | None = None
        self._inflight: deque[_InFlight] = deque()
        self.announcements: AnnouncementListener | None = None
        self._inflight_events = 0
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._http: HttpServer | None = None
        self._schemas: SchemaSource | None = None
        self._score_prefix = b""
        self._alert_prefix = b""
        self.port: int | None = None
        # Totals kept for logs and tests (the metrics hold the same numbers).
        self.total_scored = 0
        self.total_dead = 0
        self.total_batches = 0

    # ------------------------------------------------------------------ health
    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self._last_poll
        ok = age <= self.settings.health_stale_s
        return ok, f"poll loop ran {age:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        model = self.watcher.current
        if model is None:
            return False, "no model loaded"
        if not self._assigned:
            return False, f"model {model.version} loaded; no partitions assigned"
        return True, f"model {model.version}; {len(self._assigned)} partitions"

    def _heartbeat(self) -> None:
        self._last_poll = time.monotonic()
        self.metrics.last_poll.set(time.time())
        self.metrics.ready.set(1 if self.ready()[0] else 0)

    def _on_model_result(self, version: str, ok: bool, why: str) -> None:
        self.metrics.model_reloads.labels(result="ok" if ok else "failed").inc()

    # ------------------------------------------------------------------ lifecycle
    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set; always closes what it opened."""
        s = self.settings
        if s.blas_threads:
            _limit_blas_threads(s.blas_threads)
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
            if not self._wait_for_model(stop):
                return
            if not self._connect(stop):
                return
            # Start-up objects (modules, model, clients) never die: keep them out of the
            # cyclic GC's full collections, which would otherwise walk them mid-stream.
            gc.collect()
            gc.freeze()
            self._loop(stop)
        finally:
            self._shutdown()

    def _wait_for_model(self, stop: threading.Event) -> bool:
        while self.watcher.current is None:
            self._heartbeat()
            if stop.wait(0.2):
                return False
        return True

    def _retrying(self, what: str, fn: Callable[[], Any], stop: threading.Event) -> Any:
        """Call fn until it succeeds, with exponential backoff and one log line per try."""
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return fn()
            except (KafkaUnavailableError, RegistryUnavailableError, KafkaException) as exc:
                waited = time.monotonic() - start
                limit = self.settings.broker_wait_s
                if limit and waited >= limit:
                    raise ScorerError(f"{what} failed for {waited:.0f}s: {exc}") from exc
                delay = _backoff(attempt)
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                attempt += 1
                self._heartbeat()
                if stop.wait(delay):
                    return None

    def _connect(self, stop: threading.Event) -> bool:
        s = self.settings
        admin = self._retrying(
            f"connecting to Kafka at {s.kafka_bootstrap}",
            lambda: wait_for_broker(s.kafka_bootstrap, timeout=5.0),
            stop,
        )
        if admin is None:
            return False
        if s.create_output_topics:
            outs = [s.topic_scores, s.topic_alerts, s.topic_dlq]
            self._retrying(
                "creating output topics",
                lambda: create_topics(admin, outs, partitions=s.output_partitions),
                stop,
            )
        self._schemas = SchemaSource(s.registry_url)
        ids = self._retrying(
            f"registering output schemas at {s.registry_url}", self._register_outputs, stop
        )
        if ids is None:
            return False
        self._score_prefix = _WIRE.pack(0, ids[0])
        self._alert_prefix = _WIRE.pack(0, ids[1])
        decoder_schemas = self._schemas if s.input_format == "avro" else None
        self._decoder = Decoder(s.input_format, decoder_schemas)
        self._consumer, self._producer = self._clients()
        self._consumer.subscribe(
            [s.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        mode = "exactly-once" if s.exactly_once else "at-least-once"
        log.info(
            "scoring %s (%s) -> %s/%s, group %s, %s, batch <= %d",
            s.topic, s.input_format, s.topic_scores, s.topic_alerts, s.group, mode, s.batch_size,
        )  # fmt: skip
        return True

    def _register_outputs(self) -> tuple[int, int]:
        assert self._schemas is not None
        s = self.settings
        return (
            self._schemas.register(f"{s.topic_scores}-value", load_schema("score")),
            self._schemas.register(f"{s.topic_alerts}-value", load_schema("alert")),
        )

    def _clients(self) -> tuple[Consumer, Producer]:
        s = self.settings
        client_id = f"fraudstream-scorer-{socket.gethostname()}-{os.getpid()}"
        cextra: dict[str, Any] = {
            "client.id": client_id,
            # Prefetch bound (whole consumer queue, bounds RSS). When it is full librdkafka
            # pauses fetching for fetch.queue.backoff.ms (default 1 s!): keep that short.
            "queued.max.messages.kbytes": 16384,
            "fetch.queue.backoff.ms": 5,
            "session.timeout.ms": s.session_timeout_ms,
            "heartbeat.interval.ms": max(s.session_timeout_ms // 4, 500),
            "error_cb": self._on_client_error,
        }
        pextra: dict[str, Any] = {
            "client.id": client_id,
            "linger.ms": s.linger_ms,
            "error_cb": self._on_client_error,
            # At-least-once passes a per-batch callback with each record; this default
            # only logs (exactly-once learns the outcome from commit_transaction).
            "on_delivery": self._on_delivery,
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
        consumer = Consumer(cconf)
        producer = Producer(pconf)
        if s.exactly_once:
            producer.init_transactions(30)
        return consumer, producer

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("Kafka client fatal error: %s", err)
        else:
            log.warning("Kafka client: %s", err)

    # ------------------------------------------------------------------ rebalance
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((p.topic, p.partition) for p in partitions)
        log.info("assigned %s", _fmt_tps(partitions))
        self._heartbeat()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The loop is single-threaded: every batch consumed so far is finished and its
        # offsets stored, so committing here hands the partitions over without re-scoring.
        if not self.settings.exactly_once:
            self._drain()
            self._commit(asynchronous=False)
        self._assigned.difference_update((p.topic, p.partition) for p in partitions)
        log.info("revoked %s", _fmt_tps(partitions))
        self._heartbeat()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.difference_update((p.topic, p.partition) for p in partitions)
        log.warning("lost %s (not committing)", _fmt_tps(partitions))

    def _drain(self) -> None:
        """Wait for every in-flight batch and store its offsets (before a commit)."""
        if not self._inflight:
            return
        try:
            self._settle(timeout=self.settings.delivery_timeout_s)
        except DeliveryError as exc:
            log.warning("in-flight outputs failed while draining (%s); not committed", exc)

    def _commit(self, asynchronous: bool) -> None:
        assert self._consumer is not None
        try:
            if asynchronous:
                self._consumer.commit(asynchronous=True)
            else:
                self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("offset commit failed: %s", exc)

    # ------------------------------------------------------------------ main loop
    def _loop(self, stop: threading.Event) -> None:
        s = self.settings
        consumer = self._consumer
        assert consumer is not None
        timeout = s.max_wait_ms / 1000.0
        next_commit = next_lag = next_log = time.monotonic()
        logged_scored = 0
        failures = 0
        while not stop.is_set():
            self._heartbeat()
            model = self.watcher.current
            assert model is not None
            if model is not self._serving:  # swap only here, between batches
                self._serving = model
                self.metrics.set_model(model.version, model.threshold)
                log.info("serving model %s", model.version)
            # Wake on the first record, then take whatever else is already fetched: light
            # traffic is scored at once (low latency), heavy traffic fills whole batches.
            # With outputs awaiting acks, wake every 2 ms to serve their delivery reports
            # (offsets stored and latency observed when the ack arrives, not when the next
            # record does).
            head_msg = consumer.poll(0.002 if self._inflight else timeout)
            msgs = [head_msg] if head_msg is not None else []
            if msgs and s.batch_size > 1:
                msgs += consumer.consume(s.batch_size - 1, timeout=0)
            now = time.monotonic()
            if msgs:
                good = self._drop_errors(msgs)
                if good:
                    try:
                        self._handle(good, model)
                        failures = 0
                    except (DeliveryError, RegistryUnavailableError, KafkaException) as exc:
                        if not isinstance(exc, DeliveryError):  # DeliveryError rewound already
                            self._rewind(good)
                        failures += 1
                        delay = _backoff(failures, cap=10.0)
                        log.warning(
                            "batch of %d failed (%s); rewound, retry in %.1fs",
                            len(good), exc, delay,
                        )  # fmt: skip
                        stop.wait(delay)
            elif self._inflight:
                self._producer.poll(0)  # type: ignore[union-attr]
                try:
                    self._settle()
                except DeliveryError as exc:
                    log.warning("in-flight batch failed (%s); rewound", exc)
            if not s.exactly_once and now >= next_commit:
                self._commit(asynchronous=True)
                next_commit = now + s.commit_interval_ms / 1000.0
            if now >= next_lag:
                self._update_lag()
                next_lag = now + s.lag_interval_s
            if now >= next_log:
                rate = (self.total_scored - logged_scored) / max(now - next_log + 10.0, 1e-9)
                if self.total_scored != logged_scored or next_log == now:
                    log.info(
                        "scored %d (%.0f/s), dead-lettered %d, model %s, ready=%s",
                        self.total_scored, rate, self.total_dead, model.version, self.ready()[0],
                    )  # fmt: skip
                logged_scored = self.total_scored
                next_log = now + 10.0

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

    def _rewind(self, msgs: Sequence[Message]) -> None:
        """Seek every partition of a failed batch back to its first offset in the batch."""
        assert self._consumer is not None
        first: dict[tuple[str, int], int] = {}
        for m in msgs:
            tp = (m.topic() or "", m.partition() or 0)
            off = m.offset() or 0
            if tp not in first or off < first[tp]:
                first[tp] = off
        for (topic, part), off in first.items():
            if (topic, part) in self._assigned:
                try:
                    self._consumer.seek(TopicPartition(topic, part, off))
                except KafkaException as exc:
                    log.warning("seek %s[%d]@%d failed: %s", topic, part, off, exc)

    # ------------------------------------------------------------------ one batch
    def _handle(self, msgs: list[Message], model: ServingModel) -> None:
        """Decode, score and produce one batch. At-least-once: the batch joins the in-flight
        queue and its offsets are stored once all its outputs are acknowledged (`_settle`);
        exactly-once: one transaction with the outputs and the input offsets."""
        s = self.settings
        producer = self._producer
        assert producer is not None
        t0 = time.perf_counter()
        self.metrics.consumed.inc(len(msgs))
        self.metrics.batch_size.observe(len(msgs))
        first, nxt = _offsets(msgs)
        if s.exactly_once:
            producer.begin_transaction()
            try:
                fl = self._send(msgs, model, first, nxt, t0, track=False)
                producer.send_offsets_to_transaction(nxt, self._consumer_meta(), 30)
                producer.commit_transaction(30)
            except BaseException:
                self._abort()
                raise
            fl.done_at = time.time()
            self._complete(fl, store=False)
            return
        fl = self._send(msgs, model, first, nxt, t0, track=True)
        self._inflight.append(fl)
        self._inflight_events += len(msgs)
        producer.poll(0)
        limit = s.max_inflight_batches * s.batch_size
        self._settle(block=self._inflight_events > limit or len(self._inflight) > 4096)

    def _send(
        self,
        msgs: list[Message],
        model: ServingModel,
        first: list[TopicPartition],
        nxt: list[TopicPartition],
        t0: float,
        track: bool,
    ) -> _InFlight:
        batch = self._decoder.decode(msgs)
        scores, anomalous, bodies, keys = self._score(batch, model)
        fl = _InFlight(first, nxt, batch, scores, int(anomalous.sum()))
        fl.size = len(msgs)
        # Keep only what completion needs; the messages themselves can be freed now.
        batch.msgs = []
        fl.left = len(bodies) + fl.anomalous + len(batch.dead)
        cb = fl.ack if track else None
        st, at = self.settings.topic_scores, self.settings.topic_alerts
        sp, ap = self._score_prefix, self._alert_prefix
        assert self._producer is not None
        produce = self._producer.produce
        i, n = 0, len(bodies)
        while i < n:  # one C call per record; on a full local queue, drain and resume
            try:
                if cb is None:
                    for i in range(i, n):  # noqa: B020 - resumes at the record that failed
                        produce(st, bodies[i], keys[i])
                else:
                    for i in range(i, n):  # noqa: B020
                        produce(st, bodies[i], keys[i], on_delivery=cb)
                i = n
            except BufferError:
                self._producer.poll(0.05)
        for j in np.flatnonzero(anomalous).tolist():
            self._produce(produce, at, keys[j], ap + bodies[j][len(sp) :], cb)
        self._produce_dead(batch.dead, cb)
        self.metrics.scoring_duration.observe(time.perf_counter() - t0)
        if fl.left == 0:
            fl.done_at = time.time()
        return fl

    def _settle(self, block: bool = False, timeout: float | None = None) -> None:
        """Store offsets of in-flight batches whose outputs are all acknowledged, in order.

        `block`: wait (serving delivery reports) until at least the oldest batch is done
        (or all of them with `timeout`). A failed or timed-out batch rewinds the consumer
        to it, dropping the later in-flight batches too: they are simply scored again.
        """
        producer = self._producer
        assert producer is not None
        drain_all = timeout is not None
        deadline = time.monotonic() + (timeout or self.settings.delivery_timeout_s)
        while self._inflight:
            head = self._inflight[0]
            if head.left > 0 and not head.errors:
                if not (block or drain_all):
                    return
                if time.monotonic() > deadline:
                    head.errors.append(f"{head.left} outputs unacknowledged after timeout")
                else:
                    producer.poll(0.01)
                    continue
            self._inflight.popleft()
            self._inflight_events -= head.size
            if head.errors:
                self._fail(head)
                return
            self._complete(head, store=True)
            block = False

    def _fail(self, head: _InFlight) -> None:
        """Rewind every partition to the oldest unacknowledged batch; raise DeliveryError."""
        seek: dict[tuple[str, int], int] = {}
        for fl in (head, *self._inflight):
            for tp in fl.first:
                key = (tp.topic, tp.partition)
                seek[key] = min(seek.get(key, tp.offset), tp.offset)
        self._inflight.clear()
        self._inflight_events = 0
        assert self._consumer is not None
        for (topic, part), off in seek.items():
            if (topic, part) in self._assigned:
                try:
                    self._consumer.seek(TopicPartition(topic, part, off))
                except KafkaException as exc:
                    log.warning("seek %s[%d]@%d failed: %s", topic, part, off, exc)
        raise DeliveryError(f"{len(head.errors)} outputs failed (first: {head.errors[0]})")

    def _complete(self, fl: _InFlight, store: bool) -> None:
        """The batch's outputs are durable: store its offsets and count it."""
        if store:
            assert self._consumer is not None
            try:
                self._consumer.store_offsets(offsets=fl.next)
            except KafkaException as exc:  # partition revoked meanwhile: its new owner redoes it
                log.warning("could not store offsets %s: %s", _fmt_tps(fl.next), exc)
        batch = fl.batch
        if len(batch):
            lat = (fl.done_at * 1000.0 - np.asarray(batch.event_ms, np.float64)) / 1000.0
            observe_many(self.metrics.event_latency, np.maximum(lat, 0.0))
            observe_many(self.metrics.score, fl.scores)
        self.metrics.scored.inc(len(batch))
        self.metrics.anomalous.inc(fl.anomalous)
        for d in batch.dead:
            self.metrics.dead_lettered.labels(reason=d.reason).inc()
        self.total_scored += len(batch)
        self.total_dead += len(batch.dead)
        self.total_batches += 1

    def _consumer_meta(self) -> Any:
        assert self._consumer is not None
        return self._consumer.consumer_group_metadata()

    def _abort(self) -> None:
        assert self._producer is not None
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:
            if exc.args[0].fatal():
                raise ScorerError(f"transactional producer is fenced or fatal: {exc}") from exc
            log.warning("abort_transaction: %s", exc)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        """Default delivery report (exactly-once mode: the transaction commit is the ack)."""
        if err is not None:
            log.error("delivery to %s failed: %s", msg.topic(), err)

    def _score(
        self, batch: DecodedBatch, model: ServingModel
    ) -> tuple[Any, Any, list[bytes], list[bytes]]:
        """(scores, anomalous mask, encoded bodies, keys) for the batch's scorable rows."""
        n = len(batch)
        if n == 0:
            return np.empty(0), np.zeros(0, np.bool_), [], []
        scores, fe = model.score(batch.numeric)
        finite = np.isfinite(scores)
        if not bool(finite.all()):
            batch.keep(np.asarray(finite, np.bool_), "invalid_value", ["non-finite score"] * n)
            scores, fe = scores[finite], fe[finite]
            n = len(batch)
        k = min(self.settings.explain_top_k, fe.shape[1])
        top = np.argpartition(-fe, k - 1, axis=1)[:, :k] if k < fe.shape[1] else None
        if top is None:
            top = np.argsort(-fe, axis=1, kind="stable")
        else:  # order the k largest (argpartition leaves them unordered)
            order = np.argsort(-np.take_along_axis(fe, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
        total = fe.sum(axis=1, keepdims=True)
        share = np.take_along_axis(fe, top, axis=1) / np.where(total > 0, total, 1.0)
        anomalous = scores > model.threshold
        bodies = model.writer.encode_batch(
            batch.ids, batch.users, batch.numeric[:, -1], scores, anomalous, batch.labels,
            batch.event_ms, int(time.time() * 1000), top, share, self._score_prefix,
        )  # fmt: skip
        keys = [b"%d" % i for i in batch.ids]
        return scores, anomalous, bodies, keys

    def _produce(
        self, produce: Callable[..., None], topic: str, key: bytes | None, value: bytes | None,
        cb: Callable[..., None] | None, headers: list[tuple[str, bytes]] | None = None,
    ) -> None:  # fmt: skip
        kw: dict[str, Any] = {}
        if cb is not None:
            kw["on_delivery"] = cb
        if headers is not None:
            kw["headers"] = headers
        while True:
            try:
                produce(topic, value, key, **kw)
                return
            except BufferError:  # local queue full: let librdkafka drain it
                assert self._producer is not None
                self._producer.poll(0.05)

    def _produce_dead(self, dead: list[DeadLetter], cb: Callable[..., None] | None) -> None:
        if not dead:
            return
        assert self._producer is not None
        produce = self._producer.produce
        now = datetime.now(UTC).isoformat()
        for d in dead:
            m = d.msg
            headers = list(m.headers() or [])
            headers += [
                ("dlq.reason", d.reason.encode()),
                ("dlq.error", d.detail[:2000].encode("utf-8", "replace")),
                ("dlq.source.topic", (m.topic() or "").encode()),
                ("dlq.source.partition", str(m.partition()).encode()),
                ("dlq.source.offset", str(m.offset()).encode()),
                ("dlq.time", now.encode()),
            ]
            value = m.value()
            limit = self.settings.dlq_max_value_bytes
            if value is not None and len(value) > limit:
                # Too big to fit a DLQ record with its headers: keep the head, say so.
                headers.append(("dlq.truncated_from", str(len(value)).encode()))
                value = value[:limit]
            self._produce(produce, self.settings.topic_dlq, m.key(), value, cb, headers)
        if len(dead) <= 3:
            for d in dead:
                log.warning("dead letter (%s): %s", d.reason, d.detail)
        else:
            log.warning(
                "%d dead letters (first: %s: %s)", len(dead), dead[0].reason, dead[0].detail
            )

    # ------------------------------------------------------------------ lag + shutdown
    def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None or not self._assigned:
            self.metrics.set_lag([])
            return
        tps = [TopicPartition(t, p) for t, p in sorted(self._assigned)]
        lags: list[tuple[str, int, int]] = []
        try:
            positions = consumer.position(tps)
            for tp in positions:
                _lo, hi = consumer.get_watermark_offsets(tp, cached=True)
                if hi >= 0 and tp.offset >= 0:
                    lags.append((tp.topic, tp.partition, max(hi - tp.offset, 0)))
        except KafkaException as exc:
            log.debug("lag update failed: %s", exc)
            return
        self.metrics.set_lag(lags)

    def _shutdown(self) -> None:
        s = self.settings
        if self._producer is not None and self._consumer is not None:
            self._drain()
        if self._producer is not None:
            left = self._producer.flush(s.delivery_timeout_s)
            if left:
                log.error("%d outputs still unacknowledged at shutdown", left)
        if self._consumer is not None:
            if not s.exactly_once:
                self._commit(asynchronous=False)
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("consumer close: %s", exc)
        # Drop the clients so librdkafka's threads end now, not at garbage collection.
        self._producer = None
        self._consumer = None
        self._assigned.clear()
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
            self.total_scored, self.total_dead, self.total_batches,
        )  # fmt: skip


def _limit_blas_threads(n: int) -> None:
    """Cap BLAS threads (threadpoolctl when installed; OPENBLAS_NUM_THREADS covers the rest)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


class _InFlight:
    """One produced batch waiting for its acknowledgements (at-least-once)."""

    __slots__ = (
        "anomalous", "batch", "done_at", "errors", "first", "left", "next", "scores", "size",
    )  # fmt: skip

    def __init__(
        self,
        first: list[TopicPartition],
        nxt: list[TopicPartition],
        batch: DecodedBatch,
        scores: Any,
        anomalous: int,
    ) -> None:
        self.first = first
        self.next = nxt
        self.batch = batch
        self.scores = scores
        self.anomalous = anomalous
        self.left = 0
        self.size = 0
        self.errors: list[str] = []
        self.done_at = 0.0

    def ack(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")
        self.left -= 1
        if self.left == 0:
            self.done_at = time.time()


def _offsets(msgs: Sequence[Message]) -> tuple[list[TopicPartition], list[TopicPartition]]:
    """Per partition: the batch's first offset (for a rewind) and last offset + 1 (to store).

    The scorer subscribes to one topic, so partitions are keyed by number alone.
    """
    topic = msgs[0].topic() or ""
    parts = np.asarray([m.partition() for m in msgs], np.int64)
    offs = np.asarray([m.offset() for m in msgs], np.int64)
    uniq, first_ix = np.unique(parts, return_index=True)
    _, last_rev = np.unique(parts[::-1], return_index=True)
    last_ix = len(parts) - 1 - last_rev
    return (
        [TopicPartition(topic, int(p), int(offs[i])) for p, i in zip(uniq, first_ix, strict=True)],
        [
            TopicPartition(topic, int(p), int(offs[i]) + 1)
            for p, i in zip(uniq, last_ix, strict=True)
        ],
    )


def _fmt_tps(tps: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in tps) or "(none)"


__all__ = ["ConfigError", "Scorer"]
