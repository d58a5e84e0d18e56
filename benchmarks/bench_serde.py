"""Serde and registry throughput, measured in one run (ratios are within this run).

    [FRAUDSTREAM_KAFKA_BOOTSTRAP=HOST:PORT] python benchmarks/bench_serde.py [--records 50000]

Without FRAUDSTREAM_KAFKA_BOOTSTRAP it starts the project's local Kafka broker in a
temporary directory (`benchkit.broker`) and removes it at the end. It runs the embedded
registry over that broker, then measures:
  - registry: registrations/s (each one written to _schemas and read back), uncached
    GET /schemas/ids/{id} requests/s, idempotent re-registrations/s;
  - Avro decode of the live-stream record (33 fields): AvroDecoder.decode and decode_many
    against confluent-kafka's AvroDeserializer;
  - Avro encode: AvroEncoder against confluent-kafka's AvroSerializer;
  - raw JSON events: decode_raw_event against pydantic RawCardEvent.model_validate_json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from benchkit import broker
from fraudstream.events import RawCardEvent
from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer
from fraudstream.serde.avro import AvroDecoder, AvroEncoder
from fraudstream.serde.jsonevents import decode_raw_event
from fraudstream.serde.registry_client import RegistryClient
from fraudstream.serde.schemas import load_schema


def best_rate(n: int, fn: Callable[[], object], repeats: int = 3) -> float:
    """Items per second of the fastest of `repeats` runs of fn (which handles n items)."""
    return compare(n, {"_": fn}, repeats)["_"]


def compare(n: int, fns: dict[str, Callable[[], object]], repeats: int = 5) -> dict[str, float]:
    """Best items/s of each fn, runs interleaved so load changes hit every variant alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()  # like timeit: collector pauses depend on what ran before
            try:
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
            finally:
                gc.enable()
    return {name: n / t for name, t in best.items()}


def live_record(i: int) -> dict[str, Any]:
    rec: dict[str, Any] = {"ID": i, "TIMESTAMP": "2026-11-25T17:00:00Z", "USERID": "ab****"}
    rec["TIME"] = i % 172800
    rec.update({f"V{k}": (i * 31 + k) % 97 / 13.0 - 3.5 for k in range(1, 29)})
    rec.update({"AMOUNT": (i % 500) * 1.25, "CLASS": -1})
    return rec


def raw_event(i: int) -> bytes:
    ev: dict[str, Any] = {"Id": i, "Timestamp": "2026-11-25T17:00:00Z", "User": "alice", "Time": i}
    ev.update({f"V{k}": (i * 7 + k) % 89 / 11.0 - 4.0 for k in range(1, 29)})
    ev.update({"Amount": (i % 300) * 0.5, "Class": i % 2})
    return orjson.dumps(ev)


def bench_registry(url: str, n: int) -> None:
    prefix = uuid.uuid4().hex[:6]
    schemas = [
        json.dumps({"type": "record", "name": f"B{i}", "fields": [{"name": "x", "type": "int"}]})
        for i in range(n)
    ]
    ids: list[int] = []
    with httpx.Client(base_url=url, timeout=30) as http:

        def register() -> None:
            for i, s in enumerate(schemas):
                r = http.post(f"/subjects/{prefix}-{i}/versions", json={"schema": s})
                ids.append(int(r.json()["id"]))

        t0 = time.perf_counter()
        register()
        reg_rate = n / (time.perf_counter() - t0)
        again = best_rate(n, register, repeats=1)  # all already registered: no writes
        by_id = best_rate(n, lambda: [http.get(f"/schemas/ids/{i}") for i in ids[:n]])
    each = 1000 / reg_rate
    print(f"registry  register (write + read back)   {reg_rate:10.0f} /s  ({each:.2f} ms each)")
    print(f"registry  re-register (idempotent)       {again:10.0f} /s")
    print(f"registry  GET /schemas/ids/{{id}} uncached {by_id:10.0f} /s")


def bench_avro(url: str, n: int) -> None:
    client = SchemaRegistryClient({"url": url})
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    schema = load_schema("live")
    records = [live_record(i) for i in range(n)]
    ours_client = RegistryClient(url)
    enc = AvroEncoder(ours_client, f"{topic}-value", schema)
    payloads = [enc.encode(r) for r in records]
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = AvroSerializer(
        client,
        json.dumps(schema),
        conf={"auto.register.schemas": True, "subject.name.strategy": topic_subject_name_strategy},
    )
    des = AvroDeserializer(client)
    ours = AvroDecoder(ours_client)
    assert ours.decode(payloads[0]) == des(payloads[0], ctx) == records[0]
    assert ser(records[0], ctx) == payloads[0]

    rates = compare(
        n,
        {
            "conf": lambda: [des(p, ctx) for p in payloads],
            "ours": lambda: [ours.decode(p) for p in payloads],
            "many": lambda: ours.decode_many(payloads),
        },
    )
    r_conf, r_ours, r_many = (rates[k] for k in ("conf", "ours", "many"))
    print(f"avro decode  confluent AvroDeserializer  {r_conf:10.0f} rec/s  1.00x")
    print(f"avro decode  AvroDecoder.decode          {r_ours:10.0f} rec/s  {r_ours / r_conf:.2f}x")
    print(f"avro decode  AvroDecoder.decode_many     {r_many:10.0f} rec/s  {r_many / r_conf:.2f}x")
    enc_rates = compare(
        n,
        {
            "conf": lambda: [ser(r, ctx) for r in records],
            "ours": lambda: [enc.encode(r) for r in records],
        },
    )
    e_conf, e_ours = enc_rates["conf"], enc_rates["ours"]
    print(f"avro encode  confluent AvroSerializer    {e_conf:10.0f} rec/s  1.00x")
    print(f"avro encode  AvroEncoder.encode          {e_ours:10.0f} rec/s  {e_ours / e_conf:.2f}x")


def bench_json(n: int) -> None:
    events = [raw_event(i) for i in range(n)]
    assert decode_raw_event(events[1]) == RawCardEvent.model_validate_json(events[1]).model_dump()
    rates = compare(
        n,
        {
            "pydantic": lambda: [RawCardEvent.model_validate_json(e) for e in events],
            "ours": lambda: [decode_raw_event(e) for e in events],
        },
    )
    r_pyd, r_ours = rates["pydantic"], rates["ours"]
    print(f"json decode  pydantic RawCardEvent       {r_pyd:10.0f} ev/s   1.00x")
    print(f"json decode  decode_raw_event            {r_ours:10.0f} ev/s   {r_ours / r_pyd:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--registrations", type=int, default=200)
    args = ap.parse_args()
    with broker("bench-serde-") as b:
        server = RegistryServer(
            b.bootstrap, port=free_port(), topic=f"_schemas-bench-{uuid.uuid4().hex[:6]}"
        )
        try:
            server.start(timeout=60)
            print(
                f"# records={args.records} registrations={args.registrations} cpus={os.cpu_count()}"
            )
            bench_registry(server.url, args.registrations)
            bench_avro(server.url, args.records)
            bench_json(args.records)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
