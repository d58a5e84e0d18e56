"""What one output record costs to produce, by way of producing (issue 18 item 1).

One process produces the same 150-byte records (200,000 by default, 2,000 per batch, like
the scorer's score records) to a new 4-partition topic per variant and reports the process
CPU per record (librdkafka's threads included) and the wall rate:

- `produce()` with a Python delivery callback per record (the scorer before issue 18);
- `produce_batch()` with the same callback per record (`kafka.delivery.produce_many`, now);
- both without a callback, `delivery.report.only.error`, and an explicit partition with a
  callback on the last record per partition only (not at-least-once: docs/benchmarks.md).

Run:  python benchmarks/bench_produce_paths.py [--records 200000] [--rounds 2]
Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, otherwise starts the project's local broker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from fraudstream.kafka import create_topics, producer_config, wait_for_broker
from fraudstream.kafka.delivery import produce, produce_many
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port

BATCH = 2000


def run(bootstrap: str, admin: Any, mode: str, n: int, extra: dict[str, Any]) -> float:
    """Process CPU us per record of producing `n` records in `mode`."""
    topic = f"paths-{uuid.uuid4().hex[:6]}"
    create_topics(admin, [topic], partitions=4)
    p = Producer(producer_config(bootstrap, **extra))
    p.list_topics(topic, timeout=10)
    values = [bytes(150)] * n
    keys = [b"%d" % i for i in range(n)]
    acks = [0]

    def cb(_err: Any, _msg: Any) -> None:
        acks[0] += 1

    c0, t0 = time.process_time(), time.monotonic()
    for b in range(0, n, BATCH):
        vs, ks = values[b : b + BATCH], keys[b : b + BATCH]
        if mode == "produce_batch + callback":
            produce_many(p, topic, vs, ks, cb)
        elif mode == "produce_batch":
            produce_many(p, topic, vs, ks)
        elif mode == "last per partition":
            for i, (v, k) in enumerate(zip(vs, ks, strict=True)):
                last = i >= len(vs) - 4
                produce(p, topic, v, k, partition=i & 3, **({"on_delivery": cb} if last else {}))
        else:
            kw = {"on_delivery": cb} if mode == "produce + callback" else {}
            for v, k in zip(vs, ks, strict=True):
                produce(p, topic, v, k, **kw)
        p.poll(0)
    assert p.flush(120) == 0
    cpu = time.process_time() - c0
    print(f"  {mode:32s} {cpu / n * 1e6:5.2f} us/record CPU, {n / (time.monotonic() - t0):>9,.0f}"
          f" records/s, callbacks {acks[0]}", flush=True)  # fmt: skip
    return cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-paths-"))
    broker: LocalKafka | None = None
    bootstrap = os.environ.get("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    if not bootstrap:
        broker = LocalKafka(work, port=free_port(), controller_port=free_port(), log_level="WARN")
        bootstrap = broker.start(timeout=180)
    try:
        admin = wait_for_broker(bootstrap)
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
        modes: list[tuple[str, dict[str, Any]]] = [
            ("produce + callback", {}),
            ("produce_batch + callback", {}),
            ("produce", {}),
            ("produce_batch", {}),
            ("report.only.error", {"delivery.report.only.error": True}),
            ("last per partition", {}),
        ]
        for r in range(args.rounds):
            print(f"round {r + 1}", flush=True)
            for mode, extra in modes:
                run(bootstrap, admin, mode, args.records, extra)
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
