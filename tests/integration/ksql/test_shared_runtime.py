"""Shared runtimes on the real broker: stateless queries reading the same topic share one
consumer, and across every change of that arrangement each query keeps its own position:
upgrading from one consumer per query, adding a query (it starts from the earliest offset),
terminating one, restarting, and turning sharing off again neither lose nor replay a
record of any query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.kafka.clients import admin_config
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.ksql.server.commandlog import Command
from fraudstream.ksql.server.runtime import query_group_id
from fraudstream.ksql.server.service import SHARED_RUNTIMES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

OFF = {SHARED_RUNTIMES: "false"}


def ids(msgs: list[Any]) -> list[int]:
    return sorted(orjson.loads(m.value())["ID"] for m in msgs)


def test_each_query_keeps_its_position_through_sharing_changes(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[[str, list[tuple[str | None, Any]]], None],
    read_topic: Callable[..., list[Any]],
    unique_id: str,
) -> None:
    src = f"src-{unique_id}"
    outs = {name: f"{name}-{unique_id}" for name in ("a", "b", "c")}

    def produce(lo: int, hi: int) -> None:
        produce_json(src, [(f"k{i % 4}", {"id": i, "amount": float(i)}) for i in range(lo, hi)])

    def expect(name: str, n: int, lo: int = 0) -> None:
        got = ids(read_topic(outs[name], n - lo, timeout=120, settle=2.0))
        assert got == list(range(lo, n)), f"{name}: {len(got)} records, want {lo}..{n - 1}"

    # 1. today's layout: one consumer (and group) per query
    old = make_server(properties=OFF)
    with KsqlClient(old.url) as client:
        client.ksql(
            f"CREATE STREAM tx (id BIGINT, amount DOUBLE) WITH (kafka_topic='{src}',"
            " value_format='JSON', partitions=2);"
            f"CREATE STREAM a WITH (kafka_topic='{outs['a']}') AS SELECT id, amount FROM tx;"
            f"CREATE STREAM b WITH (kafka_topic='{outs['b']}') AS SELECT id FROM tx"
            " WHERE amount >= 0;"
        )
    produce(0, 20)
    expect("a", 20)
    expect("b", 20)
    assert old.service.shared == {}
    old.stop()

    # 2. upgraded: the two share one consumer and resume where their own groups committed
    produce(20, 30)
    new = make_server()
    (runtime,) = new.service.shared.values()
    assert sorted(m.query_id for m in runtime.members) == sorted(new.service.engine.queries)
    assert runtime.wait_ready(60)
    expect("a", 30)
    expect("b", 30)

    # 3. a query created later starts from the earliest offset; the others do not replay
    with KsqlClient(new.url) as client:
        client.ksql(f"CREATE STREAM c WITH (kafka_topic='{outs['c']}') AS SELECT id FROM tx;")
    (runtime,) = new.service.shared.values()
    assert len(runtime.members) == 3
    produce(30, 35)
    expect("a", 35)
    expect("b", 35)
    expect("c", 35)
    # each query's own count (carried over the rebuild): what it processed, once
    consumed = {r.query.sink_topic: r.stats.consumed for r in runtime.members}
    assert consumed == {outs["a"]: 15, outs["b"]: 15, outs["c"]: 35}

    # 4. TERMINATE one: the other two go on in a rebuilt runtime, nothing replayed
    b_id = next(q for q, r in new.service.runners.items() if r.query.sink_topic == outs["b"])
    with KsqlClient(new.url) as client:
        client.ksql(f"TERMINATE {b_id};")
    (runtime,) = new.service.shared.values()
    assert b_id not in {m.query_id for m in runtime.members}
    produce(35, 40)
    expect("a", 40)
    expect("c", 40)
    expect("b", 35)

    # 5. restart with sharing off: each query resumes from its own group (written back)
    new.stop()
    produce(40, 45)
    again = make_server(properties=OFF)
    assert again.service.shared == {}
    expect("a", 45)
    expect("c", 45)


def test_a_join_joining_the_runtime_after_a_crash_resumes_its_siblings_from_the_shared_commit(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[[str, list[tuple[str | None, Any]]], None],
    read_topic: Callable[..., list[Any]],
    kafka_bootstrap: str,
    unique_id: str,
) -> None:
    """A stream-stream join over the source and a second topic joins the stateless queries'
    runtime (one consumer of both topics, one group named after both). A server that
    crashed after recording the join's CREATE and before acting on it never wrote the
    members' positions back to their own groups: they resume from the old shared group's
    commit metadata, neither replaying nor skipping, and the join starts from the earliest
    offsets of both topics."""
    src, lab = f"src-{unique_id}", f"lab-{unique_id}"
    outs = {name: f"{name}-{unique_id}" for name in ("a", "b", "j")}

    def produce(lo: int, hi: int) -> None:
        produce_json(src, [(f"k{i % 4}", {"id": i, "amount": float(i)}) for i in range(lo, hi)])
        produce_json(lab, [(f"k{i % 4}", {"id": i, "cls": i % 2}) for i in range(lo, hi)])

    def expect(name: str, n: int) -> None:
        got = ids(read_topic(outs[name], n, timeout=120, settle=2.0))
        assert got == list(range(n)), f"{name}: {len(got)} records, want 0..{n - 1} once each"

    first = make_server()
    with KsqlClient(first.url) as client:
        client.ksql(
            f"CREATE STREAM tx (id BIGINT, amount DOUBLE) WITH (kafka_topic='{src}',"
            " value_format='JSON', partitions=2);"
            f"CREATE STREAM lb (id BIGINT, cls INT) WITH (kafka_topic='{lab}',"
            " value_format='JSON', partitions=2);"
            f"CREATE STREAM a WITH (kafka_topic='{outs['a']}') AS SELECT id, amount FROM tx;"
            f"CREATE STREAM b WITH (kafka_topic='{outs['b']}') AS SELECT id FROM tx"
            " WHERE amount >= 0;"
        )
    (runtime,) = first.service.shared.values()
    assert runtime.topics == [src]
    produce(0, 20)
    expect("a", 20)
    expect("b", 20)
    join = (
        f"CREATE STREAM j WITH (kafka_topic='{outs['j']}') AS SELECT t.id AS k,"
        " AS_VALUE(t.id) AS id, t.amount, l.cls FROM tx t JOIN lb l WITHIN 1 HOURS ON t.id = l.id;"
    )
    # recorded, then the server "crashed" before acting: its own groups hold nothing
    first.service.command_log.append(Command(statement=join))
    members = {q: query_group_id(first.service.service_id, q) for q in first.service.runners}
    first.stop()
    admin = AdminClient(admin_config(kafka_bootstrap))
    for fut in admin.delete_consumer_groups(list(members.values()), request_timeout=15).values():
        fut.result(timeout=20)

    produce(20, 30)
    second = make_server()
    (runtime,) = second.service.shared.values()
    assert runtime.topics == sorted([src, lab])
    assert runtime.members[-1].query.sink_topic == outs["j"], "the window runs last"
    assert runtime.wait_ready(60)
    expect("a", 30)
    expect("b", 30)
    expect("j", 30)
    consumed = {m.query.sink_topic: m.stats.consumed for m in runtime.members}
    want = {outs["a"]: 10, outs["b"]: 10, outs["j"]: 60}
    assert consumed == want, "a and b: only the new events; j: every record of both topics"
