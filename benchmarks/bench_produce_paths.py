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
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from benchkit import SendBatch, broker, new_topic_producer, produce_timed
from fraudstream.kafka import wait_for_broker
from fraudstream.kafka.delivery import produce, produce_many


def run(bootstrap: str, admin: Any, mode: str, n: int, extra: dict[str, Any]) -> float:
    """Process CPU us per record of producing `n` records in `mode`."""
    topic, p = new_topic_producer(bootstrap, admin, "paths", 4, **extra)
    values = [bytes(150)] * n
    keys = [b"%d" % i for i in range(n)]
    acks = [0]

    def cb(_err: Any, _msg: Any) -> None:
        acks[0] += 1

    def batch_with_callback(p: Producer, t: str, vs: Sequence[bytes], ks: Sequence[bytes]) -> None:
        produce_many(p, t, vs, ks, cb)

    def last_per_partition(p: Producer, t: str, vs: Sequence[bytes], ks: Sequence[bytes]) -> None:
        for i, (v, k) in enumerate(zip(vs, ks, strict=True)):
            last = i >= len(vs) - 4
            produce(p, t, v, k, partition=i & 3, **({"on_delivery": cb} if last else {}))

    def one_by_one(p: Producer, t: str, vs: Sequence[bytes], ks: Sequence[bytes]) -> None:
        kw = {"on_delivery": cb} if mode == "produce + callback" else {}
        for v, k in zip(vs, ks, strict=True):
            produce(p, t, v, k, **kw)

    sends: dict[str, SendBatch] = {
        "produce_batch + callback": batch_with_callback,
        "produce_batch": produce_many,
        "last per partition": last_per_partition,
    }
    wall, cpu = produce_timed(p, topic, values, keys, sends.get(mode, one_by_one))
    print(f"  {mode:32s} {cpu / n * 1e6:5.2f} us/record CPU, {n / wall:>9,.0f}"
          f" records/s, callbacks {acks[0]}", flush=True)  # fmt: skip
    return cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with broker("bench-paths-") as kafka:
        bootstrap = kafka.bootstrap
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


if __name__ == "__main__":
    main()
