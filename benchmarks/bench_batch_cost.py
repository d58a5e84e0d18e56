"""CPU per micro-batch of the scorer's batch path, by batch size (no broker).

Why: at a paced load (5,000 events/s) the scorer runs hundreds of small batches a second,
so its CPU is set by what a batch costs whatever its size (NumPy calls on tiny arrays,
per-batch set-up), not by the per-event cost a burst measures. This times, on the calling
thread (`time.thread_time`), the decode alone, the scoring + encoding alone, and the whole
`ScoringLoop._handle` (decode, score, encode, `produce_batch`, ledger) for batches of
1 to 2,000 live Avro records, and fits cost = fixed + per-event * n on the small sizes.
The producer points at a closed port: `produce_batch` only queues (no network), and the
queued records expire unsent. Run it under another tree's PYTHONPATH to compare code.

Run:  python benchmarks/bench_batch_cost.py [--sizes 1,5,10,20,50,100,500,2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Producer

from fraudstream.kafka.delivery import DeliveryLedger
from fraudstream.scorer.connect import Outputs
from fraudstream.scorer.loop import ScoringLoop
from fraudstream.scorer.outputs import OutputWriter
from fraudstream.scorer.scoring import Scored, score_batch
from fraudstream.scorer.service import Scorer
from fraudstream.scorer.settings import scorer_settings
from fraudstream.serde.ksql_records import RecordBatch, RecordDecoder
from fraudstream.serde.schemas import load_schema
from fraudstream.serde.wire import header
from fraudstream.testing.messages import Msg as FakeMsg
from fraudstream.testing.scorer import MemorySchemas, live_value, make_events, publish_pca_model


def Msg(value: bytes, offset: int, partition: int) -> FakeMsg:
    return FakeMsg(value, offset, topic="live", partition=partition)


class NoConsumer:
    """Offsets are stored and committed nowhere (the ledger's calls are accepted)."""

    def store_offsets(self, *_a: Any, **_kw: Any) -> None:
        pass

    def commit(self, *_a: Any, **_kw: Any) -> None:
        pass

    def seek(self, *_a: Any) -> None:
        pass


def batches_of(msgs: list[Msg], n: int) -> list[list[Msg]]:
    """Enough batches of `n` consecutive records to time well (~6,000 records, >= 30)."""
    reps = max(30, 6000 // n)
    span = len(msgs) - n
    return [msgs[(i * n) % span : (i * n) % span + n] for i in range(reps)]


def per_batch_us(fn: Callable[[Any], object], inputs: list[Any]) -> float:
    """Mean thread CPU (us) of `fn` per input (after a warm-up on the first five)."""
    for b in inputs[:5]:
        fn(b)
    t0 = time.thread_time()
    for b in inputs:
        fn(b)
    return (time.thread_time() - t0) / len(inputs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1,5,10,20,50,100,500,2000")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    publish_pca_model(work / "models", seed=1)
    s = scorer_settings(model_dir=work / "models", kafka_bootstrap="127.0.0.1:9",
                        registry_url="http://127.0.0.1:9", topic="live", metrics_port=0,
                        listen_announcements=False)  # fmt: skip
    scorer = Scorer(s)
    scorer.watcher.check()
    model = scorer.watcher.current
    assert model is not None
    decoder = RecordDecoder("avro", MemorySchemas({1: load_schema("live")}))
    producer = Producer({"bootstrap.servers": "127.0.0.1:9", "linger.ms": 5, "log_level": 0,
                         "queue.buffering.max.messages": 2_000_000,
                         "queue.buffering.max.kbytes": 2_000_000,
                         "message.timeout.ms": 600_000})  # fmt: skip
    ledger: DeliveryLedger[Scored] = DeliveryLedger(
        NoConsumer(), producer, max_inflight_events=10**9, max_inflight_batches=10**9
    )
    ledger.assigned = {("live", p) for p in range(4)}
    outputs = Outputs(header(2), header(3), header(4))
    writer = OutputWriter(producer, s, outputs, scorer.metrics)
    loop = ScoringLoop(s, NoConsumer(), producer, ledger, decoder, writer, scorer.watcher,  # type: ignore[arg-type]
                       scorer.metrics, scorer.health, scorer.totals)  # fmt: skip
    loop._model()
    msgs = [Msg(live_value(e, 1), i, i % 4) for i, e in enumerate(make_events(8000))]

    def score(batch: RecordBatch) -> object:
        return score_batch(batch, model, s.explain_top_k, outputs.score_prefix)

    def handle(b: list[Msg]) -> object:
        loop._handle(b, model)  # type: ignore[arg-type]
        ledger.settle()
        return None

    rows: list[dict[str, float]] = []
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("    n | decode us/batch | score+encode us/batch | whole batch us/batch | us/event")
    for n in sizes:
        batches = batches_of(msgs, n)
        d = per_batch_us(decoder.decode, batches)
        sc = per_batch_us(score, [decoder.decode(b) for b in batches])
        h = per_batch_us(handle, batches)
        rows.append({"n": n, "decode_us": d, "score_encode_us": sc, "handle_us": h})
        print(f"{n:5d} | {d:15.1f} | {sc:21.1f} | {h:20.1f} | {h / n:8.2f}")
    small = [r for r in rows if r["n"] <= 100]
    if len(small) >= 2:
        slope, fixed = np.polyfit([r["n"] for r in small], [r["handle_us"] for r in small], 1)
        print(f"fit over n <= 100: whole batch = {fixed:.0f} us + {slope:.2f} us x n")
    producer.purge()
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load1": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
