"""KSQL engine core throughput: `PersistentQuery.process()` in memory (no Kafka).

Runs the project's own statements (`ksql/*.sql`) over N synthetic raw events and reports
events per CPU-second (`time.process_time()`) for each query shape, plus the ratio to a
serde floor measured in the same run (orjson.loads + fastavro.schemaless_writer of the
same record: the least any JSON -> Avro pipeline in Python can do):

  live      project + MASK_LEFT + IFNULL -> Avro          (ksql/04_live.sql)
  training  WHERE Class IS NOT NULL + project -> Avro      (ksql/03_training.sql)
  velocity  TUMBLING 1 minute COUNT/SUM/AVG per user       (windowed aggregate)
  shared    the three stateless statements over the source (03 training, 04 live,
            05a re-key) per source event, each decoding the event itself vs one decode
            shared through `InRecord.memo` (what the shared runtime does)
  whole set every statement of ksql/ (01-06) per source event, as the server runs them:
            03, 04, 05a and the label join 06 on one shared decode, 05b over 05a's
            re-keyed records (half the users in a Premium city), no labels (as the
            pipeline benchmark's burst): CPU per statement and of the one decode

    python benchmarks/bench_ksql_engine.py [--events 50000]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import orjson

from fraudstream.ksql.engine.engine import InMemorySchemaRegistry, InRecord, KsqlEngine
from fraudstream.ksql.engine.formats import avro_schema_for
from fraudstream.ksql.sql.types import T_BIGINT, T_DOUBLE, T_INTEGER, T_STRING

ROOT = Path(__file__).resolve().parents[1]
VARS = {
    "source_topic": "src",
    "source_partitions": "1",
    "users_topic": "users",
    "users_partitions": "1",
    "training_topic": "train",
    "training_partitions": "1",
    "live_topic": "live",
    "live_partitions": "1",
    "per_user_topic": "per_user",
    "per_user_partitions": "1",
}


def events(n: int, seed: int = 1) -> list[InRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        user = f"user{rng.randrange(500)}"
        ev = {
            "Id": i,
            "Timestamp": "2024-01-01T00:00:00Z",
            "User": user,
            "Time": i,
            **{f"V{k}": rng.gauss(0, 1) for k in range(1, 29)},
            "Amount": round(rng.expovariate(1 / 80), 2),
            "Class": None if i % 5 == 0 else int(rng.random() < 0.002),
        }
        out.append(InRecord("src", user.encode(), orjson.dumps(ev), i * 100, 0, i))
    return out


def rate(fn: Callable[[InRecord], object], recs: list[InRecord]) -> float:
    t0 = time.process_time()
    for r in recs:
        fn(r)
    return len(recs) / max(time.process_time() - t0, 1e-9)


def engine_with(files: list[str], extra: str = "") -> KsqlEngine:
    eng = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    for f in files:
        eng.execute((ROOT / "ksql" / f).read_text(), variables=VARS)
    if extra:
        eng.execute(extra)
    return eng


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args()
    recs = events(args.events)
    print(f"python {platform.python_version()} on {platform.machine()}, nproc={os.cpu_count()}")
    print(f"{len(recs)} raw JSON events, {len(recs[0].value or b'')} bytes each")

    # serde floor: decode JSON, encode the same fields as ksqlDB-style Avro
    cols = [("ID", T_BIGINT), ("TIMESTAMP", T_STRING), ("USERID", T_STRING), ("TIME", T_INTEGER)]
    cols += [(f"V{k}", T_DOUBLE) for k in range(1, 29)] + [
        ("AMOUNT", T_DOUBLE),
        ("CLASS", T_INTEGER),
    ]
    parsed = fastavro.parse_schema(avro_schema_for(cols))
    names = [c for c, _ in cols]

    def floor(rec: InRecord) -> bytes:
        obj = orjson.loads(rec.value or b"{}")
        row = {n: obj.get(n.capitalize() if n != "USERID" else "User") for n in names}
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, row)
        return buf.getvalue()

    base = rate(floor, recs)
    print(f"{'serde floor (orjson + fastavro)':44s} {base:>10,.0f} events/CPU-s   1.00x")

    shapes: list[tuple[str, KsqlEngine]] = [
        ("live: project+MASK_LEFT+IFNULL -> Avro", engine_with(["01_source.sql", "04_live.sql"])),
        (
            "training: WHERE Class IS NOT NULL -> Avro",
            engine_with(["01_source.sql", "03_training.sql"]),
        ),
        (
            "velocity: TUMBLING 1 min COUNT/SUM/AVG",
            engine_with(
                ["01_source.sql"],
                "CREATE TABLE velocity AS SELECT `USER` AS uid, COUNT(*) AS n,"
                " SUM(Amount) AS total, AVG(Amount) AS mean FROM creditcardfraud_source"
                " WINDOW TUMBLING (SIZE 1 MINUTE)"
                " GROUP BY `USER`;",
            ),
        ),
    ]
    results = {}
    for label, eng in shapes:
        (q,) = list(eng.queries.values())
        r = rate(q.process, recs)
        results[label] = r
        assert not q.errors, q.errors[:3]
        print(f"{label:44s} {r:>10,.0f} events/CPU-s   {r / base:.2f}x")
    # the shared runtime's gain in the engine: one decode per source event for 03, 04, 05a
    shared_vars = {**VARS, "enriched_topic": "enriched", "per_user_min_v1": "5"}
    eng = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    for f in ["01_source.sql", "02_users.sql", "03_training.sql", "04_live.sql"]:
        eng.execute((ROOT / "ksql" / f).read_text(), variables=shared_vars)
    eng.execute((ROOT / "ksql" / "05_per_user.sql").read_text(), variables=shared_vars)
    trio = [q for q in eng.queries.values() if list(q.source_topics) == ["src"]]
    for memo in (False, True):
        t0 = time.process_time()
        for r in recs:
            rec = InRecord(r.topic, r.key, r.value, r.timestamp, r.partition, r.offset, (), None)
            if memo:
                rec.memo = {}
            for q in trio:
                q.process(rec)
        dt = time.process_time() - t0
        label = f"{len(trio)} statements, {'one shared decode' if memo else 'a decode each'}"
        results[label] = len(recs) / dt
        print(f"{label:44s} {len(recs) / dt:>10,.0f} source events/CPU-s  "
              f"{dt / len(recs) * 1e6:.1f} us each")  # fmt: skip
    for label, us in whole_set(recs).items():
        print(f"  whole set: {label:33s} {us:6.1f} us per source event")
    print(json.dumps({k: round(v) for k, v in {"serde_floor": base, **results}.items()}))


def whole_engine() -> KsqlEngine:
    """The whole ksql/ set, its users table loaded: half of `events`' users in a Premium city."""
    names = {
        "enriched_topic": "enriched",
        "per_user_min_v1": "5",
        "labels_topic": "labels",
        "labelled_topic": "labelled",
    }
    eng = KsqlEngine(schema_registry=InMemorySchemaRegistry())
    for f in sorted((ROOT / "ksql").glob("*.sql")):
        eng.execute(f.read_text(), variables={**VARS, **names})
    (users_q,) = [q for q in eng.queries.values() if "users" in q.source_topics]
    for j in range(500):
        city = "Premium Town" if j % 2 else "Basic Town"
        value = orjson.dumps({"userid": f"user{j}", "name": f"n{j}", "city": city})
        users_q.process(InRecord("users", f"user{j}".encode(), value, 0, 0, j))
    return eng


def whole_set(recs: list[InRecord]) -> dict[str, float]:
    """CPU per source event of each statement of the whole ksql/ set in memory: the members
    of the source's shared runtime (03, 04, 05a, 06) each over records already decoded, the
    one decode they share, the per-user join (05b) over 05a's records, and all of it."""
    n = len(recs)

    def fresh() -> list[InRecord]:
        return [
            InRecord(r.topic, r.key, r.value, r.timestamp, r.partition, r.offset, (), {})
            for r in recs
        ]

    def cpu_us(fn: Callable[[], object]) -> float:
        gc.collect()  # no collection left over from the previous figure
        t0 = time.process_time()
        fn()
        return (time.process_time() - t0) / n * 1e6

    # 1. as the server runs them: the shared runtime's members on one record, one decode
    eng = whole_engine()
    members = [q for q in eng.queries.values() if "src" in q.source_topics]
    (per_user,) = [q for q in eng.queries.values() if "enriched" in q.source_topics]
    enriched: list[InRecord] = []

    def shared_pass() -> None:
        for r in fresh_recs:
            for q in members:
                for o in q.process(r):
                    if o.topic == "enriched":
                        enriched.append(InRecord("enriched", o.key, o.value, o.timestamp))

    fresh_recs = fresh()
    out = {"shared runtime (03+04+05a+06)": cpu_us(shared_pass)}
    out["05b per-user join (CSAS_..._PER_USER)"] = cpu_us(
        lambda: [per_user.process(r) for r in enriched]
    )
    enriched.clear()  # free them before the next figures
    fresh_recs.clear()
    # 2. each member alone (a second engine: the join's window starts empty), decode memoized
    eng = whole_engine()
    members = [q for q in eng.queries.values() if "src" in q.source_topics]
    warm = fresh()

    def each(q: Any) -> Callable[[], None]:
        def run() -> None:
            for r in warm:  # the outputs are dropped, as the runtime drops them once produced
                q.process(r)

        return run

    first_cold = cpu_us(each(members[0]))
    first_warm = cpu_us(each(members[0]))
    out["the shared JSON decode"] = first_cold - first_warm
    out[f"member {members[0].id}"] = first_warm
    for q in members[1:]:
        out[f"member {q.id}"] = cpu_us(each(q))
    return out


if __name__ == "__main__":
    main()
