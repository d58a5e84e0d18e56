"""The shared runtime without a broker: one consumed batch feeds every member from its own
position, the group's commit carries each member's position, a member with no recorded one
starts where its own (pre-sharing) group committed, and a registry outage in one member
pauses the whole batch. The ledger is the real one over in-memory clients."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine
from fraudstream.ksql.engine.plan import ProjectNode, StreamStreamJoinNode
from fraudstream.ksql.server.runtime.shared import (
    SharedQueryRunner,
    _positions,
    holds_window,
    share_groups,
    shareable,
    shared_group_id,
)
from fraudstream.serde.errors import RegistryUnavailableError
from fraudstream.testing.messages import Msg as FakeMsg


def Msg(offset: int, partition: int = 0) -> FakeMsg:
    return FakeMsg(b"{}", offset, topic="src", partition=partition)


class Out:
    def __init__(self, topic: str, offset: int) -> None:
        self.topic, self.key, self.value, self.timestamp, self.headers = topic, b"k", b"v", 1, ()
        self.offset = offset


class Query:
    def __init__(self, qid: str, fail_at: int | None = None, topics: tuple[str, ...] = ("src",)):
        self.id = qid
        self.source_topics = topics
        self.sink_topic = f"out-{qid}"
        self.fail_at = fail_at
        self.state_stores: list[Any] = []
        self.seen: list[tuple[int, int]] = []
        self.memos: list[int] = []

    def process(self, rec: InRecord) -> list[Out]:
        if rec.offset == self.fail_at:
            raise RegistryUnavailableError("registry http://r unreachable")
        self.seen.append((rec.partition, rec.offset))
        self.memos.append(id(rec.memo))
        return [Out(self.sink_topic, rec.offset)]


class Consumer:
    def __init__(self, committed: dict[tuple[str, int], tuple[int, str | None]] | None = None):
        self.seeks: list[tuple[int, int]] = []
        self.commits: list[list[TopicPartition]] = []
        self.assigned: list[TopicPartition] = []
        self._committed = committed or {}

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.partition, tp.offset))

    def store_offsets(self, **_kw: Any) -> None:
        pass

    def commit(self, offsets: list[TopicPartition] | None = None, **_kw: Any) -> None:
        self.commits.append(list(offsets or []))

    def committed(self, parts: list[TopicPartition], timeout: float = 0) -> list[TopicPartition]:
        out = []
        for p in parts:
            off, meta = self._committed.get((p.topic, p.partition), (-1001, None))
            tp = TopicPartition(p.topic, p.partition, off)
            if meta is not None:
                tp = TopicPartition(p.topic, p.partition, off, metadata=meta)
            out.append(tp)
        return out

    def incremental_assign(self, parts: list[TopicPartition]) -> None:
        self.assigned = list(parts)


class Producer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, Any]] = []

    def produce(self, topic: str, *_a: Any, on_delivery: Any = None, **_kw: Any) -> None:
        self.produced.append((topic, on_delivery))

    def poll(self, _t: float = 0) -> int:
        return 0

    def flush(self, _t: float = 0) -> int:
        return 0

    def __len__(self) -> int:
        return 0


def _runtime(
    *queries: Query,
    legacy: dict[str, dict[tuple[str, int], int]] | None = None,
    committed: dict[tuple[str, int], tuple[int, str | None]] | None = None,
    parts: int = 1,
) -> tuple[SharedQueryRunner, DeliveryLedger[Any], Consumer, Producer]:
    rt = SharedQueryRunner(
        queries,
        bootstrap="127.0.0.1:1",
        group_id="shared",
        member_group_ids={str(q.id): f"own-{q.id}" for q in queries},
    )
    rt._legacy = {str(q.id): {} for q in queries} | (legacy or {})
    consumer, producer = Consumer(committed), Producer()
    ledger: DeliveryLedger[Any] = DeliveryLedger(
        consumer, producer, on_complete=rt._completed, acks="each"
    )
    rt._on_assign(consumer, ledger, [TopicPartition("src", p) for p in range(parts)])  # type: ignore[arg-type]
    return rt, ledger, consumer, producer


def _ack_all(producer: Producer) -> None:
    for _topic, ack in producer.produced:
        ack(None, None)


def test_each_record_is_consumed_once_and_fed_to_every_member_decoded_once() -> None:
    a, b = Query("A"), Query("B")
    rt, ledger, consumer, producer = _runtime(a, b)
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, OFFSET_BEGINNING)]
    rt._batch([Msg(0), Msg(1), Msg(2)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert a.seen == b.seen == [(0, 0), (0, 1), (0, 2)]
    assert a.memos == b.memos, "both members get the same record objects (one memo each)"
    assert sorted(t for t, _ in producer.produced) == ["out-A"] * 3 + ["out-B"] * 3
    assert [m.stats.consumed for m in rt.members] == [3, 3]
    assert [m.stats.produced for m in rt.members] == [3, 3]


def test_a_member_skips_what_it_processed_before_and_the_commit_keeps_both_positions() -> None:
    a, b = Query("A"), Query("B")
    # A committed up to 5 alone before sharing; B is new (earliest)
    rt, ledger, consumer, producer = _runtime(a, b, legacy={"A": {("src", 0): 5}})
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, OFFSET_BEGINNING)]
    rt._batch([Msg(i) for i in range(8)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert [o for _, o in a.seen] == [5, 6, 7], "no replay of what A had committed"
    assert [o for _, o in b.seen] == list(range(8)), "B starts from the earliest offset"
    assert rt._commit(consumer, ledger.assigned) is None
    (tp,) = consumer.commits[-1]  # nothing acknowledged yet: the starting positions only
    assert tp.offset == 0 and _positions(tp.metadata) == {"A": 5, "B": 0}
    _ack_all(producer)
    ledger.settle()
    rt._commit(consumer, ledger.assigned)
    (tp,) = consumer.commits[-1]
    assert tp.offset == 8 and _positions(tp.metadata) == {"A": 8, "B": 8}


def test_positions_resume_from_the_commit_metadata_lowest_first() -> None:
    a, b = Query("A"), Query("B")
    meta = orjson.dumps({"A": 40, "B": 12}).decode()
    rt, ledger, consumer, producer = _runtime(
        a, b, committed={("src", 0): (12, meta)}, legacy={"A": {("src", 0): 30}}
    )
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 12)]
    rt._batch([Msg(i) for i in range(12, 42)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert [o for _, o in a.seen] == [40, 41], "the newer of the two acknowledged positions"
    assert [o for _, o in b.seen] == list(range(12, 42))
    _ack_all(producer)
    ledger.settle()
    rt._commit(consumer, ledger.assigned)
    (tp,) = consumer.commits[-1]
    assert tp.offset == 42 and _positions(tp.metadata) == {"A": 42, "B": 42}


def test_a_member_ahead_keeps_its_position_in_the_commit() -> None:
    a, b = Query("A"), Query("B")
    rt, ledger, consumer, producer = _runtime(a, b, legacy={"A": {("src", 0): 100}})
    rt._batch([Msg(0), Msg(1)], ledger, producer, InRecord)  # type: ignore[arg-type]
    _ack_all(producer)
    ledger.settle()
    rt._commit(consumer, ledger.assigned)
    (tp,) = consumer.commits[-1]
    assert tp.offset == 2 and _positions(tp.metadata) == {"A": 100, "B": 2}
    assert a.seen == []


def test_an_unacknowledged_batch_moves_no_position() -> None:
    a, b = Query("A"), Query("B")
    rt, ledger, consumer, producer = _runtime(a, b, parts=2)
    rt._batch([Msg(0, 0), Msg(0, 1)], ledger, producer, InRecord)  # type: ignore[arg-type]
    _ack_all(producer)
    ledger.settle()
    rt._batch([Msg(1, 0), Msg(1, 1)], ledger, producer, InRecord)  # type: ignore[arg-type]
    rt._commit(consumer, ledger.assigned)
    committed = {tp.partition: (tp.offset, _positions(tp.metadata)) for tp in consumer.commits[-1]}
    assert committed == {0: (1, {"A": 1, "B": 1}), 1: (1, {"A": 1, "B": 1})}


def test_a_registry_outage_in_one_member_pauses_the_whole_batch() -> None:
    a, b = Query("A"), Query("B", fail_at=6)
    rt, ledger, consumer, producer = _runtime(a, b)
    rt._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert producer.produced == [], "no output of a paused batch, not even the healthy member's"
    assert consumer.seeks == [(0, 5)] and rt._paused
    assert rt.members[1].stats.transient_errors == 1
    assert ledger.inflight == 0
    b.fail_at = None
    rt._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert len(producer.produced) == 6 and not rt._paused


def test_a_failed_delivery_rewinds_and_no_position_passes_it() -> None:
    a, b = Query("A"), Query("B")
    rt, ledger, consumer, producer = _runtime(a, b)
    rt._batch([Msg(0), Msg(1)], ledger, producer, InRecord)  # type: ignore[arg-type]
    producer.produced[0][1](RuntimeError("timed out"), Msg(0))
    for _t, ack in producer.produced[1:]:
        ack(None, None)
    rt._batch([Msg(2)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert consumer.seeks == [(0, 0)], "rewound to the failed batch"
    assert all(m.stats.delivery_errors == 1 for m in rt.members)
    rt._commit(consumer, ledger.assigned)
    (tp,) = consumer.commits[-1]
    assert tp.offset == 0 and _positions(tp.metadata) == {"A": 0, "B": 0}, "none moved past it"


def test_share_groups_takes_stateless_stream_readers_of_the_same_topics() -> None:
    stateful = Query("S")
    stateful.state_stores = [object()]
    queries = {
        "A": Query("A"),
        "B": Query("B"),
        "S": stateful,
        "T": Query("T", topics=("src", "users")),  # a stream-table join
        "L": Query("L", topics=("labelled",)),  # alone on its topic
    }
    assert not shareable(queries["T"], ["users"]) and not shareable(stateful, [])
    assert share_groups(queries, ["users"]) == {frozenset({"src"}): ("A", "B")}
    assert shared_group_id("svc_", ["b", "a"]) == "_confluent-ksql-svc_shared_a+b"


def test_share_groups_keeps_the_commit_metadata_under_kafkas_limit() -> None:
    queries = {f"CSAS_{'X' * 200}_{i:03d}": Query(f"Q{i}") for i in range(40)}
    (ids,) = share_groups(queries, []).values()
    assert 2 <= len(ids) < 40
    assert len(orjson.dumps({q: 2**63 - 1 for q in ids})) <= 4096


def test_positions_ignore_foreign_metadata() -> None:
    assert _positions(None) == {} and _positions("") == {} and _positions("not json") == {}
    assert _positions("[1]") == {} and _positions('{"A": -1, "B": 3, "C": "x"}') == {"B": 3}


def test_unreadable_positions_stop_the_runtime_instead_of_guessing() -> None:
    class Unreachable(Consumer):
        def committed(self, parts: list[TopicPartition], timeout: float = 0) -> Any:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))

    a, b = Query("A"), Query("B")
    rt = SharedQueryRunner(
        [a, b], bootstrap="127.0.0.1:1", group_id="shared",
        member_group_ids={"A": "own-A", "B": "own-B"},
    )  # fmt: skip
    rt._legacy = {"A": {("src", 0): 5}, "B": {}}
    consumer = Unreachable()
    ledger: DeliveryLedger[Any] = DeliveryLedger(consumer, Producer(), acks="each")
    with pytest.raises(KafkaUnavailableError):
        rt._on_assign(consumer, ledger, [TopicPartition("src", 0)])  # type: ignore[arg-type]
    assert consumer.assigned == [], "no partition starts from a guessed position"


def TopicMsg(topic: str, offset: int, partition: int = 0) -> FakeMsg:
    return FakeMsg(b"{}", offset, topic=topic, partition=partition)


class WindowQuery(Query):
    """A query whose plan holds a stream-stream join (its window keeps records)."""

    def __init__(self, qid: str, topics: tuple[str, ...]) -> None:
        super().__init__(qid, topics=topics)
        self.plan = ProjectNode(["X"], inputs=[StreamStreamJoinNode("INNER", "A", "B")])

    def process(self, rec: InRecord) -> list[Out]:
        if rec.topic not in self.source_topics:  # as BaseQuery.process: not its topic
            return []
        return super().process(rec)


def test_share_groups_merges_queries_whose_topics_overlap_into_one_runtime() -> None:
    queries = {
        "A": Query("A"),
        "B": Query("B"),
        "J": WindowQuery("J", ("src", "labels")),  # the label join: the source and labels
        "L": Query("L", topics=("labelled",)),  # alone on its topic
        "M": Query("M", topics=("other",)),
        "N": Query("N", topics=("other", "more")),
    }
    assert share_groups(queries, []) == {
        frozenset({"src", "labels"}): ("A", "B", "J"),
        frozenset({"other", "more"}): ("M", "N"),
    }
    assert holds_window(queries["J"]) and not holds_window(queries["A"])


def test_holds_window_reads_the_engines_plan() -> None:
    eng = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    eng.execute(
        "CREATE STREAM e (id BIGINT, v DOUBLE) WITH (kafka_topic='e', value_format='JSON',"
        " partitions=1);"
        "CREATE STREAM l (id BIGINT, c INT) WITH (kafka_topic='l', value_format='JSON',"
        " partitions=1);"
        "CREATE STREAM j AS SELECT e.id AS id, e.v, l.c FROM e JOIN l WITHIN 1 MINUTE"
        " ON e.id = l.id;"
        "CREATE STREAM p AS SELECT id, v FROM e WHERE v > 0;"
    )
    windows = {q.sink_topic: holds_window(q) for q in eng.queries.values()}
    assert windows == {"J": True, "P": False}


def test_a_member_is_fed_and_positioned_only_on_its_own_topics() -> None:
    a, j = Query("A"), WindowQuery("J", ("src", "labels"))
    rt = SharedQueryRunner(
        [j, a], bootstrap="127.0.0.1:1", group_id="shared",
        member_group_ids={"A": "own-A", "J": "own-J"},
    )  # fmt: skip
    assert [m.query_id for m in rt.members] == ["A", "J"], "the window member runs last"
    assert rt.topics == ["labels", "src"]
    rt._legacy = {"A": {("src", 0): 2}, "J": {("labels", 0): 1}}
    consumer, producer = Consumer(), Producer()
    ledger: DeliveryLedger[Any] = DeliveryLedger(
        consumer, producer, on_complete=rt._completed, acks="each"
    )
    parts = [TopicPartition("src", 0), TopicPartition("labels", 0)]
    rt._on_assign(consumer, ledger, parts)  # type: ignore[arg-type]
    # src-0 starts at the lowest member position (J's: earliest), labels-0 at J's own
    assert [(tp.topic, tp.offset) for tp in consumer.assigned] == [
        ("src", OFFSET_BEGINNING),
        ("labels", 1),
    ]
    msgs = [TopicMsg("src", i) for i in range(4)] + [TopicMsg("labels", 1)]
    rt._batch(msgs, ledger, producer, InRecord)  # type: ignore[arg-type]
    assert a.seen == [(0, 2), (0, 3)], "A: the source from its own position, no labels"
    assert j.seen == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 1)]
    assert [m.stats.consumed for m in rt.members] == [2, 5]
    _ack_all(producer)
    ledger.settle()
    rt._commit(consumer, ledger.assigned)
    got = {tp.topic: (tp.offset, _positions(tp.metadata)) for tp in consumer.commits[-1]}
    assert got == {"src": (4, {"A": 4, "J": 4}), "labels": (2, {"J": 2})}


def test_a_siblings_outage_pauses_the_batch_before_the_window_takes_any_of_it() -> None:
    j, b = WindowQuery("A_JOIN", ("src",)), Query("B", fail_at=6)  # J sorts first by id
    rt, ledger, _consumer, producer = _runtime(j, b)
    assert [m.query_id for m in rt.members] == ["B", "A_JOIN"]
    rt._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert rt._paused and j.seen == [], "the window saw nothing of the paused batch"
    b.fail_at = None
    rt._batch([Msg(5), Msg(6), Msg(7)], ledger, producer, InRecord)  # type: ignore[arg-type]
    assert j.seen == [(0, 5), (0, 6), (0, 7)], "each record once in the window"


def test_positions_in_the_servers_other_shared_groups_are_read_newest_first() -> None:
    class Listing:
        def __init__(self, *groups: str) -> None:
            self.valid = [type("G", (), {"group_id": g})() for g in groups]

    class Done:
        def __init__(self, value: Any) -> None:
            self.value = value

        def result(self, timeout: float = 0) -> Any:
            return self.value

    src_meta = orjson.dumps({"A": 7, "B": 3, "Z": 99}).decode()
    commits = {
        "pre_shared_src": [TopicPartition("src", 0, 3, metadata=src_meta)],
        "pre_shared_labels+src": [TopicPartition("src", 0, 5, metadata='{"A": 5}')],
    }

    class Admin:
        def list_consumer_groups(self, **_kw: Any) -> Done:
            return Done(Listing(*commits, "other-group", "pre_shared_now"))

        def list_consumer_group_offsets(self, reqs: list[Any], **_kw: Any) -> dict[str, Done]:
            (req,) = reqs
            res = type("R", (), {"topic_partitions": commits[req.group_id]})()
            return {req.group_id: Done(res)}

    rt = SharedQueryRunner(
        [Query("A"), Query("B")], bootstrap="127.0.0.1:1", group_id="pre_shared_now",
        member_group_ids={"A": "own-A", "B": "own-B"},
    )  # fmt: skip
    rt._legacy = {"A": {("src", 0): 6}, "B": {}}
    rt._read_sibling_groups(Admin(), "pre_shared_")  # type: ignore[arg-type]
    assert rt._legacy == {"A": {("src", 0): 7}, "B": {("src", 0): 3}}, "the newest of each"
