"""Shared runtimes: stateless persistent queries reading the same topics on ONE consumer
(ksqlDB's `ksql.runtime.feature.shared.enabled`), each query keeping its own position."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fraudstream.errors import KafkaUnavailableError, TransientError
from fraudstream.kafka.clients import admin_config
from fraudstream.kafka.delivery import DeliveryLedger, InFlightBatch, backoff
from fraudstream.kafka.errors import DeliveryFailedError
from fraudstream.ksql.engine.plan import StreamStreamJoinNode
from fraudstream.ksql.server.runtime.loop import (
    LoopThread,
    query_consumer_config,
    query_producer,
    run_records,
)
from fraudstream.ksql.server.runtime.reporting import (
    ProcessingLogSink,
    RunnerStats,
    engine_records,
)

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------ shared runtimes

# Kafka's default `offset.metadata.max.bytes`: a commit whose metadata is longer is refused.
_MAX_COMMIT_METADATA = 4096


def shared_group_id(service_id: str, topics: Iterable[str]) -> str:
    """The consumer group of the queries sharing one consumer of `topics` (ksqlDB's shared
    runtimes name theirs after the service id too: `_confluent-ksql-<id>-shared-...`)."""
    return f"_confluent-ksql-{service_id}shared_{'+'.join(sorted(topics))}"


def shareable(query: Any, table_topics: Iterable[str]) -> bool:
    """Whether a persistent query can run in a shared runtime: no state stores (a paused or
    rewound batch needs no changelog undo; a stream-stream join's window has none either
    way) and no table side to keep caught up."""
    tables = set(table_topics)
    return not getattr(query, "state_stores", None) and not any(
        t in tables for t in query.source_topics
    )


def holds_window(query: Any) -> bool:
    """Whether the query keeps records across batches in memory (a stream-stream join's
    windows): a shared runtime runs it after the stateless members of a batch, so a
    sibling's transient failure pauses the batch before the window has taken any of it."""
    plan = getattr(query, "plan", None)
    return plan is not None and any(isinstance(n, StreamStreamJoinNode) for n in plan.walk())


def share_groups(
    queries: dict[str, Any], table_topics: Iterable[str]
) -> dict[frozenset[str], tuple[str, ...]]:
    """The shared runtimes to run: stateless queries grouped by the topics they read, two
    or more per group, as many (in id order) as fit one commit's metadata.

    Queries whose topics overlap share one runtime over the union of their topics (the
    label join reads the source and the labels: it shares the source's consumer and decode
    with the stateless statements, and its consumer also fetches the labels); each member
    is fed only the records of its own topics."""
    tables = list(table_topics)
    groups: list[tuple[set[str], list[str]]] = []
    for qid in sorted(queries):
        q = queries[qid]
        if not shareable(q, tables):
            continue
        topics, ids = set(q.source_topics), [qid]
        for g in [g for g in groups if g[0] & topics]:  # merge every group it overlaps
            groups.remove(g)
            topics |= g[0]
            ids = [*g[1], *ids]
        groups.append((topics, sorted(ids)))
    out: dict[frozenset[str], tuple[str, ...]] = {}
    for _topics, ids in groups:
        fit: list[str] = []
        for qid in ids:  # {"<id>": <offset>} per member: at most ~30 bytes beyond the id
            if len(orjson.dumps({q: 2**63 - 1 for q in [*fit, qid]})) > _MAX_COMMIT_METADATA:
                break
            fit.append(qid)
        if len(fit) >= 2:
            out[frozenset(t for qid in fit for t in queries[qid].source_topics)] = tuple(fit)
    return out


class SharedMember:
    """One query of a shared runtime, as LIST QUERIES / DESCRIBE / the service see it."""

    changelog_topic: str | None = None

    def __init__(self, runtime: SharedQueryRunner, query: Any, group_id: str) -> None:
        self.runtime = runtime
        self.query = query
        self.query_id: str = str(query.id)
        self.group_id = group_id  # its own group: where it committed before it was shared
        self.topics = frozenset(str(t) for t in query.source_topics)  # what it is fed
        self.stats = RunnerStats()
        # per assigned partition: the first offset this query processes (its own position)
        self.start: dict[tuple[str, int], int] = {}
        # per assigned partition: the offset up to which its outputs are acknowledged
        self.acked: dict[tuple[str, int], int] = {}

    def stop(self, timeout: float = 30.0) -> None:
        self.runtime.stop(timeout)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        return self.runtime.wait_ready(timeout)

    @property
    def alive(self) -> bool:
        return self.runtime.alive

    def on_error(self, entry: Any) -> None:
        self.stats.processing_error(self.query_id, entry, self.runtime.processing_log)


class SharedQueryRunner(LoopThread):
    """Stateless persistent queries reading the same topics, fed by ONE consumer.

    Each source record is consumed once, wrapped in one `InRecord` (its decoded value is
    memoized on it, so queries with the same source decode it once) and handed to every
    member; the outputs of all members join one ledger batch, and the batch's offsets are
    committed only after every output is acknowledged (at-least-once, as `QueryRunner`).

    Every member keeps its own position: the group's commit per partition is the lowest
    member position, and the metadata of that commit holds each member's own
    (`{"<query id>": offset}`); a member processes a record only from its own position on,
    so a query joining the runtime later, or one that was ahead, neither replays nor skips.
    A member with no recorded position starts where its own per-query group committed (a
    server upgraded from one consumer per query resumes exactly), else from the earliest
    offset, as a new persistent query does. A clean stop writes each member's position back
    to its own group too, so a member that runs alone again (a sibling terminated) resumes.

    A transient failure of any member (registry down) pauses the whole batch: nothing of it
    is produced, the consumer is rewound, and it is read again with backoff. Members are
    fixed for the runner's life: the service replaces the runner when they change.
    """

    def __init__(
        self,
        queries: Iterable[Any],
        *,
        bootstrap: str,
        group_id: str,
        member_group_ids: dict[str, str],
        processing_log: ProcessingLogSink | None = None,
        batch_size: int = 5000,
        poll_timeout: float = 0.2,
        commit_interval: float = 1.0,
        stats: dict[str, RunnerStats] | None = None,
        shared_prefix: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.processing_log = processing_log
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.commit_interval = commit_interval
        self.members: list[SharedMember] = []
        # the members holding a window run last in each batch (see `holds_window`)
        for q in sorted(queries, key=holds_window):
            member = SharedMember(self, q, member_group_ids[str(q.id)])
            if stats and member.query_id in stats:  # counters carry over a rebuild
                member.stats = stats[member.query_id]
                member.stats.state = "PENDING"
            self.members.append(member)
            with contextlib.suppress(AttributeError, TypeError):
                q.on_error = member.on_error
        topics = {t for m in self.members for t in m.query.source_topics}
        self.topics = sorted(topics)
        self._legacy: dict[str, dict[tuple[str, int], int]] = {}
        # other shared runtimes' groups of this server (`_confluent-ksql-<id>shared_`): a
        # member that ran in one over other topics before has its position in that commit
        self.shared_prefix = shared_prefix
        self._committed: dict[tuple[str, int], tuple[int, str]] = {}
        self._cooperative = True  # the consumer's assignment protocol (set with its config)
        super().__init__(f"ksql-shared-{len(self.members)}", f"shared runtime {group_id}")

    def _set_state(self, state: str) -> None:
        for m in self.members:
            m.stats.state = state

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # the queries stop, the server keeps running
            for m in self.members:
                m.stats.state = "ERROR"
                m.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("shared runtime %s failed", self.group_id)
        finally:
            self._ready.set()

    # -- positions ------------------------------------------------------------------------

    def _read_legacy(self) -> None:
        """Each member's committed offsets in its own group (before sharing, or alone), and
        its positions in the other shared groups of the server (a runtime over other topics
        before a sibling joined or left); the newest of them is where it resumes."""
        admin = AdminClient(admin_config(self.bootstrap))
        for m in self.members:
            futures = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(m.group_id)], request_timeout=15
            )
            try:
                res = futures[m.group_id].result(timeout=20)
            except KafkaException as exc:  # never guess a position: fail, not replay
                raise KafkaUnavailableError(f"committed offsets of {m.group_id}: {exc}") from exc
            self._legacy[m.query_id] = {
                (str(tp.topic), int(tp.partition)): int(tp.offset)
                for tp in res.topic_partitions or []
                if tp.offset >= 0
            }
        if self.shared_prefix is not None:
            self._read_sibling_groups(admin, self.shared_prefix)

    def _read_sibling_groups(self, admin: AdminClient, prefix: str) -> None:
        """Member positions from the commit metadata of this server's other shared groups."""
        try:
            listing = admin.list_consumer_groups(request_timeout=15).result(timeout=20)
        except KafkaException as exc:  # never guess a position: fail, not replay
            raise KafkaUnavailableError(f"consumer groups of {prefix}*: {exc}") from exc
        groups = sorted(
            str(g.group_id)
            for g in listing.valid or []
            if str(g.group_id).startswith(prefix) and g.group_id != self.group_id
        )
        for group in groups:
            futures = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=15
            )
            try:
                res = futures[group].result(timeout=20)
            except KafkaException as exc:
                raise KafkaUnavailableError(f"committed offsets of {group}: {exc}") from exc
            for tp in res.topic_partitions or []:
                key = (str(tp.topic), int(tp.partition))
                for qid, off in _positions(tp.metadata).items():
                    own = self._legacy.get(qid)
                    if own is not None and off > own.get(key, -1):
                        own[key] = off  # both acknowledged positions: the later is newer

    def _on_assign(
        self, consumer: Consumer, ledger: DeliveryLedger[None], parts: list[TopicPartition]
    ) -> None:
        """Each member's start on the new partitions; the consumer starts at the lowest."""
        ledger.assign(parts)
        committed: list[TopicPartition] = []
        for attempt in range(3):  # the positions are needed: never guess them
            try:
                committed = consumer.committed(parts, timeout=30) if parts else []
                break
            except KafkaException as exc:
                if attempt == 2:  # the query stops (state ERROR), nothing replayed or skipped
                    msg = f"committed offsets of {self.group_id}: {exc}"
                    raise KafkaUnavailableError(msg) from exc
                self._stop.wait(backoff(attempt))
        by_tp = {(str(tp.topic), int(tp.partition)): tp for tp in committed}
        for part in parts:
            tp = (str(part.topic), int(part.partition))
            c = by_tp.get(tp)
            recorded: dict[str, int] = {}
            if c is not None and c.offset >= 0:
                recorded = _positions(c.metadata)
                self._committed[tp] = (int(c.offset), c.metadata or "")
            starts = []
            for m in self.members:
                if tp[0] not in m.topics:
                    continue
                known = [
                    off
                    for off in (recorded.get(m.query_id), self._legacy[m.query_id].get(tp))
                    if off is not None
                ]
                # both are acknowledged positions: the later one is the newer
                start = max(known) if known else 0  # 0: earliest, as a new query starts
                m.start[tp] = m.acked[tp] = start
                starts.append(start)
            part.offset = min(starts) if min(starts) > 0 else OFFSET_BEGINNING
        # the callback's own assignment sets where fetching starts (cooperative groups, the
        # project's default, take the increment; eager ones the whole assignment)
        if self._cooperative:
            consumer.incremental_assign(parts)
        else:
            consumer.assign(parts)

    def _forget(
        self, ledger: DeliveryLedger[None], parts: list[TopicPartition], lost: bool
    ) -> None:
        if lost:
            ledger.lose(parts)
        else:
            # no commit on revoke: whatever was not committed is processed again by the
            # partition's next owner (at-least-once)
            ledger.revoke(parts, commit=False)
        for part in parts:
            tp = (str(part.topic), int(part.partition))
            self._committed.pop(tp, None)
            for m in self.members:
                m.start.pop(tp, None)
                m.acked.pop(tp, None)

    def _completed(self, batch: InFlightBatch[None]) -> None:
        """A batch is acknowledged: every member is past it (or was already)."""
        for tp in batch.next:
            key = (str(tp.topic), int(tp.partition))
            for m in self.members:
                if key in m.acked and tp.offset > m.acked[key]:
                    m.acked[key] = tp.offset

    def _commit(self, consumer: Consumer, assigned: Iterable[tuple[str, int]]) -> str | None:
        """Commit the lowest member position per partition, every member's in the metadata."""
        offsets = []
        for tp in sorted(assigned):
            positions = {m.query_id: m.acked[tp] for m in self.members if tp in m.acked}
            if not positions:
                continue
            low = min(positions.values())
            meta = orjson.dumps(positions).decode()
            if self._committed.get(tp) == (low, meta):
                continue
            offsets.append((tp, low, meta))
        if not offsets:
            return None
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, off, metadata=md) for (t, p), off, md in offsets],
                asynchronous=False,
            )
        except KafkaException as exc:
            return str(exc)
        for tp, off, md in offsets:
            self._committed[tp] = (off, md)
        return None

    def _write_back(self, positions: dict[str, dict[tuple[str, int], int]]) -> None:
        """Each member's position into its own group: it resumes there if it runs alone."""
        admin = AdminClient(admin_config(self.bootstrap))
        requests = [
            ConsumerGroupTopicPartitions(
                group, [TopicPartition(t, p, off) for (t, p), off in sorted(acked.items())]
            )
            for group, acked in positions.items()
            if acked
        ]
        for req in requests:  # one group per call: the admin API takes one at a time
            try:
                admin.alter_consumer_group_offsets([req], request_timeout=15)[req.group_id].result(
                    timeout=20
                )
            except KafkaException as exc:  # the shared group's commit still holds them
                log.warning("positions of %s not written to its own group: %s", req.group_id, exc)

    # -- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        in_record, _ = engine_records()
        producer = query_producer(self.bootstrap)
        self._read_legacy()
        conf = query_consumer_config(self.bootstrap, self.group_id)
        self._cooperative = "cooperative" in str(conf.get("partition.assignment.strategy", ""))
        consumer = Consumer(conf)
        ledger: DeliveryLedger[None] = self._ledger(consumer, producer, on_complete=self._completed)
        consumer.subscribe(
            self.topics,
            on_assign=lambda c, parts: self._on_assign(c, ledger, parts),
            on_revoke=lambda _c, parts: self._forget(ledger, parts, lost=False),
            on_lost=lambda _c, parts: self._forget(ledger, parts, lost=True),
        )
        self._set_state("RUNNING")
        self._ready.set()
        log.info(
            "shared runtime %s: %s on one consumer of %s",
            self.group_id,
            ", ".join(m.query_id for m in self.members),
            ", ".join(self.topics),
        )
        stopped_unacked = False
        try:
            stopped_unacked = not self._consume_loop(
                consumer,
                producer,
                ledger,
                lambda msgs: self._batch(msgs, ledger, producer, in_record),
                lambda: self._commit(consumer, ledger.assigned),
            )
        finally:
            self._close(ledger, consumer, stopped_unacked)

    def _idle_commit_due(self, ledger: DeliveryLedger[Any], last_commit: float) -> bool:
        """Idle: the members' positions are committed every `commit_interval` s (`_commit`
        skips partitions whose commit did not change)."""
        return time.monotonic() - last_commit >= self.commit_interval

    def _batch(
        self, msgs: list[Message], ledger: DeliveryLedger[None], producer: Producer, in_record: Any
    ) -> None:
        """One consumed batch through every member; all outputs join one ledger batch."""
        good = ledger.owned(self._good(msgs))
        if not good:
            return
        recs = [
            in_record(
                msg.topic(), msg.key(), msg.value(), msg.timestamp()[1], msg.partition(),
                msg.offset(), msg.headers() or (), {},
            )
            for msg in good
        ]  # fmt: skip
        first: dict[tuple[str, int], int] = {}
        for rec in reversed(recs):  # the last one written per key stays: the lowest offset
            first[(rec.topic, rec.partition)] = rec.offset
        outs: list[Any] = []
        counts: list[int] = []
        for m in self.members:
            try:
                n = self._process(m, recs, outs, first)
            except TransientError as exc:
                ledger.rewind(good)
                m.stats.transient_errors += 1
                m.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._warn(f"paused on a batch of {len(good)} ({exc}); nothing committed")
                self._paused = True
                return
            counts.append(n)
        self._paused = False
        self._attempt = 0
        batch = ledger.open(good, None)
        produced = self._produce_outputs(outs, batch, producer)
        for m, n in zip(self.members, counts, strict=True):
            m.stats.produced += n
        batch.expect(produced)
        try:
            ledger.track(batch)
        except DeliveryFailedError as exc:  # an earlier batch failed: rewound
            self._delivery_failed(exc)

    @staticmethod
    def _process(
        m: SharedMember, recs: list[Any], outs: list[Any], first: dict[tuple[str, int], int]
    ) -> int:
        """Run the member over the records from its own position on; its output count.

        `first`: the batch's lowest offset per partition; a member whose position is at or
        before all of them (the usual case) takes every record without a check each."""
        process = m.query.process
        start = m.start
        before = len(outs)
        if all(start.get(tp, 0) <= off for tp, off in first.items()):
            todo = recs
        else:  # before this query's own position: it processed those already
            todo = [r for r in recs if r.offset >= start.get((r.topic, r.partition), 0)]
        if any(t not in m.topics for t, _p in first):  # the runtime reads more than it
            topics = m.topics
            todo = [r for r in todo if r.topic in topics]
        m.stats.consumed += len(todo)
        run_records(process, todo, outs, m.on_error)
        return len(outs) - before

    def _delivery_failed(self, exc: DeliveryFailedError) -> None:
        for m in self.members:
            m.stats.delivery_errors += max(len(exc.errors), 1)
            m.stats.last_error = exc.errors[-1] if exc.errors else str(exc)
        self._warn(f"delivery failed: {exc.errors[-1] if exc.errors else exc}")

    def _close(self, ledger: DeliveryLedger[None], consumer: Consumer, unacked: bool) -> None:
        # A clean stop commits what was acknowledged (only acknowledged batches move a
        # member's position, so this never commits past a loss).
        with contextlib.suppress(DeliveryFailedError):
            ledger.wait(5.0)
        failed = self._commit(consumer, ledger.assigned)
        if failed is not None:
            self._warn(f"commit failed: {failed}")
        positions = {m.group_id: dict(m.acked) for m in self.members}  # close() revokes all
        with contextlib.suppress(KafkaException, RuntimeError):
            consumer.close()
        ledger.clear()
        if not unacked and failed is None:
            with contextlib.suppress(KafkaException):
                self._write_back(positions)
        for m in self.members:
            if m.stats.state == "RUNNING":
                m.stats.state = "TERMINATED"


def _positions(metadata: str | None) -> dict[str, int]:
    """The member positions a shared runtime's commit carries ({} if none or not ours)."""
    if not metadata:
        return {}
    try:
        data = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int) and v >= 0}
