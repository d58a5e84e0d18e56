"""Trainer speed: training rows/s of the default model, and Avro topic read rate.

Measures, in one run:
  1. training: the default autoencoder (29-14-7-14-29, batch 64) on N synthetic rows
     (default 284,807, the size of the full Kaggle data) for E epochs (default 20, early
     stopping off), reporting rows/s and the projected time for 284,807 rows x 20 epochs
     against the 5-minute target; also batch 256 for comparison (ratio);
  2. reading: M KSQL-style Avro records (default 200,000) produced to a 3-partition topic,
     then read back as a bounded snapshot with writer schemas from the embedded registry,
     reporting records/s against the 50,000/s target.

    python benchmarks/bench_trainer.py [--rows 284807] [--epochs 20] [--records 200000]
                                       [--skip-train] [--skip-read]

Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, else starts the project's local broker.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from typing import Any

import numpy as np

from fraudstream.testing.datasets import synthetic_dataset
from fraudstream.trainer.data import RAW_COLUMNS

FULL_ROWS = 284_807
TARGET_S = 300.0


def bench_train(rows: int, epochs: int, batch_size: int) -> dict[str, float]:
    from fraudstream.trainer.features import fit_preprocessing, transform
    from fraudstream.trainer.network import layer_specs, train_autoencoder
    from fraudstream.trainer.settings import TrainerSettings

    ds = synthetic_dataset(rows, seed=1, fraud_rate=0.00172)
    pre = fit_preprocessing(ds.raw, hour_features=False)
    x = transform(pre, ds.raw)
    settings = TrainerSettings(epochs=epochs, patience=epochs + 1, batch_size=batch_size)
    layers = layer_specs(29, settings.encoder_units, settings.activation)
    val = x[: max(1, rows // 5)]
    t0 = time.perf_counter()
    res = train_autoencoder(x, val, layers, settings, log_dir=None)
    wall = time.perf_counter() - t0
    rps = rows * res.epochs_run / wall
    return {
        "rows": rows,
        "epochs": res.epochs_run,
        "batch_size": batch_size,
        "seconds": wall,
        "rows_per_s": rps,
        "projected_full_20_epochs_s": FULL_ROWS * 20 / rps,
    }


def _records(n: int) -> list[dict[str, Any]]:
    ds = synthetic_dataset(n, seed=2, fraud_rate=0.00172)
    out = []
    for i, (row, label) in enumerate(zip(ds.raw, ds.label, strict=True)):
        col = dict(zip(RAW_COLUMNS, row.tolist(), strict=True))
        rec: dict[str, Any] = {
            "ID": i,
            "TIMESTAMP": "2013-09-01T00:00:00Z",
            "TIME": int(col["Time"]),
        }
        rec.update({f"V{k}": col[f"V{k}"] for k in range(1, 29)})
        rec["AMOUNT"] = col["Amount"]
        rec["CLASS"] = int(label)
        out.append(rec)
    return out


def bench_read(records: int) -> dict[str, float]:
    from confluent_kafka import Producer

    from benchkit import broker
    from fraudstream.kafka.admin import create_topics, wait_for_broker
    from fraudstream.kafka.clients import producer_config
    from fraudstream.local.procs import free_port
    from fraudstream.registry.server import RegistryServer
    from fraudstream.serde.avro import AvroEncoder
    from fraudstream.serde.registry_client import RegistryClient
    from fraudstream.serde.schemas import load_schema
    from fraudstream.trainer.avro_source import read_dataset, registry_lookup

    with broker("bench-trainer-") as b:
        bootstrap = b.bootstrap
        registry = RegistryServer(
            bootstrap, port=free_port(), topic=f"_schemas-{uuid.uuid4().hex[:8]}"
        )
        try:
            registry.start(timeout=60)
            admin = wait_for_broker(bootstrap, timeout=30)
            topic = f"bench-preproc-{uuid.uuid4().hex[:8]}"
            create_topics(admin, [topic], partitions=3)
            enc = AvroEncoder(RegistryClient(registry.url), f"{topic}-value",
                              load_schema("preprocessed"))  # fmt: skip
            p = Producer(producer_config(bootstrap, linger_ms=20))
            for i, rec in enumerate(_records(records)):
                while True:
                    try:
                        p.produce(topic, value=enc.encode(rec))
                        break
                    except BufferError:
                        p.poll(0.1)
                if i % 10_000 == 0:
                    p.poll(0)
            p.flush(120)
            t0 = time.perf_counter()
            ds = read_dataset(bootstrap, topic, registry_lookup(registry.url))
            wall = time.perf_counter() - t0
            assert len(ds) == records, (len(ds), records)
            return {"records": records, "seconds": wall, "records_per_s": records / wall}
        finally:
            registry.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=FULL_ROWS)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-read", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    if not args.skip_train:
        a = bench_train(args.rows, args.epochs, 64)
        print(
            f"train batch 64 : {a['rows']:,} rows x {a['epochs']} epochs in {a['seconds']:.1f}s"
            f" = {a['rows_per_s']:,.0f} rows/s; projected 284,807 x 20: "
            f"{a['projected_full_20_epochs_s']:.0f}s (target {TARGET_S:.0f}s) "
            f"{'OK' if a['projected_full_20_epochs_s'] <= TARGET_S else 'MISSED'}"
        )
        b = bench_train(min(args.rows, 100_000), min(args.epochs, 5), 256)
        print(
            f"train batch 256: {b['rows_per_s']:,.0f} rows/s "
            f"(ratio to batch 64: {b['rows_per_s'] / a['rows_per_s']:.2f}x)"
        )
    if not args.skip_read:
        r = bench_read(args.records)
        print(
            f"read Avro topic: {r['records']:,} records in {r['seconds']:.2f}s = "
            f"{r['records_per_s']:,.0f} records/s (target 50,000/s) "
            f"{'OK' if r['records_per_s'] >= 50_000 else 'MISSED'}"
        )
    print(f"load after: {os.getloadavg()}; numpy {np.__version__}")


if __name__ == "__main__":
    main()
