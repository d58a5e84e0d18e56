"""Cold start: per-second latency of a fresh local broker + one scorer under a paced load.

Issue 18 item 2. One run: a new `LocalKafka` (fresh data dir, as `fraudstream up` makes
it), the embedded registry, a `fraudstream score` process; as soon as the scorer reports
ready, a separate producer process sends live events at `--rate` for `--secs` seconds
(stamped at send time). Per second of that load it prints:

- `ack p99`: the input producer's own acknowledgement latency (send -> delivery report);
- `e2e p99`: event time -> its score record received by a downstream consumer;
- the scorer's batches and mean batch size in that second (its /metrics, scraped 1/s);
- CPU used by the broker and by the scorer in that second (from /proc), and the load average.

`--no-scorer` runs the same load against a fresh broker without a scorer (the issue's
control); `--warm-broker N` sends N seconds of the same load through a scratch topic before
the scorer starts (what a broker that has already served traffic looks like).

Run:  python benchmarks/bench_coldstart.py [--rate 5000] [--secs 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from confluent_kafka import Consumer, Producer

from fraudstream.kafka import consumer_config, create_topics, producer_config, wait_for_broker
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port
from fraudstream.producer.synthetic import generate_events
from fraudstream.registry.server import RegistryServer
from fraudstream.serde.schemas import load_schema
from fraudstream.testing.scorer import live_value, publish_pca_model, register

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scorer import _event_time_ms, cpu_seconds


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def paced(
    bootstrap: str, topic: str, schema_id: int, rate: float, secs: float, out: str, started: Any
) -> None:
    """Child process: `rate` events/s for `secs` s; writes (send offset s, ack latency s) and
    puts its clock's start (monotonic, shared by every process) in `started`."""
    p = Producer(producer_config(bootstrap, linger_ms=1))
    events = list(generate_events(int(rate * secs) + 100, seed=33, id_offset=10**9, users=1000))
    p.list_topics(topic, timeout=10)  # connected and idempotent id fetched before the clock
    time.sleep(0.5)
    sent_at: list[float] = []
    acks: list[tuple[float, float]] = []
    t0 = time.monotonic()
    started.value = t0

    def on_ack(i: int) -> Any:
        def cb(err: Any, _msg: Any) -> None:
            lat = float("inf") if err is not None else time.monotonic() - t0 - sent_at[i]
            acks.append((sent_at[i], lat))

        return cb

    total, i = int(rate * secs), 0
    while i < total:
        due = min(total, int((time.monotonic() - t0) * rate))
        while i < due:
            ev = events[i]
            ev["Timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
            sent_at.append(time.monotonic() - t0)
            p.produce(topic, live_value(ev, schema_id), ev["User"].encode(), on_delivery=on_ack(i))
            i += 1
        p.poll(0)
        time.sleep(0.002)
    left = p.flush(30)
    acks += [(float("nan"), float("inf"))] * left  # never acknowledged: count as infinite
    np.save(out, np.array(acks).T)  # row 0: send time (s from start), row 1: ack latency


def scrape(client: httpx.Client, port: int) -> dict[str, float]:
    """The scorer's counters of interest (batch count/sum, events scored)."""
    want = ("fraudstream_batch_size_count", "fraudstream_batch_size_sum",
            "fraudstream_events_scored_total")  # fmt: skip
    try:
        text = client.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split(" ", 1)[0]
        if name in want:
            out[name] = float(line.split()[-1])
    return out


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU-seconds per thread kind of a process: `main` (its main thread), `rdk` (librdkafka's
    threads), `other` (other Python threads: HTTP server, model watcher)."""
    out = {"main": 0.0, "rdk": 0.0, "other": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        f = stat.rsplit(")", 1)[1].split()
        kind = "main" if tid == str(pid) else "rdk" if name.startswith("rdk:") else "other"
        out[kind] += (int(f[11]) + int(f[12])) / tick
    return out


class Sampler(threading.Thread):
    """Once a second of the load: the CPU the broker and the scorer used and the scorer's
    batch counters. A thread of its own with one HTTP client, so the reader never waits for
    it: a fresh `httpx.get` costs ~22 ms of CPU (a new SSL context per call), which held
    the reader once a second and showed up in every second's p99."""

    def __init__(self, t_start: float, port: int, bpid: int | None, spid: int | None) -> None:
        super().__init__(daemon=True)
        self.t_start, self.port, self.bpid, self.spid = t_start, port, bpid, spid
        self.rows: list[dict[str, float]] = []
        self.client = httpx.Client()
        self.stop = threading.Event()

    def sample(self) -> dict[str, float]:
        return {"b": cpu_seconds(self.bpid) if self.bpid else 0.0,
                "s": cpu_seconds(self.spid) if self.spid else 0.0,
                **scrape(self.client, self.port)}  # fmt: skip

    def run(self) -> None:
        prev = self.sample()
        tick = self.t_start + 1.0
        while not self.stop.wait(max(tick - time.monotonic(), 0.0)):
            cur = self.sample()
            nb = cur.get("fraudstream_batch_size_count", 0) - prev.get(
                "fraudstream_batch_size_count", 0
            )
            ne = cur.get("fraudstream_batch_size_sum", 0) - prev.get(
                "fraudstream_batch_size_sum", 0
            )
            self.rows.append({"broker_cpu": cur["b"] - prev["b"],
                              "scorer_cpu": cur["s"] - prev["s"],
                              "batches": nb, "mean_batch": ne / nb if nb else 0.0,
                              "load1": os.getloadavg()[0]})  # fmt: skip
            prev = cur
            tick += 1.0


def per_second(at: np.ndarray[Any, Any], lat: np.ndarray[Any, Any], secs: int) -> list[float]:
    """p99 (ms) of `lat` for each whole second of `at`; NaN where a second has none."""
    out = []
    for s in range(secs):
        sel = lat[(at >= s) & (at < s + 1)]
        out.append(float(np.percentile(sel, 99) * 1000) if len(sel) else float("nan"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--no-scorer", action="store_true")
    ap.add_argument("--warm-broker", type=float, default=0.0, help="seconds of scratch load")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--profile", type=Path, help="run the scorer under cProfile, stats here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    results: dict[str, Any] = {
        "loadavg_start": os.getloadavg(),
        "rate": args.rate,
        "scorer": not args.no_scorer,
        "warm_broker_s": args.warm_broker,
    }
    broker = LocalKafka(work, port=free_port(), controller_port=free_port(), log_level="WARN")
    scorer: subprocess.Popen[bytes] | None = None
    registry: RegistryServer | None = None
    ctx = mp.get_context("spawn")
    http = httpx.Client()
    try:
        t_boot = time.monotonic()
        bootstrap = broker.start(timeout=180)
        results["jvm_options"] = " ".join(broker.jvm_options or ())
        log(f"fresh broker up in {time.monotonic() - t_boot:.1f}s (JVM options: "
            f"{results['jvm_options'] or 'none: tiered C1+C2'})")  # fmt: skip
        registry = RegistryServer(bootstrap, port=free_port(), topic="_schemas")
        registry.start(timeout=90)
        admin = wait_for_broker(bootstrap)
        topic, scores, alerts, dlq = "live", "scores", "alerts", "dlq"
        create_topics(admin, [topic, scores, alerts, dlq], partitions=args.partitions)
        schema_id = register(registry.url, f"{topic}-value", load_schema("live"))
        if args.warm_broker:
            create_topics(admin, ["warm"], partitions=args.partitions)
            w = ctx.Process(target=paced, args=(bootstrap, "warm", schema_id, args.rate,
                                                args.warm_broker, str(work / "warm.npy"),
                                                ctx.Value("d", 0.0)))  # fmt: skip
            w.start()
            w.join(args.warm_broker + 120)
            log(f"broker warmed with {args.warm_broker:.0f}s of load")
        port = free_port()
        if not args.no_scorer:
            model_dir = work / "models"
            publish_pca_model(model_dir, seed=1)
            env = dict(os.environ, FRAUDSTREAM_KAFKA_BOOTSTRAP=bootstrap,
                       FRAUDSTREAM_REGISTRY_URL=registry.url,
                       FRAUDSTREAM_SCORER_TOPIC_SCORES=scores,
                       FRAUDSTREAM_SCORER_TOPIC_ALERTS=alerts,
                       FRAUDSTREAM_SCORER_TOPIC_DLQ=dlq)  # fmt: skip
            prof = [] if args.profile is None else ["-m", "cProfile", "-o", str(args.profile)]
            scorer = subprocess.Popen(
                [sys.executable, *prof, "-m", "fraudstream", "score", "--topic", topic,
                 "--group", "cold", "--model-dir", str(model_dir), "--metrics-port", str(port)],
                env=env, stdout=(work / "scorer.log").open("wb"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            deadline = time.monotonic() + 180
            while scrape(http, port).get("fraudstream_events_scored_total") is None or (
                http.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code != 200
            ):
                if scorer.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("scorer not ready:\n" + (work / "scorer.log").read_text())
                time.sleep(0.05)
            log("scorer ready")
        c = Consumer(consumer_config(bootstrap, f"lat-{uuid.uuid4().hex[:6]}",
                                     auto_offset_reset="latest", fetch_wait_max_ms=5))  # fmt: skip
        c.subscribe([scores])
        end = time.monotonic() + 10
        while not c.assignment() and time.monotonic() < end:
            c.poll(0.1)
        started = ctx.Value("d", 0.0)
        out = str(work / "acks.npy")
        proc = ctx.Process(
            target=paced, args=(bootstrap, topic, schema_id, args.rate, args.secs, out, started)
        )
        proc.start()
        bpid = broker.pid()
        while started.value == 0.0 and proc.is_alive():  # the load's clock starts in the child
            c.poll(0.01)
        t_start = started.value
        lat: list[float] = []
        out_ms: list[float] = []
        seen: list[float] = []
        sampler = Sampler(t_start, port, bpid, scorer.pid if scorer else None)
        threads0 = thread_cpu(scorer.pid) if scorer else {}
        sampler.start()
        expected = int(args.rate * args.secs)
        deadline = t_start + args.secs + 30

        def running() -> bool:
            return proc.is_alive() if args.no_scorer else len(lat) < expected

        while time.monotonic() < deadline and running():
            first = c.poll(0.02)
            if first is not None:
                got = [first, *c.consume(1000, timeout=0)]
                now_ms = time.time() * 1000.0
                for m in got:
                    if m.error() is None:
                        ev_ms = _event_time_ms(m.value() or b"")
                        lat.append((now_ms - ev_ms) / 1000.0)
                        # the score record's CreateTime: when the scorer called produce()
                        out_ms.append((now_ms - m.timestamp()[1]) / 1000.0)
                        seen.append(time.monotonic() - t_start)
        sampler.stop.set()
        sampler.join(10)
        rows = sampler.rows[: args.secs]
        if scorer is not None:
            threads1 = thread_cpu(scorer.pid)
            results["scorer_thread_cpu_s"] = {k: threads1[k] - threads0[k] for k in threads1}
        proc.join(120)
        c.close()
        acks = np.load(work / "acks.npy")
        n = args.secs
        ack_p99 = per_second(acks[0], acks[1], n)
        e2e = per_second(np.asarray(seen), np.asarray(lat), n) if lat else [float("nan")] * n
        # e2e = in (event -> the scorer's produce call) + out (that call -> the reader)
        at, lat_a, out_a = np.asarray(seen), np.asarray(lat), np.asarray(out_ms)
        e2e_in = per_second(at, lat_a - out_a, n) if lat else [float("nan")] * n
        e2e_out = per_second(at, out_a, n) if lat else [float("nan")] * n
        log("second | ack p99 ms | e2e p99 ms | in p99 | out p99 | batches | mean batch | "
            "broker CPU | scorer CPU | load1")  # fmt: skip
        for s in range(n):
            r = rows[s] if s < len(rows) else {}
            log(f"{s:6d} | {ack_p99[s]:10.1f} | {e2e[s]:10.1f} | {e2e_in[s]:6.1f} | "
                f"{e2e_out[s]:7.1f} | {r.get('batches', 0):7.0f} | "
                f"{r.get('mean_batch', 0):10.1f} | {r.get('broker_cpu', 0):10.2f} | "
                f"{r.get('scorer_cpu', 0):10.2f} | {r.get('load1', 0):5.2f}")  # fmt: skip
        a = acks[1]
        results.update(
            ack_p99_ms_per_s=ack_p99, e2e_p99_ms_per_s=e2e, per_s=rows,
            e2e_in_p99_ms_per_s=e2e_in, e2e_out_p99_ms_per_s=e2e_out,
            e2e_in_p99_ms=float(np.percentile(lat_a - out_a, 99) * 1000) if lat else None,
            e2e_out_p99_ms=float(np.percentile(out_a, 99) * 1000) if lat else None,
            broker_cpu_s=sum(r["broker_cpu"] for r in rows),
            scorer_cpu_s=sum(r["scorer_cpu"] for r in rows),
            ack_p99_ms=float(np.percentile(a, 99) * 1000),
            e2e_p99_ms=float(np.percentile(lat, 99) * 1000) if lat else None,
            e2e_p50_ms=float(np.percentile(lat, 50) * 1000) if lat else None,
            e2e_events=len(lat), loadavg_end=os.getloadavg(),
        )  # fmt: skip
        if scorer is not None:
            per_event = results["scorer_cpu_s"] / max(len(lat), 1) * 1e6
            threads = results["scorer_thread_cpu_s"]
            log(f"scorer CPU per event over the load: {per_event:.1f} us (threads, CPU-s: "
                f"main {threads['main']:.2f}, librdkafka {threads['rdk']:.2f}, "
                f"other {threads['other']:.2f})")  # fmt: skip
            results["scorer_cpu_us_per_event"] = per_event
        log(f"whole run: ack p99 {results['ack_p99_ms']:.1f} ms; e2e p50 "
            f"{results['e2e_p50_ms'] or 0:.1f} / p99 {results['e2e_p99_ms'] or 0:.1f} ms over "
            f"{len(lat)} events (in p99 {results['e2e_in_p99_ms'] or 0:.1f}, out p99 "
            f"{results['e2e_out_p99_ms'] or 0:.1f}); broker {results['broker_cpu_s']:.1f} / "
            f"scorer {results['scorer_cpu_s']:.1f} CPU-s; load "
            f"{results['loadavg_start'][0]:.2f} -> "
            f"{results['loadavg_end'][0]:.2f}")  # fmt: skip
    finally:
        http.close()
        if scorer is not None:
            scorer.terminate()
            scorer.wait(30)
            shutil.copy(work / "scorer.log", Path(tempfile.gettempdir()) / "bench-cold-scorer.log")
        if registry is not None:
            registry.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
