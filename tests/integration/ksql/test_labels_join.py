"""ksql/06_labels.sql on the embedded server over the real broker: events published without
labels become training rows once the producer's delayed labels arrive; events already
labelled keep reaching training (once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fraudstream.ksql.client import apply as applier
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.producer.labels import DelayedLabels, LabelDelay
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.registry_client import RegistryClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

KSQL_DIR = Path(__file__).resolve().parents[3] / "ksql"


def test_delayed_labels_join_their_events_into_training(
    make_server: Callable[..., KsqlServer],
    ksql_vars: dict[str, str],
    produce_json: Callable[..., None],
    read_topic: Callable[..., list[Any]],
    event_factory: Callable[..., dict[str, Any]],
    kafka_bootstrap: str,
    schema_registry_url: str,
) -> None:
    server = make_server()
    with KsqlClient(server.url) as client:
        steps = applier.plan(applier.statement_files(KSQL_DIR), set(), replace=False)
        applier.apply(client, steps, ksql_vars)
    # the label join shares the source's consumer (and decode) with 03, 04 and 05a
    (runtime,) = server.service.shared.values()
    assert runtime.topics == sorted([ksql_vars["source_topic"], ksql_vars["labels_topic"]])
    sinks = [m.query.sink_topic for m in runtime.members]
    assert sorted(sinks[:3]) == sorted(
        ksql_vars[t] for t in ("training_topic", "live_topic", "enriched_topic")
    )
    assert sinks[3] == ksql_vars["labelled_topic"], "the window member runs last"
    with KsqlClient(server.url) as client:  # an unrelated command leaves the runtime running
        client.ksql(
            f"CREATE STREAM other_{ksql_vars['labels_topic'][-10:]} (x INT) WITH"
            f" (kafka_topic='other-{ksql_vars['labels_topic']}', value_format='JSON',"
            " partitions=1);"
        )
    assert list(server.service.shared.values()) == [runtime], "not stopped and rebuilt"
    labels = DelayedLabels(
        bootstrap=kafka_bootstrap, topic=ksql_vars["labels_topic"],
        delay=LabelDelay.parse("fixed:1s"), drain_s=30,
    )  # fmt: skip
    historic = [event_factory(i, "alice", cls=i % 2) for i in range(10)]  # labelled already
    live = [event_factory(i, "bob", cls=i % 2) for i in range(10, 40)]
    held = list(labels.wrap(live))
    assert all(e["Class"] is None for e in held)
    produce_json(ksql_vars["source_topic"], [(e["User"], e) for e in historic + held])
    stats = labels.close()
    assert (stats.delivered, stats.pending) == (30, 0)

    decoder = AvroDecoder(RegistryClient(schema_registry_url))
    msgs = read_topic(ksql_vars["training_topic"], 40, settle=2.0)
    rows = [decoder.decode(m.value()) for m in msgs]
    got = sorted((r["ID"], r["CLASS"]) for r in rows)
    assert got == [(i, i % 2) for i in range(40)], "each event once, with its true label"
    assert {r["TIMESTAMP"] for r in rows} == {historic[0]["Timestamp"]}
    live_rows = [decoder.decode(m.value()) for m in read_topic(ksql_vars["live_topic"], 40)]
    assert sorted(r["ID"] for r in live_rows if r["CLASS"] == -1) == list(range(10, 40))
