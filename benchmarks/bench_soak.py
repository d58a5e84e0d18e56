"""Soak: the whole local stack (`fraudstream up` itself: broker, registry, KSQL with ksql/
applied, producer, scorer, monitor, the supervisor's live view and watchdog) at a steady rate
for a long time, to see what grows.

Every `--interval` seconds it samples the RSS and CPU time of every process of the stack, the
consumer lag of every consumer group (scorer, each KSQL query, monitor), end-to-end latency
(score record's Kafka timestamp minus the source record's Kafka timestamp, p50/p99 of the
scores that arrived in the interval) and events in vs scored (distinct Ids). At the end the
producer is stopped, the pipeline drains, and lost = source Ids never scored.

Writes <out>.csv (one row per sample), <out>.json (summary) and a PNG (--png).

Run: python benchmarks/bench_soak.py [--minutes 30] [--rate 2000] [--interval 10]
         [--out /tmp/soak] [--png docs/img/soak.png] [--warmup-min 5]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil
from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fraudstream.kafka.clients import admin_config
from fraudstream.kafka.reader import reader_consumer
from fraudstream.local.stack import Supervisor
from fraudstream.local.topics import end_offsets

ROOT = Path(__file__).resolve().parents[1]
SOURCE, SCORES = "creditcardfraud_source", "fraud_scores"


def _zigzag_long(b: bytes, pos: int) -> int:
    """The Avro long at `pos` (the score's first field is its event id)."""
    shift = acc = 0
    while True:
        c = b[pos]
        acc |= (c & 0x7F) << shift
        pos += 1
        if not c & 0x80:
            return (acc >> 1) ^ -(acc & 1)
        shift += 7


@dataclass
class Tracker:
    """Follows the source and scores topics: which Ids were produced, which scored, when."""

    bootstrap: str
    pending: dict[int, int] = field(default_factory=dict)  # id -> source timestamp (ms)
    early: dict[int, int] = field(default_factory=dict)  # scored before its source was read
    done: bytearray = field(default_factory=lambda: bytearray(1 << 20))
    produced: int = 0
    scored: int = 0
    duplicates: int = 0
    window: list[int] = field(default_factory=list)  # latencies (ms) since the last sample
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def _mark(self, i: int) -> bool:
        """Mark id i scored; False when it already was (a duplicate)."""
        if i >= len(self.done):
            self.done.extend(bytes(max(i + 1, 2 * len(self.done)) - len(self.done)))
        if self.done[i]:
            return False
        self.done[i] = 1
        return True

    def _scored(self, i: int, ts: int) -> None:
        src = self.pending.pop(i, None)
        if src is None:
            if (i < len(self.done) and self.done[i]) or i in self.early:
                self.duplicates += 1
            else:
                self.early[i] = ts
            return
        self._mark(i)
        self.scored += 1
        self.window.append(ts - src)

    def _source(self, i: int, ts: int) -> None:
        self.produced += 1
        sc = self.early.pop(i, None)
        if sc is None:
            self.pending[i] = ts
        else:
            self._mark(i)
            self.scored += 1
            self.window.append(sc - ts)

    def run(self) -> None:
        consumers = {}
        for topic in (SOURCE, SCORES):
            c = reader_consumer(self.bootstrap, read_committed=False)
            parts = end_offsets(self.bootstrap, topic)
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
            consumers[topic] = c
        try:
            while not self.stop.is_set():
                for topic, c in consumers.items():
                    msgs = c.consume(5000, timeout=0.2)
                    with self.lock:
                        for m in msgs:
                            v = m.value()
                            if m.error() is not None or not v:
                                continue
                            ts = m.timestamp()[1]
                            if topic == SOURCE:
                                try:
                                    i = orjson.loads(v).get("Id")
                                except orjson.JSONDecodeError:
                                    continue
                                if isinstance(i, int) and i >= 0:
                                    self._source(i, ts)
                            elif len(v) > 5:
                                self._scored(_zigzag_long(v, 5), ts)
        finally:
            for c in consumers.values():
                c.close()

    def take(self) -> dict[str, Any]:
        with self.lock:
            lat, self.window = self.window, []
            out: dict[str, Any] = {
                "produced": self.produced,
                "scored": self.scored,
                "duplicates": self.duplicates,
                "in_flight": len(self.pending),
            }
        if lat:
            p50, p99 = np.percentile(np.array(lat, dtype=np.float64), [50, 99])
            out |= {"lat_p50_ms": round(float(p50)), "lat_p99_ms": round(float(p99))}
        else:
            out |= {"lat_p50_ms": "", "lat_p99_ms": ""}
        return out


def group_lags(admin: AdminClient, bootstrap: str) -> dict[str, int]:
    """Consumer lag per group kind: end offset minus committed offset, summed.

    Only groups with members: a group nobody consumes in any more (a KSQL runtime replaced
    when its members changed leaves its old shared group and, on a clean stop, each
    member's own group behind) would show the topic's growth as "lag". A stalled consumer
    that still holds its group counts; one that crashed is caught by the scored == in check."""
    listed = admin.list_consumer_groups(request_timeout=10).result()
    names = [
        g.group_id
        for g in listed.valid
        if not g.group_id.startswith("fraudstream-reader") and g.state != ConsumerGroupState.EMPTY
    ]
    ends: dict[str, dict[int, int]] = {}
    lags: dict[str, int] = {}
    for name in names:
        fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)])
        res = fut[name].result()
        total = 0
        for tp in res.topic_partitions:
            if tp.offset < 0:
                continue
            if tp.topic not in ends:
                ends[tp.topic] = {
                    p: hi for p, (_lo, hi) in end_offsets(bootstrap, tp.topic).items()
                }
            total += max(0, ends[tp.topic].get(tp.partition, tp.offset) - tp.offset)
        if name.startswith("_confluent-ksql"):  # a persistent query's group, or a shared one
            tail = name.rsplit("query_", 1)[-1] if "query_" in name else None
            name = "ksql:" + (tail or "shared:" + name.rsplit("shared_", 1)[-1])
        lags[name] = lags.get(name, 0) + total
    return lags


def processes(data_dir: Path, up_pid: int) -> dict[str, psutil.Process]:
    """The stack's processes by name (the supervisor's records), `up` itself, and this
    benchmark (its topic followers cost CPU on the same machine)."""
    out: dict[str, psutil.Process] = {"bench": psutil.Process()}
    with contextlib.suppress(psutil.NoSuchProcess):
        out["up"] = psutil.Process(up_pid)
    for rec in Supervisor(data_dir).state.components:
        try:
            out[rec.name] = psutil.Process(rec.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def proc_figures(procs: dict[str, psutil.Process]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, p in procs.items():
        try:
            with p.oneshot():
                rss = p.memory_info().rss  # the process alone (`up`'s children are the rest)
                cpu = p.cpu_times()
            row[f"rss_mb_{name}"] = round(rss / 2**20, 1)
            row |= _anon_file(p.pid, name)
            row[f"threads_{name}"] = p.num_threads()
            row[f"cpu_s_{name}"] = round(cpu.user + cpu.system, 2)
            row[f"pid_{name}"] = p.pid
        except psutil.Error:
            row[f"rss_mb_{name}"] = ""
    return row


def _anon_file(pid: int, name: str) -> dict[str, Any]:
    """RssAnon / RssFile (MiB): heap growth vs mapped files (what grows, not just that)."""
    out: dict[str, Any] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, val = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                out[f"{key.lower()}_mb_{name}"] = round(int(val.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def wait_stack(data_dir: Path, up: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    """Block until `up` has started the scorer (and the monitor, if any) and they answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise SystemExit(f"fraudstream up exited with {up.returncode}; see its log")
        sup = Supervisor(data_dir)
        names = {r.name for r in sup.state.components}
        if "scorer" in names and "monitor" in names:
            st = {s.name: s for s in sup.status()}
            if st["scorer"].ready and st["monitor"].ready:
                return sup.state.endpoints
        time.sleep(2)
    raise SystemExit(f"the stack was not up after {timeout:.0f}s")


def sampler(
    t0: float, interval: float, until: float, tracker: Tracker, admin: AdminClient,
    bootstrap: str, data_dir: Path, up_pid: int,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    next_t = time.monotonic()
    while next_t <= until:
        time.sleep(max(0.0, next_t - time.monotonic()))
        row: dict[str, Any] = {"t_s": round(time.monotonic() - t0, 1)}
        row["load1"] = os.getloadavg()[0]
        row |= tracker.take()
        try:
            row |= {f"lag_{k}": v for k, v in group_lags(admin, bootstrap).items()}
        except Exception as exc:  # a sample without lags, said so, beats a dead soak
            row["lag_error"] = str(exc)[:200]
        row |= proc_figures(processes(data_dir, up_pid))
        yield row
        next_t += interval


def summarise(rows: list[dict[str, Any]], warmup_s: float, extra: dict[str, Any]) -> dict[str, Any]:
    """RSS growth per process (mean of the 2 min after warm-up vs the last 2 min), lag, CPU
    time per scored event, latency."""
    after = [r for r in rows if r["t_s"] >= warmup_s]
    if len(after) < 4:
        after = rows
    span = max(2, min(12, len(after) // 3))
    first, last = after[:span], after[-span:]
    names = sorted({k[len("rss_mb_") :] for r in rows for k in r if k.startswith("rss_mb_")})
    rss: dict[str, Any] = {}
    for n in names:
        a = [r[f"rss_mb_{n}"] for r in first if r.get(f"rss_mb_{n}") not in (None, "")]
        b = [r[f"rss_mb_{n}"] for r in last if r.get(f"rss_mb_{n}") not in (None, "")]
        if a and b:
            ma, mb = float(np.mean(a)), float(np.mean(b))
            rss[n] = {"after_warmup_mb": round(ma, 1), "end_mb": round(mb, 1),
                      "growth_pct": round(100 * (mb - ma) / ma, 1),
                      "max_mb": max(r.get(f"rss_mb_{n}") or 0 for r in rows)}  # fmt: skip
    scored = after[-1]["scored"] - after[0]["scored"]
    cpu: dict[str, Any] = {}
    for n in names:
        a0, a1 = after[0].get(f"cpu_s_{n}"), after[-1].get(f"cpu_s_{n}")
        same = after[0].get(f"pid_{n}") == after[-1].get(f"pid_{n}")
        if a0 not in (None, "") and a1 not in (None, "") and scored and same:
            cpu[n] = round(1e6 * (a1 - a0) / scored, 1)
    lags = sorted({k for r in rows for k in r if k.startswith("lag_") and k != "lag_error"})
    p99 = [r["lat_p99_ms"] for r in after if r.get("lat_p99_ms") not in (None, "")]
    p50 = [r["lat_p50_ms"] for r in after if r.get("lat_p50_ms") not in (None, "")]
    dt = after[-1]["t_s"] - after[0]["t_s"]
    return {
        **extra,
        "samples": len(rows),
        "warmup_s": warmup_s,
        "rss": rss,
        "cpu_us_per_scored_event": cpu,
        "lag_max": {k: max(int(r.get(k) or 0) for r in after) for k in lags},
        "lag_end": {k: after[-1].get(k) for k in lags},
        "latency_ms": {
            "p50_median_of_samples": float(np.median(p50)) if p50 else None,
            "p99_median_of_samples": float(np.median(p99)) if p99 else None,
            "p99_max_sample": max(p99) if p99 else None,
        },
        "scored_rate_after_warmup": round(scored / dt, 1) if dt else None,
        "load1": {
            "min": min(r["load1"] for r in rows),
            "mean": round(float(np.mean([r["load1"] for r in rows])), 2),
            "max": max(r["load1"] for r in rows),
        },
    }


def plot(rows: list[dict[str, Any]], summary: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r["t_s"] for r in rows]) / 60

    def col(k: str) -> np.ndarray:
        return np.array([np.nan if r.get(k) in (None, "") else float(r[k]) for r in rows])

    fig, ax = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    for n in summary["rss"]:
        ax[0].plot(t, col(f"rss_mb_{n}"), label=n)
    ax[0].set_ylabel("RSS (MiB)")
    ax[0].legend(loc="upper left", fontsize=8, ncol=4)
    for k in summary["lag_max"]:
        ax[1].plot(t, col(k), label=k[4:])
    ax[1].set_ylabel("consumer lag (records)")
    ax[1].legend(loc="upper left", fontsize=8)
    ax[2].plot(t, col("lat_p50_ms") / 1000, label="p50")
    ax[2].plot(t, col("lat_p99_ms") / 1000, label="p99")
    ax[2].set_ylabel("source -> score (s)")
    ax[2].legend(loc="upper left", fontsize=8)
    dt = np.diff(t * 60, prepend=np.nan)
    ax[3].plot(t, np.diff(col("produced"), prepend=np.nan) / dt, label="in (events/s)")
    ax[3].plot(t, np.diff(col("scored"), prepend=np.nan) / dt, label="scored (events/s)")
    ax3b = ax[3].twinx()
    ax3b.plot(t, col("load1"), color="grey", linestyle=":", label="load average (1 min)")
    ax3b.set_ylabel("load average")
    ax[3].set_ylabel("events/s")
    ax[3].set_xlabel("minutes since the scorer was up")
    ax[3].legend(loc="upper left", fontsize=8)
    ax3b.legend(loc="upper right", fontsize=8)
    for a in ax:
        a.axvline(summary["warmup_s"] / 60, color="k", linewidth=0.5, linestyle="--")
        a.grid(alpha=0.3)
    fig.suptitle(
        f"soak: {summary['rate']:.0f} events/s for {summary['minutes']:g} min; "
        f"lost {summary['lost']}, duplicates {summary['duplicates']}"
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--warmup-min", type=float, default=5.0)
    ap.add_argument("--drain-s", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "soak")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "soak.png")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="default: a new temp dir (kept: logs, broker data)",
    )
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    data_dir, model_dir = (work / "stack").resolve(), (work / "models").resolve()
    env = {
        **os.environ,
        "FRAUDSTREAM_DATA_DIR": str(data_dir),
        "FRAUDSTREAM_MODEL_DIR": str(model_dir),
        # bounded first training, as the fault suite trains (the soak is about the live part)
        "FRAUDSTREAM_TRAINER_EPOCHS": "30",
        "FRAUDSTREAM_TRAINER_BATCH_SIZE": "256",
        "FRAUDSTREAM_TRAINER_BASELINES": "false",
    }
    argv = [sys.executable, "-m", "fraudstream", "up", "--free-ports", "--no-prometheus",
            "--no-view", "--rate", str(args.rate), "--data-dir", str(data_dir),
            "--model-dir", str(model_dir)]  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    up_log = open(args.out.with_suffix(".up.log"), "wb")  # noqa: SIM115 - lives as long as up
    t_start = time.monotonic()
    up = subprocess.Popen(argv, env=env, stdout=up_log, stderr=subprocess.STDOUT)
    tracker = Tracker("")
    thread: threading.Thread | None = None
    rows: list[dict[str, Any]] = []
    try:
        eps = wait_stack(data_dir, up, timeout=1200)
        bootstrap = eps["kafka"]
        print(f"stack up in {time.monotonic() - t_start:.0f}s: {eps}", flush=True)
        tracker.bootstrap = bootstrap
        thread = threading.Thread(target=tracker.run, daemon=True)
        thread.start()
        admin = AdminClient(admin_config(bootstrap))
        t0 = time.monotonic()
        until = t0 + 60 * args.minutes
        with open(args.out.with_suffix(".csv"), "w", newline="") as f:
            writer: csv.DictWriter[str] | None = None
            for row in sampler(t0, args.interval, until, tracker, admin, bootstrap, data_dir,
                               up.pid):  # fmt: skip
                rows.append(row)
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row), extrasaction="ignore")
                    writer.writeheader()
                writer.writerow(row)
                f.flush()
                print(
                    f"{row['t_s']:7.0f}s load {row['load1']:.1f} in {row['produced']:,} "
                    f"scored {row['scored']:,} dup {row['duplicates']} "
                    f"p99 {row['lat_p99_ms']} ms "
                    + " ".join(
                        f"{k}={v}" for k, v in row.items() if k.startswith(("lag_", "rss_"))
                    ),
                    flush=True,
                )
        # stop the input, let the pipeline drain, then count what was never scored
        Supervisor(data_dir).stop("producer")
        t_stop = time.monotonic()
        last: tuple[int, int] = (-1, -1)
        still = time.monotonic()
        while time.monotonic() - t_stop < args.drain_s:
            time.sleep(5)
            with tracker.lock:
                n, prod, sc = (
                    len(tracker.pending) + len(tracker.early),
                    tracker.produced,
                    tracker.scored,
                )
            if n == 0:
                break
            if (prod, sc) != last:
                last, still = (prod, sc), time.monotonic()
            elif time.monotonic() - still > 120:
                break  # nothing moves any more
        drain_s = time.monotonic() - t_stop
        tracker.stop.set()
        thread.join(30)
        with tracker.lock:
            lost = len(tracker.pending)
            lost_ids = sorted(tracker.pending)[:20]
            summary = summarise(
                rows,
                60 * args.warmup_min,
                {
                    "rate": args.rate,
                    "minutes": args.minutes,
                    "interval_s": args.interval,
                    "produced": tracker.produced,
                    "scored": tracker.scored,
                    "duplicates": tracker.duplicates,
                    "lost": lost,
                    "lost_ids_first": lost_ids,
                    "scored_without_source": len(tracker.early),
                    "drain_s": round(drain_s, 1),
                    "restarts_seen": restarts(rows),
                    "command": " ".join(["python", *sys.argv]),
                    "machine": f"{os.cpu_count()} vCPU, "
                    f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
                },
            )
        keys = list(dict.fromkeys(k for r in rows for k in r))  # groups that came later too
        with open(args.out.with_suffix(".csv"), "w", newline="") as f:
            full = csv.DictWriter(f, fieldnames=keys)
            full.writeheader()
            full.writerows(rows)
        args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2), flush=True)
        plot(rows, summary, args.png)
    finally:
        tracker.stop.set()
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)  # `up` stops its whole stack
            try:
                up.wait(300)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait(30)
        Supervisor(data_dir).stop_all()  # whatever `up` left behind
        up_log.close()


def restarts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How often each process's pid changed between samples (a watchdog restart)."""
    out: dict[str, int] = {}
    for a, b in itertools.pairwise(rows):
        for k, v in b.items():
            if k.startswith("pid_") and a.get(k) not in (None, v):
                out[k[4:]] = out.get(k[4:], 0) + 1
    return out


if __name__ == "__main__":
    main()
