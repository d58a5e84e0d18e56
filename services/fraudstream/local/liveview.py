"""Live terminal view of the running pipeline: throughput, anomalies, precision/recall, model.

It reads the scores topic from where this run began (`start_offsets`; Avro, decoded with the
writer schema fetched by id from the registry) and scrapes the scorer's /metrics; the source
topic's end offsets give the input rate. With no terminal (`--no-view`, CI) the same snapshot is
logged as one line at an interval instead.

What the figures mean, and the view says so: precision and recall are plain counts over the
*labelled* events scored in this run (unweighted), at the prevalence of the data being replayed
(the shared sample is 9 % fraud; real card traffic is about 0.17 %, where the same model's
precision would be far lower). Events the model was trained on (`training_ids`, or every event
when the stream replays the training file) are counted apart from unseen ones. "Duplicates" are
ids seen twice among the last `id_window` distinct ids: bounded memory, however long `up` runs.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fraudstream.errors import RegistryError, SerdeError
from fraudstream.kafka.clients import client_config
from fraudstream.serde import wire
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.registry_client import RegistryClient, RegistryConfig

log = logging.getLogger(__name__)


class WireDecoder:
    """Confluent wire-format Avro -> dict with lower-case keys (serde's `AvroDecoder` over
    the one registry client); every failure, a registry outage included, is a SerdeError
    the view counts as undecodable."""

    def __init__(
        self, registry_url: str, timeout: float = 5.0, client: httpx.Client | None = None
    ) -> None:
        self.registry_url = registry_url.rstrip("/")
        self._registry = RegistryClient(
            RegistryConfig.from_env(registry_url, timeout_s=timeout), http=client
        )
        self._avro = AvroDecoder(self._registry)

    def decode(self, data: bytes | None) -> dict[str, Any]:
        if data is None or not wire.is_framed(data):
            raise SerdeError("not Confluent wire format (magic byte 0 + schema id)")
        try:
            rec = self._avro.decode(data)
        except RegistryError as exc:
            raise SerdeError(str(exc)) from exc
        return {str(k).lower(): v for k, v in rec.items()}


class RecentIds:
    """The last `capacity` distinct ids, to spot redelivered ones in O(capacity) memory."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._set: set[int] = set()
        self._order: deque[int] = deque()

    def seen(self, rid: int) -> bool:
        """True if `rid` is among the recent ids; otherwise remember it (evicting the oldest)."""
        if rid in self._set:
            return True
        self._set.add(rid)
        self._order.append(rid)
        if len(self._order) > self.capacity:
            self._set.discard(self._order.popleft())
        return False

    def __len__(self) -> int:
        return len(self._order)


class Confusion(BaseModel):
    """Counts of one group of labelled events: anomaly flag against the recorded label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, label: int, anomalous: bool) -> None:
        if label == 1:
            self.tp += anomalous
            self.fn += not anomalous
        else:
            self.fp += anomalous
            self.tn += not anomalous

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def prevalence(self) -> float | None:
        """Share of fraud among these labelled events (the data's, not production's)."""
        return (self.tp + self.fn) / self.labelled if self.labelled else None


class ScoreStats:
    """Running counts over score records: anomalies, confusion against labels, versions.

    `in_training(id)` says whether an event is one the model was trained on; those and the
    unseen ones get separate confusion counts (`trained`, `unseen`) besides the total.
    """

    def __init__(
        self,
        window_s: float = 5.0,
        id_window: int = 100_000,
        in_training: Callable[[int], bool] | None = None,
    ) -> None:
        self.scored = 0
        self.anomalies = 0
        self.undecodable = 0
        self.unlabelled = 0
        self.duplicates = 0
        self.total = Confusion()
        self.trained = Confusion()
        self.unseen = Confusion()
        self.versions: Counter[str] = Counter()
        self.last_version: str | None = None
        self.recent = RecentIds(id_window)
        self._in_training = in_training
        self._window_s = window_s
        self._times: deque[tuple[float, int]] = deque()

    def add(self, rec: dict[str, Any]) -> None:
        """Count one decoded score record (keys lower-case, as WireDecoder returns them)."""
        self.scored += 1
        rid = rec.get("id")
        if isinstance(rid, int) and self.recent.seen(rid):
            self.duplicates += 1
        anomalous = bool(rec.get("is_anomaly"))
        self.anomalies += anomalous
        version = rec.get("model_version")
        if isinstance(version, str):
            self.versions[version] += 1
            self.last_version = version
        label = rec.get("label", -1)
        if label not in (0, 1):
            self.unlabelled += 1
            return
        self.total.add(label, anomalous)
        trained = self._in_training is not None and isinstance(rid, int) and self._in_training(rid)
        (self.trained if trained else self.unseen).add(label, anomalous)

    # The totals, under the names the view and its tests have always used.
    tp = property(lambda self: self.total.tp)
    fp = property(lambda self: self.total.fp)
    fn = property(lambda self: self.total.fn)
    tn = property(lambda self: self.total.tn)

    @property
    def precision(self) -> float | None:
        return self.total.precision

    @property
    def recall(self) -> float | None:
        return self.total.recall

    def tick(self, now: float) -> float:
        """Record the count at `now`; events/s over the window."""
        self._times.append((now, self.scored))
        # Keep one point at or beyond the window as the baseline, however rarely this is called.
        while len(self._times) > 2 and now - self._times[1][0] >= self._window_s:
            self._times.popleft()
        (t0, n0), (t1, n1) = self._times[0], self._times[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class MetricsSample(BaseModel):
    """What the live view takes from the scorer's /metrics."""

    up: bool = False
    consumed: float = 0.0
    scored: float = 0.0
    anomalous: float = 0.0
    dead_lettered: dict[str, float] = Field(default_factory=dict)
    lag: float = 0.0
    model_version: str | None = None
    threshold: float | None = None
    reloads_ok: float = 0.0
    reloads_failed: float = 0.0
    ready: bool = False


def parse_metrics(text: str) -> MetricsSample:
    """Read the fraudstream_* series the scorer exports (see the metrics contract)."""
    m = MetricsSample(up=True)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            name, labels, value = s.name, s.labels, float(s.value)
            if name == "fraudstream_events_consumed_total":
                m.consumed = value
            elif name == "fraudstream_events_scored_total":
                m.scored = value
            elif name == "fraudstream_events_anomalous_total":
                m.anomalous = value
            elif name == "fraudstream_events_dead_lettered_total":
                m.dead_lettered[labels.get("reason", "other")] = value
            elif name == "fraudstream_consumer_lag":
                m.lag += value
            elif name == "fraudstream_model_info" and value >= 1:
                m.model_version = labels.get("version")
            elif name == "fraudstream_model_threshold":
                m.threshold = value
            elif name == "fraudstream_model_reloads_total":
                if labels.get("result") == "ok":
                    m.reloads_ok = value
                elif labels.get("result") == "failed":
                    m.reloads_failed = value
            elif name == "fraudstream_ready":
                m.ready = value >= 1
    return m


class LiveQuality(BaseModel):
    """What the live view takes from the monitor's /metrics: the serving model's quality on
    the delayed labels that have arrived, over one window (`fraudstream monitor`)."""

    window: str
    precision: float | None = None
    recall: float | None = None
    precision_weighted: float | None = None
    labelled: int = 0
    unlabelled: int = 0
    label_delay_p50_s: float | None = None


def parse_quality(text: str, version: str | None, window: str = "15m") -> LiveQuality | None:
    """The monitor's figures for `version` over `window` (None when it has none yet); NaN
    (not enough labelled events) becomes None."""
    q: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            lab = s.labels
            if lab.get("window") != window or (version and lab.get("model_version") != version):
                continue
            name = s.name.removeprefix("fraudstream_monitor_")
            if name == "label_delay_seconds":
                if lab.get("quantile") == "0.5":
                    q["label_delay_p50_s"] = float(s.value)
            elif name in ("precision", "recall", "precision_weighted", "labelled", "unlabelled"):
                q[name] = float(s.value)
    if not q:
        return None
    clean = {k: (None if math.isnan(v) else v) for k, v in q.items()}
    counts = {k: int(clean.get(k) or 0) for k in ("labelled", "unlabelled")}
    return LiveQuality(window=window, **{**clean, **counts})


def scrape_quality(monitor_url: str | None, version: str | None) -> LiveQuality | None:
    """GET the monitor's /metrics; None when there is no monitor or it does not answer."""
    if not monitor_url:
        return None
    try:
        resp = httpx.get(monitor_url, timeout=2.0)
        resp.raise_for_status()
    except httpx.HTTPError:
        return None
    return parse_quality(resp.text, version)


def scrape(metrics_url: str, timeout: float = 2.0) -> MetricsSample:
    """GET /metrics; a sample with up=False when the scorer does not answer."""
    try:
        resp = httpx.get(metrics_url, timeout=timeout)
        resp.raise_for_status()
    except httpx.HTTPError:
        return MetricsSample(up=False)
    return parse_metrics(resp.text)


class Snapshot(BaseModel):
    """One refresh of the view."""

    elapsed_s: float
    events_in: int
    in_rate: float
    scored: int
    scored_rate: float
    anomalies: int
    precision: float | None
    recall: float | None
    labelled: int
    duplicates: int
    undecodable: int
    versions: dict[str, int]
    last_version: str | None
    metrics: MetricsSample
    prevalence: float | None = Field(None, description="Fraud share of the labelled events.")
    labelled_trained: int = Field(0, description="Labelled events the model was trained on.")
    unseen: Confusion = Field(default_factory=Confusion, description="Events not trained on.")
    id_window: int = Field(100_000, description="Duplicates are looked for among this many ids.")
    live: LiveQuality | None = Field(
        None, description="The monitor's quality on delayed labels (serving model, 15m)."
    )

    def basis(self) -> str:
        """What precision/recall are computed on, in words."""
        if not self.labelled:
            return "no labelled events scored yet"
        prev = f"{self.prevalence:.1%}" if self.prevalence is not None else "-"
        trained = self.labelled_trained / self.labelled
        return (
            f"on the {self.labelled:,} labelled events scored this run, unweighted; "
            f"{prev} of them fraud (the replayed data's rate, not production's ~0.17%); "
            f"{trained:.0%} are rows the model was trained on"
        )

    def line(self) -> str:
        """The snapshot as one log line (non-interactive mode)."""
        p = f"{self.precision:.3f}" if self.precision is not None else "-"
        r = f"{self.recall:.3f}" if self.recall is not None else "-"
        prev = f"{self.prevalence:.3f}" if self.prevalence is not None else "-"
        return (
            f"t={self.elapsed_s:.0f}s in={self.events_in} ({self.in_rate:.0f}/s) "
            f"scored={self.scored} ({self.scored_rate:.0f}/s) anomalies={self.anomalies} "
            f"precision={p} recall={r} labelled={self.labelled} (fraud share {prev}, "
            f"trained-on {self.labelled_trained}, unweighted) dup={self.duplicates} "
            f"model={self.metrics.model_version or self.last_version or '-'} "
            f"lag={self.metrics.lag:.0f} dlq={sum(self.metrics.dead_lettered.values()):.0f}"
            + (self._live_line() if self.live is not None else "")
        )

    def _live_line(self) -> str:
        q = self.live
        assert q is not None
        f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        return (
            f" | live labels ({q.window}): precision={f(q.precision)} recall={f(q.recall)} "
            f"precision@prevalence={f(q.precision_weighted)} labelled={q.labelled} "
            f"unlabelled={q.unlabelled}"
        )


def render(s: Snapshot) -> Panel:
    """The snapshot as a rich panel."""
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    t = Table.grid(padding=(0, 3))
    t.add_column(style="bold cyan")
    t.add_column(justify="right")
    t.add_column(style="bold cyan")
    t.add_column(justify="right")
    m = s.metrics
    t.add_row("events in", f"{s.events_in:,}", "in rate", f"{s.in_rate:,.0f}/s")
    t.add_row("scored", f"{s.scored:,}", "scored rate", f"{s.scored_rate:,.0f}/s")
    t.add_row("anomalies", f"{s.anomalies:,}", "consumer lag", f"{m.lag:,.0f}")
    if s.live is not None:
        q = s.live
        t.add_row(f"live precision ({q.window})", fmt(q.precision),
                  f"live recall ({q.window})", fmt(q.recall))  # fmt: skip
        delay = "-" if q.label_delay_p50_s is None else f"{q.label_delay_p50_s:.1f}s"
        waiting = f"{q.labelled:,} / {q.unlabelled:,} (delay p50 {delay})"
        t.add_row("  at real prevalence", fmt(q.precision_weighted),
                  "  labelled / waiting", waiting)  # fmt: skip
    t.add_row("precision*", fmt(s.precision), "recall*", fmt(s.recall))
    if s.unseen.labelled:
        t.add_row("  unseen only", fmt(s.unseen.precision), "  unseen only", fmt(s.unseen.recall))
    t.add_row(
        "labelled scored",
        f"{s.labelled:,}",
        "duplicates",
        f"{s.duplicates:,} (last {s.id_window:,} ids)",
    )
    dlq = sum(m.dead_lettered.values())
    t.add_row("dead letters", f"{dlq:,.0f}", "scorer", "ready" if m.ready else "NOT READY")
    t.add_row(
        "model",
        m.model_version or s.last_version or "-",
        "threshold",
        fmt(m.threshold),
    )
    t.add_row("reloads ok", f"{m.reloads_ok:.0f}", "reloads failed", f"{m.reloads_failed:.0f}")
    versions = Table("model version", "events scored", box=None)
    for v, n in sorted(s.versions.items()):
        versions.add_row(v, f"{n:,}")
    note = Text(f"* {s.basis()}", style="dim")
    return Panel(
        Group(t, note, versions),
        title=f"fraudstream — live ({s.elapsed_s:.0f}s)",
        subtitle="Ctrl-C stops the stack",
    )


class LiveView:
    """Consumes the scores topic and scrapes /metrics; renders or logs snapshots."""

    def __init__(
        self,
        bootstrap: str,
        registry_url: str,
        metrics_url: str,
        scores_topic: str,
        source_topic: str,
        start_offsets: dict[int, int] | None = None,
        in_training: Callable[[int], bool] | None = None,
        id_window: int = 100_000,
        monitor_url: str | None = None,
    ) -> None:
        """`start_offsets`: the scores topic's offsets per partition when this run began
        (earlier runs' scores are not counted); a partition it does not name (none: the
        topic did not exist yet) is read from its beginning."""
        self.bootstrap = bootstrap
        self.metrics_url = metrics_url.rstrip("/") + "/metrics"
        self.monitor_url = monitor_url.rstrip("/") + "/metrics" if monitor_url else None
        self.scores_topic = scores_topic
        self.source_topic = source_topic
        self.decoder = WireDecoder(registry_url)
        self.stats = ScoreStats(id_window=id_window, in_training=in_training)
        self._consumer = Consumer(
            client_config(
                bootstrap,
                **{
                    "group.id": f"fraudstream-liveview-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "log_level": 0,
                },
            )
        )
        starts = dict(start_offsets or {})

        def from_run_start(consumer: Consumer, parts: list[TopicPartition]) -> None:
            for tp in parts:
                tp.offset = starts.get(tp.partition, OFFSET_BEGINNING)
            consumer.assign(parts)

        self._consumer.subscribe([scores_topic], on_assign=from_run_start)
        self._in_hist: deque[tuple[float, int]] = deque()
        self._t0 = time.monotonic()

    def _events_in(self) -> int:
        total = 0
        try:
            md = self._consumer.list_topics(self.source_topic, timeout=2.0)
            tmd = md.topics.get(self.source_topic)
            if tmd is None or tmd.error is not None:
                return 0
            for p in tmd.partitions:
                lo, hi = self._consumer.get_watermark_offsets(
                    TopicPartition(self.source_topic, p), timeout=2.0
                )
                total += hi - lo
        except KafkaException:
            return 0
        return total

    def poll(self, budget_s: float = 0.5) -> None:
        """Consume score records for up to budget_s."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            msgs = self._consumer.consume(5000, timeout=0.1)
            for msg in msgs:
                if msg.error() is not None:
                    continue
                try:
                    self.stats.add(self.decoder.decode(msg.value()))
                except SerdeError:
                    self.stats.undecodable += 1
            if not msgs:
                break

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        n_in = self._events_in()
        self._in_hist.append((now, n_in))
        while len(self._in_hist) > 2 and now - self._in_hist[1][0] >= 5.0:
            self._in_hist.popleft()
        (t0, a), (t1, b) = self._in_hist[0], self._in_hist[-1]
        st = self.stats
        metrics = scrape(self.metrics_url)
        return Snapshot(
            elapsed_s=now - self._t0,
            events_in=n_in,
            in_rate=(b - a) / (t1 - t0) if t1 > t0 else 0.0,
            scored=st.scored,
            scored_rate=st.tick(now),
            anomalies=st.anomalies,
            precision=st.precision,
            recall=st.recall,
            labelled=st.total.labelled,
            prevalence=st.total.prevalence,
            labelled_trained=st.trained.labelled,
            unseen=st.unseen.model_copy(),
            id_window=st.recent.capacity,
            duplicates=st.duplicates,
            undecodable=st.undecodable,
            versions=dict(st.versions),
            last_version=st.last_version,
            metrics=metrics,
            live=scrape_quality(self.monitor_url, metrics.model_version or st.last_version),
        )

    def run(
        self,
        duration: float | None,
        stop: threading.Event,
        interactive: bool,
        log_every: float = 10.0,
        console: Console | None = None,
        alive: Callable[[], bool] | None = None,
    ) -> Snapshot:
        """Refresh until `stop` is set, `duration` passes or `alive()` turns false."""
        end = None if duration is None else time.monotonic() + duration
        snap = self.snapshot()
        next_log = time.monotonic()

        def done() -> bool:
            return (
                stop.is_set()
                or (end is not None and time.monotonic() >= end)
                or (alive is not None and not alive())
            )

        try:
            if interactive:
                with Live(render(snap), console=console, refresh_per_second=2) as live:
                    while not done():
                        self.poll(0.5)
                        snap = self.snapshot()
                        live.update(render(snap))
            else:
                while not done():
                    self.poll(0.5)
                    if time.monotonic() >= next_log:
                        snap = self.snapshot()
                        log.info("%s", snap.line())
                        next_log = time.monotonic() + log_every
                    stop.wait(0.2)
                snap = self.snapshot()
                log.info("%s", snap.line())
        finally:
            self._consumer.close()
        return snap
