"""KSQL engine throughput: the live preprocessing statement through the local broker.

Measures, in one run and one process:
  1. engine only: `PersistentQuery.process` over pre-built records in memory (no Kafka);
  2. through Kafka: the embedded server runs `ksql/01_source.sql` + `ksql/04_live.sql`
     (project + MASK_LEFT + IFNULL to Avro, every event) and a filtering variant
     (`WHERE Class IS NOT NULL`, i.e. `ksql/03_training.sql`) over a pre-loaded backlog of N
     raw JSON events; time from query start until the output topic holds every record;
and prints events/s for each (overall from start, and steady state from the first output
record on) plus ratios between them measured in the same run.

    python benchmarks/bench_ksql.py [--events 200000]

3. the three stateless statements over the source together (03 training, 04 live, 05a re-key,
   with 02 + 05b present too), once with one consumer per query
   (`ksql.runtime.feature.shared.enabled=false`) and once in a shared runtime; CPU per
   source event of this process (the KSQL server runs in it) is the comparison.

4. `--threads`: only this: the whole ksql/ set (01-06, half the users in a Premium city, no
   labels) applied first, then N events produced; CPU per source event of each query
   thread of the server (its shared runtime, the per-user join, the labelled INSERT; read
   from /proc/self/task) and of the rest of the process (librdkafka's threads, HTTP, the
   polling) until the training, live, enriched and per-user topics are complete.

Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, else starts the project's local broker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from fraudstream.kafka.admin import create_topics, wait_for_broker
from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.ksql.sql.statements import split_statements
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

ROOT = Path(__file__).resolve().parents[1]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def make_events(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        user = USERS[i % len(USERS)]
        ev: dict[str, Any] = {"Id": i, "Timestamp": "2013-09-01T00:00:00Z", "User": user, "Time": i}
        for k in range(1, 29):
            ev[f"V{k}"] = ((i * 31 + k * 17) % 1000) / 100.0 - 5.0
        ev["Amount"] = float(i % 500) + 0.25
        ev["Class"] = None if i % 5 == 0 else i % 2
        out.append((user.encode(), orjson.dumps(ev)))
    return out


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    p = Producer(producer_config(bootstrap, linger_ms=20))
    t0 = time.perf_counter()
    for k, v in records:
        while True:
            try:
                p.produce(topic, value=v, key=k)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(120)
    return time.perf_counter() - t0


class TopicCounter:
    """Records in a topic (sum of watermark spans), with one reused client: polling every
    0.1 s must not cost this process (whose CPU time is measured) a new consumer each time."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = Consumer(consumer_config(bootstrap, f"count-{uuid.uuid4().hex[:6]}"))

    def count(self, topic: str) -> int:
        md = self.consumer.list_topics(topic, timeout=10)
        if topic not in md.topics or md.topics[topic].error is not None:
            return 0
        total = 0
        for p in md.topics[topic].partitions:
            try:
                lo, hi = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            except KafkaException:  # a new topic's leader not elected yet
                return 0
            total += hi - lo
        return total

    def close(self) -> None:
        self.consumer.close()


@dataclass
class Rate:
    """One scenario's figures: overall (from start) and steady state (from first output)."""

    wall: float  # events per wall second, start to last output
    cpu: float  # events per CPU second of this process, same span
    steady: float  # events per wall second from the first output to the last
    startup: float  # seconds from start to the first output record

    def line(self, label: str) -> str:
        return (
            f"{label:<42}{self.wall:>9,.0f} ev/s  {self.cpu:>9,.0f} ev/cpu-s"
            f"  steady {self.steady:>9,.0f} ev/s  (first output after {self.startup:.1f} s)"
        )


def wait_for(
    counter: TopicCounter, topic: str, expected: int, events: int, t0: float, c0: float
) -> Rate:
    """Poll `topic` until it holds `expected` records; rates are counted on `events` input."""
    deadline = time.monotonic() + 600
    last_log = time.monotonic()
    first_t: float | None = None
    first_n = 0
    n = 0
    while time.monotonic() < deadline:
        n = counter.count(topic)
        if n and first_t is None:
            first_t, first_n = time.perf_counter(), n
        if n >= expected:
            break
        if time.monotonic() - last_log > 5:
            print(f"  ... {n}/{expected} records in {topic}", flush=True)
            last_log = time.monotonic()
        time.sleep(0.1)
    end, cpu = time.perf_counter(), time.process_time() - c0
    assert n >= expected, f"only {n}/{expected} records after {end - t0:.0f}s"
    first_t = first_t or end
    span = max(end - first_t, 1e-3)
    steady = (expected - first_n) / span * events / expected
    return Rate(events / (end - t0), events / cpu, steady, first_t - t0)


def engine_only(records: list[tuple[bytes, bytes]], variables: dict[str, str]) -> Rate:
    """(events/s wall, events per CPU-second) of `process()` alone."""
    from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine

    engine = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    for name in ("01_source.sql", "04_live.sql"):
        engine.execute((ROOT / "ksql" / name).read_text(), variables)
    (query,) = engine.queries.values()
    topic = variables["source_topic"]
    ins = [InRecord(topic, k, v, 0, 0, i) for i, (k, v) in enumerate(records)]
    t0, c0 = time.perf_counter(), time.process_time()
    produced = 0
    for rec in ins:
        produced += len(query.process(rec))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert produced == len(records), (produced, len(records))
    return Rate(len(records) / dt, len(records) / cpu, len(records) / dt, 0.0)


def through_kafka(
    bootstrap: str,
    registry_url: str,
    records: list[tuple[bytes, bytes]],
    variables: dict[str, str],
    statement: str,
    out_topic: str,
    expected: int,
    counter: TopicCounter,
) -> Rate:
    """Rates through the broker: from submitting the statements to the last output."""
    server = KsqlServer(
        bootstrap, registry_url, port=free_port(), service_id=f"b{uuid.uuid4().hex[:6]}_"
    )
    server.start(timeout=60)
    try:
        with KsqlClient(server.url) as client:
            t0, c0 = time.perf_counter(), time.process_time()
            for name in ("01_source.sql", statement):
                for stmt in split_statements((ROOT / "ksql" / name).read_text()):
                    client.ksql(stmt.text, variables=variables)
        return wait_for(counter, out_topic, expected, len(records), t0, c0)
    finally:
        server.stop()


def through_kafka_set(
    bootstrap: str,
    registry_url: str,
    events: int,
    variables: dict[str, str],
    files: list[str],
    waits: list[tuple[str, int]],
    counter: TopicCounter,
    properties: dict[str, str],
) -> Rate:
    """Rates of several statements through the broker, until every output in `waits` is
    complete (CPU per source event over the whole span)."""
    server = KsqlServer(
        bootstrap,
        registry_url,
        port=free_port(),
        service_id=f"b{uuid.uuid4().hex[:6]}_",
        properties=properties,
    )
    server.start(timeout=60)
    try:
        with KsqlClient(server.url) as client:
            t0, c0 = time.perf_counter(), time.process_time()
            for name in files:
                for stmt in split_statements((ROOT / "ksql" / name).read_text()):
                    client.ksql(stmt.text, variables=variables)
        rate = Rate(0.0, 0.0, 0.0, 0.0)
        for topic, expected in waits:
            rate = wait_for(counter, topic, expected, events, t0, c0)
        return rate
    finally:
        server.stop()


class IdentityQuery:
    """A query that copies each record: measures the Kafka loop without the engine's work."""

    def __init__(self, source: str, sink: str) -> None:
        from fraudstream.ksql.engine.engine import OutRecord

        self.id = "IDENTITY"
        self.source_topics = [source]
        self.sink_topic = sink
        self._out = OutRecord

    def process(self, rec: Any) -> list[Any]:
        return [self._out(self.sink_topic, None, rec.value, rec.timestamp)]


def runtime_only(
    bootstrap: str, source: str, sink: str, expected: int, counter: TopicCounter
) -> Rate:
    """Rates of the consume -> produce loop alone (identity query)."""
    from fraudstream.ksql.server.runtime import QueryRunner

    runner = QueryRunner(
        IdentityQuery(source, sink), bootstrap=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    runner.start()
    try:
        return wait_for(counter, sink, expected, expected, t0, c0)
    finally:
        runner.stop()


def thread_cpu_s(tid: int) -> float:
    """CPU seconds (user + system) of one thread of this process."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runtime_threads(server: KsqlServer) -> dict[str, int]:
    """The native thread id of each query loop of the server, by what it runs."""
    service = server.service
    out: dict[str, int] = {}
    for runtime in service.shared.values():
        label = "shared: " + " + ".join(m.query_id for m in runtime.members)
        out[label] = runtime._thread.native_id or 0
    for qid, runner in service.runners.items():
        thread = getattr(runner, "_thread", None)  # members of a shared runtime have none
        if thread is not None and thread.native_id is not None:
            out[f"alone: {qid}"] = thread.native_id
    return out


def whole_set_threads(
    bootstrap: str, registry_url: str, events: int, variables: dict[str, str], counter: Any
) -> dict[str, float]:
    """us of CPU per source event of each query thread running the whole ksql/ set: the
    statements run first (over an empty source), then the events are produced, so every
    loop is running before they arrive (no start-up or catch-up in the figures)."""
    uid = uuid.uuid4().hex[:6]
    v = {
        **variables,
        "source_topic": f"bench-src-{uid}",
        "users_topic": f"bench-users-{uid}",
        "users_partitions": variables["source_partitions"],
        "live_topic": f"bench-live-{uid}",
        "training_topic": f"bench-train-{uid}",
        "enriched_topic": f"bench-enriched-{uid}",
        "per_user_topic": f"bench-peruser-{uid}",
        "per_user_min_v1": "-1000",  # every event of a Premium user passes
        "labels_topic": f"bench-labels-{uid}",
        "labelled_topic": f"bench-labelled-{uid}",
    }
    parts = int(variables["source_partitions"])
    create_topics(wait_for_broker(bootstrap), [v["users_topic"]], partitions=parts)
    p = Producer(producer_config(bootstrap))
    for j, user in enumerate(USERS):
        city = "Premium Town" if j % 2 else "Basic Town"
        p.produce(v["users_topic"], key=user.encode(),
                  value=orjson.dumps({"userid": user, "name": user, "city": city}))  # fmt: skip
    p.flush(30)
    records = make_events(events)
    premium = sum(1 for i in range(events) if (i % len(USERS)) % 2)
    labelled = sum(1 for i in range(events) if i % 5 != 0)
    server = KsqlServer(bootstrap, registry_url, port=free_port(), service_id=f"b{uid}_")
    server.start(timeout=60)
    try:
        with KsqlClient(server.url) as client:
            for f in sorted((ROOT / "ksql").glob("*.sql")):
                for stmt in split_statements(f.read_text()):
                    client.ksql(stmt.text, variables=v)
        for runner in server.service.runners.values():
            runner.wait_ready(60)
        time.sleep(5.0)  # the consumer groups' first assignments
        tids = runtime_threads(server)
        before = {k: thread_cpu_s(t) for k, t in tids.items()}
        t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
        produce(bootstrap, v["source_topic"], records)
        producing = time.thread_time() - m0  # this thread's share: not the server's
        for topic, n in (
            (v["live_topic"], events),
            (v["training_topic"], labelled),
            (v["enriched_topic"], events),
            (v["per_user_topic"], premium),
        ):
            wait_for(counter, topic, n, events, t0, c0)  # fmt: skip
        cpu = time.process_time() - c0
        after = {k: thread_cpu_s(t) for k, t in tids.items()}
        assert runtime_threads(server) == tids, "a query loop was replaced during the run"
    finally:
        server.stop()
    used = {k: after[k] - before[k] for k in tids}
    out = {k: c / events * 1e6 for k, c in used.items()}
    rest = cpu - producing - sum(used.values())
    out["rest (librdkafka's threads, HTTP, this script's polling)"] = rest / events * 1e6
    out["the server's share of the process (all but producing)"] = (cpu - producing) / events * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--threads", action="store_true", help="only the whole set, per thread")
    args = ap.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    broker = None
    bootstrap = os.environ.get("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    tmp = tempfile.TemporaryDirectory()
    if not bootstrap:
        broker = LocalKafka(
            data_dir=Path(tmp.name), port=free_port(), controller_port=free_port(), log_level="WARN"
        )
        broker.start(timeout=120)
        bootstrap = broker.bootstrap
    registry = RegistryServer(
        bootstrap, port=free_port(), topic=f"_schemas-bench-{uuid.uuid4().hex[:6]}"
    )
    registry.start(timeout=60)
    try:
        admin = wait_for_broker(bootstrap)
        uid = uuid.uuid4().hex[:8]
        source = f"bench-src-{uid}"
        variables = {
            "source_topic": source,
            "source_partitions": str(args.partitions),
            "live_topic": f"bench-live-{uid}",
            "live_partitions": str(args.partitions),
            "training_topic": f"bench-train-{uid}",
        }
        create_topics(admin, [source], partitions=args.partitions)
        records = make_events(args.events)
        labelled = sum(1 for i in range(args.events) if i % 5 != 0)
        dt = produce(bootstrap, source, records)
        print(f"pre-loaded {len(records):,} raw JSON events in {dt:.1f}s")

        print(
            f"load average before: {os.getloadavg()[0]:.1f} (2 cores shared: see CPU-second rates)"
        )
        counter = TopicCounter(bootstrap)
        if args.threads:
            for label, us in whole_set_threads(
                bootstrap, registry.url, args.events, variables, counter
            ).items():
                print(f"  {label:<100} {us:6.1f} us/event")
            print(f"load average after: {os.getloadavg()[0]:.1f}")
            counter.close()
            return
        create_topics(admin, [f"bench-copy-{uid}"], partitions=args.partitions)
        rt = runtime_only(bootstrap, source, f"bench-copy-{uid}", args.events, counter)
        print(rt.line("runtime only (identity query, Kafka):"))
        eng = engine_only(records, variables)
        print(eng.line("engine only (process(), no Kafka):"))
        live = through_kafka(
            bootstrap, registry.url, records, variables, "04_live.sql",
            variables["live_topic"], args.events, counter,
        )  # fmt: skip
        print(live.line("Kafka: project+MASK_LEFT+IFNULL -> Avro:"))
        filt = through_kafka(
            bootstrap, registry.url, records, variables, "03_training.sql",
            variables["training_topic"], labelled, counter,
        )  # fmt: skip
        print(filt.line("Kafka: filter+project -> Avro (input):"))
        # 3. the three stateless statements: one consumer each vs one shared runtime
        shared_runs: dict[str, Rate] = {}
        create_topics(admin, [f"bench-users-{uid}"], partitions=1)
        for mode in ("false", "true"):
            tag = f"{uid}-{mode}"
            set_vars = {
                **variables,
                "live_topic": f"bench-live-{tag}",
                "training_topic": f"bench-train-{tag}",
                "users_topic": f"bench-users-{uid}",
                "users_partitions": "1",
                "enriched_topic": f"bench-enriched-{tag}",
                "per_user_topic": f"bench-peruser-{tag}",
                "per_user_min_v1": "5",
            }
            shared_runs[mode] = through_kafka_set(
                bootstrap, registry.url, args.events, set_vars,
                ["01_source.sql", "02_users.sql", "03_training.sql", "04_live.sql",
                 "05_per_user.sql"],
                [(set_vars["live_topic"], args.events), (set_vars["training_topic"], labelled),
                 (set_vars["enriched_topic"], args.events)],
                counter, {"ksql.runtime.feature.shared.enabled": mode},
            )  # fmt: skip
            label = "shared runtime" if mode == "true" else "one consumer per query"
            us = 1e6 / shared_runs[mode].cpu
            print(shared_runs[mode].line(f"Kafka: 03+04+05, {label}:") + f"  {us:.1f} us/event")
        counter.close()
        ratios = {
            "shared/per-query 03+04+05 (cpu-s)": shared_runs["true"].cpu / shared_runs["false"].cpu,
            "live/engine_only (cpu-s)": live.cpu / eng.cpu,
            "live/engine_only (wall)": live.wall / eng.wall,
            "live/runtime_only (cpu-s)": live.cpu / rt.cpu,
            "filter/engine_only (cpu-s)": filt.cpu / eng.cpu,
            "live steady/overall (wall)": live.steady / live.wall,
        }
        print("ratios, measured in this run:")
        for name, value in ratios.items():
            print(f"  {name:<30}{value:>6.2f}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(
            "target >= 30,000 events/s through Kafka (live, wall, start to last record): "
            + ("met" if live.wall >= 30_000 else "NOT met")
        )
        summary = {
            name: {k: round(v, 2) for k, v in vars(r).items()}
            for name, r in (("runtime_only", rt), ("engine_only", eng), ("live", live),
                            ("filter", filt))
        }  # fmt: skip
        print(json.dumps({"events": args.events, **summary, "ratios": ratios}))
    finally:
        registry.stop()
        if broker is not None:
            broker.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
