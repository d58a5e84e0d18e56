"""What one broker partition carries on this machine (issue 18, the capacity model).

One run: live-sized records (the KSQL live stream's Avro, ~300 bytes) are produced by one
producer to a 1-partition topic and to a `--partitions`-partition topic, then read back by
one consumer each; per topic it prints events/s (wall) and the client process's CPU per
event, and the broker's CPU per event (from /proc) when the script started the broker.
The single Python client on a 2-core machine shared with the broker is what bounds these
figures, so they are a floor for what a partition carries, not the broker's ceiling.

Run:  python benchmarks/bench_partition.py [--events 300000] [--partitions 4]
Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, otherwise starts the project's local broker.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from bench_scorer import cpu_seconds
from benchkit import broker, new_topic_producer, produce_timed
from fraudstream.kafka import consumer_config, wait_for_broker
from fraudstream.producer.synthetic import generate_events
from fraudstream.testing.scorer import live_value


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def one_topic(
    bootstrap: str, admin: Any, parts: int, values: list[bytes], bpid: int | None
) -> dict[str, float]:
    """Produce `values` to a new topic of `parts` partitions, then consume them back."""
    topic, p = new_topic_producer(bootstrap, admin, f"part{parts}", parts)
    n = len(values)
    keys = [b"%d" % i for i in range(n)]
    b0 = cpu_seconds(bpid) if bpid else 0.0
    prod_s, prod_cpu = produce_timed(p, topic, values, keys)
    prod_broker = (cpu_seconds(bpid) - b0) if bpid else float("nan")
    c = Consumer(consumer_config(bootstrap, f"part-{uuid.uuid4().hex[:6]}"))
    c.subscribe([topic])
    got, t1 = 0, None
    b1, c1 = cpu_seconds(bpid) if bpid else 0.0, time.process_time()
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        msgs = c.consume(2000, timeout=0.05)
        if msgs and t1 is None:
            t1 = time.monotonic()
        got += sum(1 for m in msgs if m.error() is None)
    cons_s = time.monotonic() - (t1 or time.monotonic())
    cons_cpu = time.process_time() - c1
    cons_broker = (cpu_seconds(bpid) - b1) if bpid else float("nan")
    c.close()
    out = {
        "partitions": parts,
        "produce_events_per_s": n / prod_s,
        "produce_client_cpu_us": prod_cpu / n * 1e6,
        "produce_broker_cpu_us": prod_broker / n * 1e6,
        "consume_events_per_s": got / max(cons_s, 1e-9),
        "consume_client_cpu_us": cons_cpu / max(got, 1) * 1e6,
        "consume_broker_cpu_us": cons_broker / max(got, 1) * 1e6,
    }
    log(f"  {parts} partition(s): produce {out['produce_events_per_s']:,.0f}/s "
        f"(client {out['produce_client_cpu_us']:.2f} us, broker {out['produce_broker_cpu_us']:.2f}"
        f" us CPU/event), consume {out['consume_events_per_s']:,.0f}/s (client "
        f"{out['consume_client_cpu_us']:.2f} us, "
        f"broker {out['consume_broker_cpu_us']:.2f} us)")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--broker-pid", type=int, help="pid of the broker behind the bootstrap")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: dict[str, Any] = {"loadavg_start": os.getloadavg(), "events": args.events}
    with broker("bench-part-") as kafka:
        bootstrap = kafka.bootstrap
        admin = wait_for_broker(bootstrap)
        events = generate_events(args.events, seed=7, users=1000)
        values = [live_value(ev, 1) for ev in events]
        results["bytes_per_event"] = sum(map(len, values)) / len(values)
        log(f"{args.events} live records of {results['bytes_per_event']:.0f} bytes")
        bpid = kafka.pid or args.broker_pid
        results["runs"] = [one_topic(bootstrap, admin, k, values, bpid)
                           for k in sorted({1, args.partitions})]  # fmt: skip
        results["loadavg_end"] = os.getloadavg()
        log(f"load average {results['loadavg_start'][0]:.2f} -> {results['loadavg_end'][0]:.2f}")
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
