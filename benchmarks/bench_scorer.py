"""Scorer benchmark through a real local Kafka broker (one `fraudstream score` process).

Measures, in one run:
  1. consume-only: a bare confluent-kafka loop reading the pre-filled input topic, repeated
     over the same records until it has run >= 3 s (CPU per event: the headline's unit);
     then the consume + produce floor: the same records consumed and one score-sized record
     produced per event with a delivery report each (no decode, scoring or encoding);
  2. scorer end to end: consume + decode + score + produce (scores, alerts) + commit,
     over the same topic, from partition assignment until every event is scored;
  3. latency at a steady 5,000 events/s: event timestamp -> score record received by a
     downstream consumer (p50/p99), plus the scorer's own peak RSS (VmHWM);
  4. per-event Keras `model.predict` on the same weights (TensorFlow in this process only).

  5. with --variants: the end-to-end run again per variant of the scorer's extra work
     (drift off/on x challenger in shadow off/on), same topic, same model, fresh consumer
     group each, interleaved rounds: events/s and scorer CPU per event, ratios to the bare
     variant (issue 16: the cost of drift and shadow).

Run:  python benchmarks/bench_scorer.py [--events 200000] [--rate 5000] [--no-keras]
                                        [--variants [--variant-rounds 2]]
                                        [--model-dir models/<ae> --model-dir models/<hybrid>
                                         [--model-rounds 3]]
With --model-dir (repeatable), the end-to-end throughput is also measured for each of those
trained artifacts on the same input topic, interleaved over --model-rounds rounds, and the
ratios to the first are reported ("models" in the results).
Uses FRAUDSTREAM_KAFKA_BOOTSTRAP when set, otherwise starts the project's local broker.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from confluent_kafka import Consumer, Producer

from fraudstream.kafka import consumer_config, create_topics, producer_config, wait_for_broker
from fraudstream.kafka.delivery import produce_many
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port
from fraudstream.model import load_model, write_latest
from fraudstream.producer.synthetic import generate_events
from fraudstream.registry.server import RegistryServer
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.scorer import live_value, publish_pca_model, register


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fill_topic(bootstrap: str, topic: str, schema_id: int, n: int) -> None:
    p = Producer(producer_config(bootstrap))
    t0 = time.monotonic()
    for i, ev in enumerate(generate_events(n, seed=21, unlabelled=0.5, users=1000)):
        ev["Timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        while True:
            try:
                p.produce(topic, live_value(ev, schema_id), ev["User"].encode())
                break
            except BufferError:
                p.poll(0.05)
        if i % 20_000 == 0:
            p.poll(0)
            log(f"  filled {i}/{n}")
    assert p.flush(60) == 0
    log(f"  filled {n} events in {time.monotonic() - t0:.1f}s")


def consume_only(
    bootstrap: str, topic: str, n: int, batch: int, min_secs: float = 3.0
) -> tuple[float, float, int]:
    """(events/s, CPU us/event, passes) of a bare consume loop (values touched, offsets
    stored and committed), repeated over the same records with a new group each pass until
    it has consumed for at least `min_secs` (one pass of a few 100k records is too short to
    time). CPU is the whole process's (librdkafka's threads included), from the first
    consumer's creation to the last one's close."""
    cpu0 = time.process_time()
    got = 0
    el = 0.0
    passes = 0
    while el < min_secs or passes == 0:
        c = Consumer(consumer_config(bootstrap, f"bench-consume-{uuid.uuid4().hex[:8]}"))
        c.subscribe([topic])
        part = 0
        t0 = None
        total_bytes = 0
        deadline = time.monotonic() + 300
        while part < n and time.monotonic() < deadline:
            msgs = c.consume(batch, timeout=0.02)
            if not msgs:
                continue
            if t0 is None:
                t0 = time.monotonic()
            for m in msgs:
                if m.error() is None:
                    total_bytes += len(m.value() or b"")
                    part += 1
            c.store_offsets(msgs[-1])
        c.commit(asynchronous=False)
        el += time.monotonic() - (t0 or time.monotonic())
        c.close()
        got += part
        passes += 1
    cpu_us = (time.process_time() - cpu0) / max(got, 1) * 1e6
    log(f"  consume-only: {passes} passes, {got} events in {el:.2f}s; CPU {cpu_us:.2f} us/event")
    return got / el, cpu_us, passes


def consume_produce(
    bootstrap: str, topic: str, out: str, n: int, batch: int
) -> tuple[float, float]:
    """(events/s, CPU us/event) of the floor of any at-least-once consume -> produce loop on
    this client: consume, produce one score-sized record per input (`produce_many`, a
    delivery report per record counted by a callback), store offsets once all are acked.
    No decode, no scoring, no encoding: what the scorer would cost with free processing."""
    cpu0 = time.process_time()
    c = Consumer(consumer_config(bootstrap, f"bench-cp-{uuid.uuid4().hex[:8]}"))
    p = Producer(producer_config(bootstrap))
    c.subscribe([topic])
    value = bytes(range(256))[:150]
    acked = [0]

    def ack(err: Any, _msg: Any) -> None:
        if err is None:
            acked[0] += 1

    got = 0
    t0 = None
    deadline = time.monotonic() + 300
    pending: list[tuple[int, Any]] = []
    while got < n and time.monotonic() < deadline:
        msgs = c.consume(batch, timeout=0.02)
        p.poll(0)
        if not msgs:
            continue
        if t0 is None:
            t0 = time.monotonic()
        good = [m for m in msgs if m.error() is None]
        produce_many(p, out, [value] * len(good), [m.key() for m in good], ack)
        got += len(good)
        pending.append((got, good[-1] if good else msgs[-1]))
        while pending and acked[0] >= pending[0][0]:
            c.store_offsets(pending.pop(0)[1])
    p.flush(60)
    c.commit(asynchronous=False)
    el = time.monotonic() - (t0 or time.monotonic())
    c.close()
    cpu_us = (time.process_time() - cpu0) / max(got, 1) * 1e6
    log(f"  consume+produce floor: {got / el:,.0f} events/s, CPU {cpu_us:.2f} us/event")
    return got / el, cpu_us


def produce_only(bootstrap: str, topic: str, n: int, linger_ms: float) -> float:
    """Events/s of producing score-sized records with the scorer's producer settings."""
    p = Producer(producer_config(bootstrap, linger_ms=linger_ms))
    value = bytes(range(256))[:150]
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, value, b"%d" % i)
                break
            except BufferError:
                p.poll(0.05)
        if i % 5000 == 0:
            p.poll(0)
    assert p.flush(120) == 0
    return n / (time.monotonic() - t0)


def output_span(bootstrap: str, topic: str, n: int) -> tuple[float, float]:
    """(first, last) producer timestamps (ms) of the `n` records in `topic`."""
    c = Consumer(consumer_config(bootstrap, f"bench-span-{uuid.uuid4().hex[:8]}"))
    c.subscribe([topic])
    lo, hi, got = float("inf"), 0.0, 0
    deadline = time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        for m in c.consume(5000, timeout=0.2):
            if m.error() is None:
                ts = float(m.timestamp()[1])
                lo, hi, got = min(lo, ts), max(hi, ts), got + 1
    c.close()
    return lo, hi


def metric(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1.0
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def histogram(port: int, name: str) -> list[tuple[float, float]]:
    """(le, cumulative count) pairs of an unlabelled histogram from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return out


def hist_quantile(before: list[tuple[float, float]], after: list[tuple[float, float]],
                  q: float) -> float:  # fmt: skip
    """Prometheus-style histogram_quantile over the increase between two scrapes."""
    counts = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in counts:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-12)
        prev_le, prev_c = le, c
    return prev_le


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def paced_producer(bootstrap: str, topic: str, schema_id: int, rate: float, secs: float) -> None:
    """Child process: events stamped at send time, in 10 ms slices, at `rate` per second."""
    p = Producer(producer_config(bootstrap, linger_ms=1))
    # Generated up front: the generator works in chunks, which would otherwise burn this
    # process's CPU inside the measured window (two cores are shared with the scorer).
    events = iter(list(generate_events(int(rate * secs) + 100, seed=33, id_offset=10**9,
                                       users=1000)))  # fmt: skip
    # A real producer is long-lived: connect, fetch metadata and the idempotent producer id
    # before the clock starts, or the first ~0.2 s of events (1% at 5,000/s: the whole p99)
    # would measure this process's start-up instead of the pipeline.
    p.list_topics(topic, timeout=10)
    time.sleep(1.0)
    t0 = time.monotonic()
    sent = 0
    total = int(rate * secs)
    while sent < total:
        due = min(total, int((time.monotonic() - t0) * rate))
        while sent < due:
            ev = next(events)
            ev["Timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
            p.produce(topic, live_value(ev, schema_id), ev["User"].encode())
            sent += 1
        p.poll(0)
        time.sleep(0.005)
    p.flush(30)


def latency_run(
    bootstrap: str, registry: str, topic: str, scores_topic: str, schema_id: int,
    rate: float, secs: float,
) -> tuple[float, float, float, int]:  # fmt: skip
    """(p50, p99, max) seconds from event timestamp to the score arriving downstream."""
    c = Consumer(consumer_config(bootstrap, f"bench-lat-{uuid.uuid4().hex[:8]}",
                                 auto_offset_reset="latest", fetch_wait_max_ms=5))  # fmt: skip
    c.subscribe([scores_topic])
    t_end = time.monotonic() + 10
    while not c.assignment() and time.monotonic() < t_end:
        c.poll(0.1)
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=paced_producer, args=(bootstrap, topic, schema_id, rate, secs))
    proc.start()
    lat: list[float] = []
    seen_at: list[float] = []
    t_start = time.monotonic()
    expected = int(rate * secs)
    deadline = time.monotonic() + secs + 30
    while len(lat) < expected and time.monotonic() < deadline:
        # Wait for the first record only, then take what is already fetched: consume(n,
        # timeout) would hold the records until n arrived or the timeout passed, adding up
        # to `timeout` to every measured latency (it did: p50 ~53 ms was mostly this wait).
        first = c.poll(0.05)
        if first is None:
            continue
        got = [first, *c.consume(1000, timeout=0)]
        now_ms = time.time() * 1000.0
        for m in got:
            if m.error() is not None:
                continue
            v = m.value() or b""
            # event_time is field 9 of the score record; decode just what we need.
            lat.append(now_ms - _event_time_ms(v))
            seen_at.append(time.monotonic() - t_start)
    proc.join(30)
    c.close()
    arr = np.asarray(lat) / 1000.0
    at = np.asarray(seen_at)
    slow = at[arr > 0.05]
    if len(slow):  # where the tail sits in time: start-up, periodic stalls, or spread out
        hist = np.histogram(slow, bins=np.arange(0, at.max() + 1.0, 1.0))[0]
        log(f"  events over 50 ms per second of the run: {hist.tolist()}")
    return (
        float(np.percentile(arr, 50)),
        float(np.percentile(arr, 99)),
        float(arr.max()),
        len(lat),
    )


def _event_time_ms(value: bytes) -> float:
    import io

    import fastavro

    from fraudstream.serde.schemas import parsed_schema

    rec = fastavro.schemaless_reader(io.BytesIO(value[5:]), parsed_schema("score"), None)
    assert isinstance(rec, dict)
    return float(rec["event_time"].timestamp() * 1000.0)


def scorer_throughput(
    bootstrap: str, registry_url: str, topic: str, partitions: int, artifact: Path, n: int,
    batch_size: int, work: Path,
) -> dict[str, float]:  # fmt: skip
    """One `fraudstream score` process serving the trained artifact `artifact` (a version
    directory) over the whole pre-filled `topic`, fresh group and output topics: events/s
    (ready -> all scored; steady: first to last score record) and the scorer's CPU/event."""
    tag = uuid.uuid4().hex[:8]
    store = work / f"models-{tag}"
    shutil.copytree(artifact, store / artifact.name)
    write_latest(store, artifact.name)
    scores, alerts, dlq = (f"{x}-{tag}" for x in ("scores", "alerts", "dlq"))
    create_topics(wait_for_broker(bootstrap), [scores, alerts, dlq], partitions=partitions)
    port = free_port()
    env = dict(os.environ, FRAUDSTREAM_KAFKA_BOOTSTRAP=bootstrap,
               FRAUDSTREAM_REGISTRY_URL=registry_url, FRAUDSTREAM_SCORER_TOPIC_SCORES=scores,
               FRAUDSTREAM_SCORER_TOPIC_ALERTS=alerts,
               FRAUDSTREAM_SCORER_TOPIC_DLQ=dlq)  # fmt: skip
    scorer_log = work / f"scorer-{tag}.log"
    with scorer_log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fraudstream", "score", "--topic", topic,
             "--group", f"bench-model-{tag}", "--model-dir", str(store),
             "--metrics-port", str(port), "--batch-size", str(batch_size)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while metric(port, "fraudstream_ready") != 1.0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scorer did not become ready:\n" + scorer_log.read_text())
            time.sleep(0.01)
        t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
        while (done := metric(port, "fraudstream_events_scored_total")) < n:
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"scorer stuck at {done}")
            time.sleep(0.25)
        el, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(30)
    first_ms, last_ms = output_span(bootstrap, scores, n)
    return {
        "events_per_s": n / el,
        "steady_events_per_s": (n - 1) / max((last_ms - first_ms) / 1000.0, 1e-9),
        "cpu_us_per_event": cpu / n * 1e6,
    }


def compare_models(
    bootstrap: str, registry_url: str, topic: str, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """`scorer_throughput` for each --model-dir, interleaved over --model-rounds rounds
    (the order reversed every other round):
    per model the runs and medians, and the medians' ratios to the first model's."""
    names = [str(d) for d in args.model_dir]
    runs: dict[str, list[dict[str, float]]] = {d: [] for d in names}
    for r in range(args.model_rounds):
        # alternate the order: the second reader of the topic in a round may find the
        # broker's cache warm, which would favour whichever model always runs second
        for d in args.model_dir if r % 2 == 0 else reversed(args.model_dir):
            res = scorer_throughput(bootstrap, registry_url, topic, args.partitions, d,
                                    args.events, args.batch_size, work)  # fmt: skip
            runs[str(d)].append(res)
            log(f"  round {r + 1} {d.name}: {res['events_per_s']:,.0f} events/s, steady "
                f"{res['steady_events_per_s']:,.0f}, "
                f"{res['cpu_us_per_event']:.2f} us/event CPU")  # fmt: skip
    med = {d: {k: float(np.median([x[k] for x in rs])) for k in rs[0]} for d, rs in runs.items()}
    first = med[names[0]]
    ratios = {
        d: {
            "events_per_s": m["events_per_s"] / first["events_per_s"],
            "steady_events_per_s": m["steady_events_per_s"] / first["steady_events_per_s"],
            # throughput per CPU second, relative: the first's CPU/event over this one's
            "events_per_cpu_s": first["cpu_us_per_event"] / m["cpu_us_per_event"],
        }
        for d, m in med.items()
    }
    for d, rt in ratios.items():
        log(
            f"  {d}: median ratios to the first: "
            + ", ".join(f"{k} {v:.3f}" for k, v in rt.items())
        )
    return {"rounds": args.model_rounds, "runs": runs, "median": med, "ratio_to_first": ratios}


def keras_baseline(model_dir: Path, version: str, n: int = 200) -> dict[str, float]:
    """Per-event `model.predict` on a Keras model carrying the same weights."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    m = load_model(model_dir / version)
    layers = m.manifest.layers
    npz = np.load(model_dir / version / "weights.npz")
    inp = keras.Input(shape=(len(m.features),))
    h = inp
    for spec in layers:
        h = keras.layers.Dense(spec.units, activation=spec.activation)(h)
    km = keras.Model(inp, h)
    for i, layer in enumerate(km.layers[1:]):
        layer.set_weights([npz[f"W{i}"], npz[f"b{i}"]])
    events = list(generate_events(n, seed=5))
    from fraudstream.events import FEATURE_COLUMNS

    raw = np.array([[e[c] for c in FEATURE_COLUMNS] for e in events])
    x = m.preprocess(raw)
    km.predict(x[:1], verbose=0)  # warm-up (graph tracing)
    t0 = time.perf_counter()
    for i in range(n):
        km.predict(x[i : i + 1], verbose=0)
    per_event = (time.perf_counter() - t0) / n
    x_hat = km.predict(x, verbose=0)
    keras_scores = m.errors_from_reconstruction(x, x_hat).mean(axis=1)
    diff = float(np.max(np.abs(keras_scores - m.score(raw))))
    t0 = time.perf_counter()
    reps = 200
    for _ in range(reps):
        m.score(raw[:1])
    numpy_one = (time.perf_counter() - t0) / reps
    return {
        "keras_predict_s_per_event": per_event,
        "keras_events_per_s": 1.0 / per_event,
        "numpy_single_event_s": numpy_one,
        "keras_vs_numpy_max_abs_score_diff": diff,
    }


VARIANTS = {  # name -> (drift on, challenger in shadow)
    "bare": (False, False),
    "drift": (True, False),
    "shadow": (False, True),
    "drift+shadow": (True, True),
}


def variant_model_dirs(work: Path) -> dict[bool, Path]:
    """shadow? -> a model store: the champion (with a drift reference, as the trainer
    writes it), and for True a second version marked candidate (served in shadow)."""
    from fraudstream.model import DirectoryModelStore
    from fraudstream.model.lifecycle import mark_candidate

    out = {}
    for shadow in (False, True):
        d = work / f"models-{'shadow' if shadow else 'plain'}"
        publish_pca_model(d, seed=1, drift=True)
        if shadow:
            v2 = publish_pca_model(d, seed=8, bias=0.05, publish=False, drift=True)
            mark_candidate(DirectoryModelStore(d), v2, by="bench", reason="shadow cost")
        out[shadow] = d
    return out


def run_variant(
    bootstrap: str, registry_url: str, topic: str, tag: str, model_dir: Path, drift: bool,
    n: int, batch_size: int, work: Path,
) -> dict[str, float]:  # fmt: skip
    """One scorer process over the whole pre-filled topic: events/s and CPU us/event."""
    port = free_port()
    sub = f"{tag}-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, FRAUDSTREAM_KAFKA_BOOTSTRAP=bootstrap,
               FRAUDSTREAM_REGISTRY_URL=registry_url,
               FRAUDSTREAM_SCORER_TOPIC_SCORES=f"scores-{sub}",
               FRAUDSTREAM_SCORER_TOPIC_ALERTS=f"alerts-{sub}",
               FRAUDSTREAM_SCORER_TOPIC_DLQ=f"dlq-{sub}",
               FRAUDSTREAM_TOPIC_SCORES_SHADOW=f"shadow-{sub}",
               FRAUDSTREAM_SCORER_DRIFT="true" if drift else "false")  # fmt: skip
    logf = work / f"scorer-{sub}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraudstream", "score", "--topic", topic,
         "--group", f"bench-{sub}", "--model-dir", str(model_dir),
         "--metrics-port", str(port), "--batch-size", str(batch_size)],
        env=env, stdout=logf.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while metric(port, "fraudstream_ready") != 1.0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scorer did not become ready:\n" + logf.read_text())
            time.sleep(0.01)
        t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
        while metric(port, "fraudstream_events_scored_total") < n:
            if time.monotonic() - t0 > 600:
                raise SystemExit("scorer stuck:\n" + logf.read_text()[-2000:])
            time.sleep(0.25)
        el, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(30)
    return {"events_per_s": n / el, "cpu_us_per_event": cpu / n * 1e6}


def variants(
    bootstrap: str, registry_url: str, topic: str, tag: str, n: int, batch_size: int,
    rounds: int, work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Every variant `rounds` times, interleaved; the best (lowest CPU) round of each, and
    ratios to the bare variant."""
    dirs = variant_model_dirs(work)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for r in range(rounds):
        for name, (drift, shadow) in VARIANTS.items():
            got = run_variant(bootstrap, registry_url, topic, tag, dirs[shadow], drift, n,
                              batch_size, work)  # fmt: skip
            runs[name].append(got)
            log(f"  round {r + 1} {name:>12}: {got['events_per_s']:,.0f} events/s, "
                f"{got['cpu_us_per_event']:.2f} us CPU/event")  # fmt: skip
    best = {name: min(rs, key=lambda x: x["cpu_us_per_event"]) for name, rs in runs.items()}
    base = best["bare"]
    table = {
        name: {
            **b,
            "cpu_ratio_to_bare": b["cpu_us_per_event"] / base["cpu_us_per_event"],
            "rate_ratio_to_bare": b["events_per_s"] / base["events_per_s"],
            "all_rounds": runs[name],
        }
        for name, b in best.items()
    }
    log("  variant        events/s   CPU us/event   CPU ratio   rate ratio")
    for name, row in table.items():
        log(f"  {name:>12} {row['events_per_s']:>10,.0f} {row['cpu_us_per_event']:>14.2f}"
            f" {row['cpu_ratio_to_bare']:>11.3f} {row['rate_ratio_to_bare']:>12.3f}")  # fmt: skip
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--latency-secs", type=float, default=20.0)
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--variants", action="store_true",
                    help="also run each variant of drift x shadow (see 5. above)")  # fmt: skip
    ap.add_argument("--variant-rounds", type=int, default=2)
    ap.add_argument("--only-variants", action="store_true",
                    help="skip 1-4: only fill the topic and run the variants")  # fmt: skip
    ap.add_argument(
        "--model-dir",
        type=Path,
        action="append",
        default=[],
        help="a trained version directory to compare end to end (repeatable)",
    )
    ap.add_argument("--model-rounds", type=int, default=3)
    args = ap.parse_args()
    args.variants = args.variants or args.only_variants

    work = Path(tempfile.mkdtemp(prefix="bench-scorer-"))
    broker: LocalKafka | None = None
    bootstrap = os.environ.get("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    if not bootstrap:
        # Kafka's own start script runs the broker with these G1 settings (bin/
        # kafka-run-class.sh, KAFKA_JVM_PERFORMANCE_OPTS); without them G1 aims at 200 ms
        # pauses, and a 150 ms broker pause stalls every hop of the latency measurement.
        os.environ.setdefault(
            "JAVA_TOOL_OPTIONS", "-XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35"
        )
        broker = LocalKafka(work, port=free_port(), controller_port=free_port(), log_level="WARN")
        bootstrap = broker.start(timeout=120)
    for attempt in range(3):  # a just-started broker may not lead the new topic yet
        registry = RegistryServer(
            bootstrap, port=free_port(), topic=f"_schemas-{uuid.uuid4().hex[:8]}"
        )
        try:
            registry.start(timeout=60)
            break
        except Exception as exc:
            log(f"registry start failed ({exc}); retrying")
            registry.stop()
            if attempt == 2:
                raise
            time.sleep(2)
    scorer: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {
        "machine": {"nproc": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "loadavg_start": os.getloadavg()},
        "events": args.events, "partitions": args.partitions, "batch_size": args.batch_size,
    }  # fmt: skip
    try:
        admin = wait_for_broker(bootstrap)
        tag = uuid.uuid4().hex[:8]
        topic, scores, alerts, dlq = (f"{x}-{tag}" for x in ("live", "scores", "alerts", "dlq"))
        create_topics(admin, [topic], partitions=args.partitions)
        create_topics(admin, [scores, alerts, dlq], partitions=args.partitions)
        schema_id = register(registry.url, f"{topic}-value", load_schema("live"))
        model_dir = work / "models"
        version = publish_pca_model(model_dir, seed=1)
        log(f"filling {topic} with {args.events} live Avro events")
        fill_topic(bootstrap, topic, schema_id, args.events)
        if args.only_variants:
            log("variants: drift x shadow")
            results["variants"] = variants(bootstrap, registry.url, topic, tag, args.events,
                                           args.batch_size, args.variant_rounds, work)  # fmt: skip
            results["machine"]["loadavg_end"] = os.getloadavg()
            report(results, args.json)
            return

        log("consume-only loop (>= 3 s over the same records)")
        base, base_cpu, passes = consume_only(bootstrap, topic, args.events, args.batch_size)
        results["consume_only_events_per_s"] = base
        results["consume_only_cpu_us_per_event"] = base_cpu
        results["consume_only_passes"] = passes
        log(f"  consume-only: {base:,.0f} events/s")
        if args.model_dir:
            log(f"trained artifacts end to end, {args.model_rounds} interleaved rounds")
            results["models"] = compare_models(bootstrap, registry.url, topic, args, work)

        log("consume + produce floor (no decode, no scoring, no encoding)")
        create_topics(admin, [f"floor-{tag}"], partitions=args.partitions)
        floor, floor_cpu = consume_produce(
            bootstrap, topic, f"floor-{tag}", args.events, args.batch_size
        )
        results["consume_produce_events_per_s"] = floor
        results["consume_produce_cpu_us_per_event"] = floor_cpu

        log("produce-only loop (score-sized records, the scorer's producer settings)")
        create_topics(admin, [f"produce-only-{tag}"], partitions=args.partitions)
        linger = float(os.environ.get("FRAUDSTREAM_SCORER_LINGER_MS", "5"))
        pbase = produce_only(bootstrap, f"produce-only-{tag}", args.events, linger)
        results["produce_only_events_per_s"] = pbase
        log(f"  produce-only: {pbase:,.0f} events/s")

        port = free_port()
        env = dict(os.environ, FRAUDSTREAM_KAFKA_BOOTSTRAP=bootstrap,
                   FRAUDSTREAM_REGISTRY_URL=registry.url,
                   FRAUDSTREAM_SCORER_TOPIC_SCORES=scores,
                   FRAUDSTREAM_SCORER_TOPIC_ALERTS=alerts,
                   FRAUDSTREAM_SCORER_TOPIC_DLQ=dlq)  # fmt: skip
        scorer_log = (work / "scorer.log").open("wb")
        scorer = subprocess.Popen(
            [sys.executable, "-m", "fraudstream", "score", "--topic", topic,
             "--group", f"bench-scorer-{tag}", "--model-dir", str(model_dir),
             "--metrics-port", str(port), "--batch-size", str(args.batch_size)],
            env=env, stdout=scorer_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log("scorer end to end (consume, decode, score, produce, commit)")
        deadline = time.monotonic() + 120
        while metric(port, "fraudstream_ready") != 1.0:
            if scorer.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "scorer did not become ready:\n" + (work / "scorer.log").read_text()
                )
            time.sleep(0.01)
        t0 = time.monotonic()
        cpu0 = cpu_seconds(scorer.pid)
        # Poll rarely: every scrape takes the GIL from the scoring loop.
        while (done := metric(port, "fraudstream_events_scored_total")) < args.events:
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"scorer stuck at {done}")
            time.sleep(0.25)
        el = time.monotonic() - t0
        first_ms, last_ms = output_span(bootstrap, scores, args.events)
        steady = (args.events - 1) / max((last_ms - first_ms) / 1000.0, 1e-9)
        results["scorer_steady_events_per_s"] = steady
        results["ratio_steady_to_consume_only"] = steady / base
        log(f"  steady state (first to last score record): {steady:,.0f} events/s, "
            f"ratio to consume-only {steady / base:.2f}")  # fmt: skip
        cpu = cpu_seconds(scorer.pid) - cpu0
        results["scorer_cpu_us_per_event"] = cpu / args.events * 1e6
        # Throughput if the scorer had one core to itself (CPU-bound; load-independent).
        results["scorer_events_per_cpu_s"] = args.events / cpu
        results["cpu_ratio_to_consume_only"] = base_cpu / (cpu / args.events * 1e6)
        # the headline of issue 18: scorer CPU per event / consume-only CPU per event
        results["cpu_per_event_x_consume_only"] = (cpu / args.events * 1e6) / base_cpu
        results["cpu_per_event_x_consume_produce"] = (cpu / args.events * 1e6) / floor_cpu
        log(f"  CPU per event: scorer {cpu / args.events * 1e6:.2f} us = "
            f"{results['cpu_per_event_x_consume_only']:.2f}x consume-only ({base_cpu:.2f} us), "
            f"{results['cpu_per_event_x_consume_produce']:.2f}x the consume+produce floor "
            f"({floor_cpu:.2f} us)")  # fmt: skip
        log(f"  scorer CPU: {cpu:.2f}s = {cpu / args.events * 1e6:.1f} us/event "
            f"({cpu / el:.2f} cores busy)")  # fmt: skip
        rate = args.events / el
        results["scorer_events_per_s"] = rate  # ready -> all scored (0.25 s polling)
        results["ratio_to_consume_only"] = rate / base
        results["ratio_to_produce_only"] = rate / pbase
        results["scorer_rss_after_throughput_mb"] = peak_rss_mb(scorer.pid)
        log(f"  scorer: {rate:,.0f} events/s ({el:.2f}s), ratio to consume-only {rate / base:.2f},"
            f" to produce-only {rate / pbase:.2f}")  # fmt: skip

        log(f"latency at {args.rate:.0f} events/s for {args.latency_secs:.0f}s")
        h0 = histogram(port, "fraudstream_event_latency_seconds")
        p50, p99, mx, n = latency_run(bootstrap, registry.url, topic, scores, schema_id,
                                      args.rate, args.latency_secs)  # fmt: skip
        results.update(latency_p50_s=p50, latency_p99_s=p99, latency_max_s=mx, latency_events=n,
                       latency_rate=args.rate)  # fmt: skip
        h1 = histogram(port, "fraudstream_event_latency_seconds")
        results["scorer_histogram_p50_s"] = hist_quantile(h0, h1, 0.5)
        results["scorer_histogram_p99_s"] = hist_quantile(h0, h1, 0.99)
        log(f"  scorer's own histogram (event -> outputs acked): p50 "
            f"{results['scorer_histogram_p50_s'] * 1000:.1f} ms, p99 "
            f"{results['scorer_histogram_p99_s'] * 1000:.1f} ms")  # fmt: skip
        results["scorer_peak_rss_mb"] = peak_rss_mb(scorer.pid)
        log(f"  p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {mx * 1000:.1f} ms "
            f"over {n} events; scorer peak RSS {results['scorer_peak_rss_mb']:.0f} MB")  # fmt: skip
        scorer.terminate()
        scorer.wait(30)
        scorer = None

        if not args.no_keras:
            log("per-event Keras model.predict baseline (TensorFlow, this process only)")
            kb = keras_baseline(model_dir, version)
            results.update(kb)
            results["ratio_to_keras_per_event"] = rate / kb["keras_events_per_s"]
            log(f"  keras predict: {kb['keras_events_per_s']:.1f} events/s; scorer is "
                f"{results['ratio_to_keras_per_event']:,.0f}x; "
                f"max |score diff| {kb['keras_vs_numpy_max_abs_score_diff']:.2e}")  # fmt: skip
        if args.variants:
            log("variants: drift x shadow")
            results["variants"] = variants(bootstrap, registry.url, topic, tag, args.events,
                                           args.batch_size, args.variant_rounds, work)  # fmt: skip
        results["machine"]["loadavg_end"] = os.getloadavg()
    finally:
        if scorer is not None:
            scorer.kill()
            scorer.wait(10)
        registry.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, args.json)


def report(results: dict[str, Any], path: Path | None) -> None:
    print(json.dumps(results, indent=2))
    if path:
        path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
