"""Cost of drift monitoring (PSI per feature and the score) in the scorer's batch path.

In process, no broker: the scorer's CPU per micro-batch is what bounds its throughput (the
broker runs in docs/benchmarks.md "Scorer" add I/O, which drift does not touch). Times, over
the same Avro batches of the live schema, the hot path as the loop runs it:

  without: decode (RecordDecoder) + score_batch (forward pass, explanation, encode)
  with:    the same + DriftWindow.observe (one searchsorted per feature, one bincount)

interleaved, several rounds; reports events per CPU-second of each and the overhead (CPU
time of this process, not wall time: the shared machine's load would swamp a 5 % effect in
wall time; BLAS is pinned to one thread as in the scorer). The PSI read-out (every
lag_interval_s, 2 s) is timed too.

Run:  python benchmarks/bench_drift.py [--batch 2000] [--batches 50] [--rounds 7]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `fraudstream score` (before numpy)

import argparse
import statistics
import time
from typing import Any

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.model import NumpyModel
from fraudstream.producer.synthetic import generate_arrays, generate_events
from fraudstream.scorer.drift import DriftWindow
from fraudstream.scorer.reload import prepare
from fraudstream.scorer.scoring import score_batch
from fraudstream.serde.ksql_records import RecordDecoder
from fraudstream.serde.schemas import load_schema
from fraudstream.serde.wire import header
from fraudstream.testing.messages import Msg as FakeMsg
from fraudstream.testing.scorer import live_value, pca_model
from fraudstream.trainer.reference import drift_reference

SCHEMA_ID = 1


class _Schemas:
    def schema(self, schema_id: int) -> dict[str, Any]:
        return load_schema("live")


def _Msg(v: bytes) -> FakeMsg:
    return FakeMsg(v, topic="live")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sample", type=int, default=4, help="drift_sample (1 = bin every event)")
    args = ap.parse_args()

    x, _t, _y = generate_arrays(20_000, seed=3)
    manifest, weights = pca_model(x)
    ref = drift_reference(x, FEATURE_COLUMNS, NumpyModel(manifest, weights).score(x))
    manifest = manifest.model_copy(update={"drift_reference": ref})
    serving = prepare(NumpyModel(manifest, weights))
    prefix = header(2)

    events = list(generate_events(args.batch * args.batches, seed=5, users=1000))
    msgs = [_Msg(live_value(ev, SCHEMA_ID)) for ev in events]
    batches = [msgs[i : i + args.batch] for i in range(0, len(msgs), args.batch)]
    decoder = RecordDecoder("avro", _Schemas())

    def run(drift: DriftWindow | None) -> float:
        t0 = time.process_time()
        for b in batches:
            batch = decoder.decode(b)
            scored = score_batch(batch, serving, 3, prefix)
            if drift is not None:
                drift.observe(batch.numeric, scored.scores)
        return time.process_time() - t0

    n = len(msgs)
    run(None)  # warm-up (schema plan, caches)
    without: list[float] = []
    with_: list[float] = []
    for _ in range(args.rounds):
        without.append(run(None))
        with_.append(run(DriftWindow(ref, 20_000, 2_000, args.sample)))
    w = DriftWindow(ref, 20_000, 2_000, args.sample)
    for b in batches[:10]:
        batch = decoder.decode(b)
        w.observe(batch.numeric, score_batch(batch, serving, 3, prefix).scores)
    t0 = time.process_time()
    for _ in range(1000):
        w.values()
    readout_us = (time.process_time() - t0) / 1000 * 1e6

    # drift.observe alone on decoded batches (min of rounds: least disturbed by other load)
    decoded = [decoder.decode(b) for b in batches]
    scores = [score_batch(d, serving, 3, prefix).scores for d in decoded]
    alone: list[float] = []
    for _ in range(args.rounds):
        w2 = DriftWindow(ref, 20_000, 2_000, args.sample)
        t0 = time.process_time()
        for d, s in zip(decoded, scores, strict=True):
            w2.observe(d.numeric, s)
        alone.append(time.process_time() - t0)

    a, b_ = statistics.median(without), statistics.median(with_)
    print(f"min per round: without {min(without) * 1000:.0f} ms, with {min(with_) * 1000:.0f} ms "
          f"({(min(with_) - min(without)) / min(without) * 100:+.1f} %)")  # fmt: skip
    print(f"DriftWindow.observe alone: min {min(alone) / n * 1e9:.0f} ns/event, "
          f"median {statistics.median(alone) / n * 1e9:.0f} ns/event; batch path without drift "
          f"min {min(without) / n * 1e9:.0f} ns/event -> drift = "
          f"{min(alone) / min(without) * 100:.1f} % of it")  # fmt: skip
    print(f"events per round: {n} ({args.batches} batches of {args.batch}); rounds: "
          f"{args.rounds}; drift_sample {args.sample}")  # fmt: skip
    print(f"without drift: {n / a:,.0f} events/s (median {a * 1000:.1f} ms/round)")
    print(f"with drift:    {n / b_:,.0f} events/s (median {b_ * 1000:.1f} ms/round)")
    print(f"overhead: {(b_ - a) / a * 100:+.1f} % of the batch path; "
          f"drift alone {(b_ - a) / n * 1e9:.0f} ns/event")  # fmt: skip
    print(f"PSI read-out (30 series): {readout_us:.0f} us")
    print("per-round ms without:", [round(t * 1000, 1) for t in without])
    print("per-round ms with:   ", [round(t * 1000, 1) for t in with_])


if __name__ == "__main__":
    main()
