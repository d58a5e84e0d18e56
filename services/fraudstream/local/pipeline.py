"""The whole pipeline on one machine: what `fraudstream up` starts, in dependency order.

broker -> registry -> KSQL engine -> `ksql apply ksql/` -> users + training events -> (wait for
the training topic) -> `train` -> scorer -> Prometheus (if installed) -> live replay.
Each step is a command of the project's own CLI run by the `Supervisor`, so every component
here is exactly what a user can run by hand, and the endpoints travel as FRAUDSTREAM_* env vars.

`secure` (`up --secure`): the broker listens SASL_SSL, the registry and KSQL servers serve
HTTPS with basic auth, and every component (this supervisor too) gets the client settings
that reach them (`local/secure.py`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from fraudstream.config import FraudstreamSettings, Settings, get_settings, settings_config
from fraudstream.kafka.admin import create_topics, wait_for_broker
from fraudstream.local.errors import ComponentStartError
from fraudstream.local.kafka import PROJECT_ROOT, LocalKafka
from fraudstream.local.procs import free_port
from fraudstream.local.secure import SecureStack
from fraudstream.local.stack import Job, Service, Supervisor, python_cli
from fraudstream.local.topics import end_offsets, topic_count, wait_for_count
from fraudstream.local.watchdog import HealthProbe, Watchdog, http_probe, ksql_probe

log = logging.getLogger(__name__)

SHARED_SAMPLE_DIR = PROJECT_ROOT.parent / "shared" / "data" / "creditcard"
RUN_ID_SPAN = 10**10  # Ids one `up` may use: 230 days at 500 events/s
RUNS_FILE = "runs.json"


def claim_id_range(data_dir: Path, span: int = RUN_ID_SPAN) -> int:
    """The first event Id of a new run: each `up` on a data dir gets the next `span` Ids, so
    no run replays an earlier run's Ids (the broker's topics live in the same data dir)."""
    path = data_dir / RUNS_FILE
    try:
        state = json.loads(path.read_text())
        first = int(state["next_first_id"])
    except (OSError, ValueError, KeyError, TypeError):
        first = 0
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"next_first_id": first + span}) + "\n")
    os.replace(tmp, path)
    return first


def default_training_csv() -> Path | None:
    """The shared real sample (first CSV in ../shared/data/creditcard), if present."""
    if not SHARED_SAMPLE_DIR.is_dir():
        return None
    found = sorted(SHARED_SAMPLE_DIR.glob("*.csv"))
    return found[0] if found else None


class StackConfig(FraudstreamSettings):
    """Options of `fraudstream up` (env prefix FRAUDSTREAM_STACK_; CLI flags override)."""

    model_config = settings_config("STACK_")

    data_dir: Path = Field(Path(".fraudstream"), description="Logs, pids, broker data, state.")
    model_dir: Path | None = Field(
        None,
        description="Model store; default FRAUDSTREAM_MODEL_DIR (so `fraudstream train` "
        "run by hand writes where the scorer watches).",
    )
    free_ports: bool = Field(False, description="Pick free ports instead of the defaults.")
    kafka_port: int = 9092
    controller_port: int = 9093
    registry_port: int = 8081
    ksql_port: int = 8088
    metrics_port: int = 8000
    monitor_port: int = Field(8002, description="`fraudstream monitor` /metrics port.")
    prometheus_port: int = Field(
        9190,
        description="The stack's own Prometheus; not 9090, where a system Prometheus (Debian's "
        "package starts one) usually listens, so neither has to stop the other.",
    )
    partitions: int = Field(4, ge=1, description="Partitions of the topics the stack creates.")
    training_csv: Path | None = Field(
        None, description="Training data CSV; default: the shared real sample, else synthetic."
    )
    synthetic_training: int = Field(
        10_000, ge=1, description="Synthetic events to train on when no CSV is found."
    )
    events: int = Field(0, ge=0, description="Live events after the training pass (0: forever).")
    rate: float = Field(500.0, gt=0, description="Replay rate, events/s.")
    labels: Literal["inline", "delayed"] = Field(
        "delayed",
        description="delayed: live events carry no label; labels reach fraud_labels after "
        "label_delay (the KSQL join feeds training, the monitor measures live quality). "
        "inline: every event carries its label, as before.",
    )
    label_delay: str = Field("exp:5s", description="Delay distribution of delayed labels.")
    monitor: bool = Field(True, description="Run `fraudstream monitor` (live quality).")
    prometheus: bool = Field(True, description="Start Prometheus when it is installed.")
    secure: bool = Field(
        False,
        description="Broker SASL_SSL (SCRAM), registry and KSQL over HTTPS with basic auth; "
        "every client configured for them (passwords in files under the data dir).",
    )
    ksql_dir: Path = Field(PROJECT_ROOT / "ksql", description="KSQL statements to apply.")
    start_timeout: float = Field(120.0, description="Seconds each server has to become ready.")
    train_timeout: float = Field(900.0, description="Seconds the first training may take.")


class Endpoints(BaseModel):
    """Resolved addresses of one stack (ports fixed or picked free)."""

    host: str = "127.0.0.1"
    kafka_port: int
    controller_port: int
    registry_port: int
    ksql_port: int
    metrics_port: int
    prometheus_port: int
    monitor_port: int = 8002
    secure: bool = False

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def _scheme(self) -> str:
        return "https" if self.secure else "http"

    @property
    def registry_url(self) -> str:
        return f"{self._scheme}://{self.host}:{self.registry_port}"

    @property
    def ksql_url(self) -> str:
        return f"{self._scheme}://{self.host}:{self.ksql_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    def as_dict(self, prometheus: bool = True) -> dict[str, str]:
        """The URLs by component; `prometheus=False` when the stack runs without it."""
        urls = {
            "kafka": self.bootstrap,
            "registry": self.registry_url,
            "ksql": self.ksql_url,
            "metrics": self.metrics_url,
        }
        if prometheus:
            urls["prometheus"] = self.prometheus_url
        return urls


def resolve_endpoints(cfg: StackConfig, host: str = "127.0.0.1") -> Endpoints:
    if cfg.free_ports:
        return Endpoints(
            host=host,
            kafka_port=free_port(host),
            controller_port=free_port(host),
            registry_port=free_port(host),
            ksql_port=free_port(host),
            metrics_port=free_port(host),
            prometheus_port=free_port(host),
            monitor_port=free_port(host),
            secure=cfg.secure,
        )
    return Endpoints(
        host=host,
        kafka_port=cfg.kafka_port,
        controller_port=cfg.controller_port,
        registry_port=cfg.registry_port,
        ksql_port=cfg.ksql_port,
        metrics_port=cfg.metrics_port,
        prometheus_port=cfg.prometheus_port,
        monitor_port=cfg.monitor_port,
        secure=cfg.secure,
    )


class Pipeline:
    """Brings the stack up step by step through a `Supervisor`; each step can run alone."""

    def __init__(
        self,
        cfg: StackConfig,
        settings: Settings | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.settings = settings or get_settings()
        self.sup = Supervisor(cfg.data_dir)
        self.ep = resolve_endpoints(cfg, self.settings.bind_host)
        self.model_dir = (cfg.model_dir or self.settings.model_dir).resolve()
        self.progress = progress or (lambda msg: log.info("%s", msg))
        self.prometheus_running = False
        self.monitor_running = False
        self.first_id = 0  # this run's first event Id (claim_id_range, in up())
        self.training_events = 0  # how many events from first_id on are the training pass
        self.replays_training_file = False  # every later pass repeats the training rows
        self.scores_start: dict[int, int] = {}  # the scores topic's offsets when this run began
        self.training_base = 0  # training records earlier runs left in the topic
        hosts = ("localhost", self.ep.host, "127.0.0.1", "::1")
        self.secure = SecureStack(self.sup.data_dir, hosts) if cfg.secure else None

    def endpoints(self) -> dict[str, str]:
        """What runs where, for people and stack.json (Prometheus only once it runs)."""
        urls = {
            **self.ep.as_dict(prometheus=self.prometheus_running),
            "model_dir": str(self.model_dir),
        }
        if self.monitor_running:
            urls["monitor"] = self.ep.monitor_url
        return urls

    # -- shared environment -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """FRAUDSTREAM_* variables every child gets: endpoints, model store, client security."""
        return {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": self.ep.bootstrap,
            "FRAUDSTREAM_REGISTRY_URL": self.ep.registry_url,
            "FRAUDSTREAM_KSQL_URL": self.ep.ksql_url,
            "FRAUDSTREAM_MODEL_DIR": str(self.model_dir),
            "FRAUDSTREAM_DATA_DIR": str(self.sup.data_dir),
            "FRAUDSTREAM_METRICS_PORT": str(self.ep.metrics_port),
            "FRAUDSTREAM_BIND_HOST": self.ep.host,
            **self.client_env(),
        }

    def client_env(self) -> dict[str, str]:
        """What a client of this stack needs beyond its endpoints (--secure: file paths)."""
        if self.secure is None:
            return {}
        return {**self.broker().client_env(), **self.secure.client_env()}

    def server_env(self) -> dict[str, str]:
        """`FRAUDSTREAM_HTTP_*` of the registry and KSQL servers (--secure: TLS + auth)."""
        return {**self.env(), **(self.secure.server_env() if self.secure else {})}

    def probe(self) -> dict[str, str]:
        return self.secure.probe() if self.secure else {}

    def broker(self) -> LocalKafka:
        return LocalKafka(
            data_dir=self.sup.data_dir,
            port=self.ep.kafka_port,
            controller_port=self.ep.controller_port,
            host=self.ep.host,
            log_level="WARN",
            secure=self.cfg.secure,
        )

    # -- steps -------------------------------------------------------------------------------
    def start_kafka(self) -> None:
        broker = self.broker()
        self.progress(f"starting Kafka broker on {broker.bootstrap}")
        broker.start(timeout=self.cfg.start_timeout)
        ref = broker.process()
        if ref is None:
            raise ComponentStartError(f"Kafka broker on {broker.bootstrap} has no live pid file")
        self.sup.adopt("kafka", ref, broker.pid_file, broker.log_file, broker.bootstrap)

    def create_topics(self) -> None:
        """The topics the stack owns, with the configured partition count."""
        s = self.settings
        admin = wait_for_broker(self.ep.bootstrap, timeout=30)
        create_topics(admin, [s.topic_users], 1, {"cleanup.policy": "compact"})
        create_topics(
            admin,
            [s.topic_source, s.topic_scores, s.topic_alerts, s.topic_dlq, s.topic_models,
             s.topic_labels],
            self.cfg.partitions,  # labels: as many as the source (the KSQL join needs it)
        )  # fmt: skip

    def registry_service(self) -> Service:
        port = self.ep.registry_port
        return Service(
            name="registry",
            argv=python_cli("registry", "serve", "--host", self.ep.host, "--port", str(port)),
            env=self.server_env(),
            probe=self.probe(),
            port=port,
            host=self.ep.host,
            ready_url=f"{self.ep.registry_url}/subjects",
            url=self.ep.registry_url,
            ready_timeout=self.cfg.start_timeout,
        )

    def ksql_service(self) -> Service:
        port = self.ep.ksql_port
        return Service(
            name="ksql",
            argv=python_cli("ksql", "serve", "--host", self.ep.host, "--port", str(port)),
            env=self.server_env(),
            probe=self.probe(),
            port=port,
            host=self.ep.host,
            ready_url=f"{self.ep.ksql_url}/info",
            url=self.ep.ksql_url,
            ready_timeout=self.cfg.start_timeout,
        )

    def apply_ksql(self) -> None:
        self.progress(f"applying {self.cfg.ksql_dir}")
        self.sup.run_job(
            Job(name="ksql-apply", argv=python_cli("ksql", "apply", str(self.cfg.ksql_dir)),
                env=self.env(), timeout=180)
        )  # fmt: skip

    def source_args(self) -> tuple[list[str], int]:
        """Producer args of the event stream, and how many training records to wait for.

        One producer process replays everything with --loop: its first pass (the CSV's rows,
        or the first `synthetic_training` synthetic events) is the training data, and every
        later pass gets fresh Ids, so live scores never collide with an earlier event's Id.
        """
        csv = self.cfg.training_csv or default_training_csv()
        first = ["--first-id", str(self.first_id)]
        if csv is not None:
            with csv.open() as f:
                rows = max(sum(1 for _ in f) - 1, 0)
            self.training_events, self.replays_training_file = rows, True
            return ["--csv", str(csv), *first], max(int(rows * 0.99), 1)
        self.training_events = self.cfg.synthetic_training
        return ["--synthetic", str(self.cfg.synthetic_training), *first], self.training_events

    def in_training(self, event_id: int) -> bool:
        """Whether the model was trained on this event (for the live view's honest figures).

        A CSV loop replays the training rows with new Ids, so every event is one it has seen;
        the synthetic generator draws new events after the training pass.
        """
        if self.replays_training_file:
            return True
        return self.first_id <= event_id < self.first_id + self.training_events

    def producer_service(self) -> tuple[Service, int]:
        """The replayer (users table + events at --rate, looping) and the training count."""
        args, need = self.source_args()
        args += ["--loop", "--rate", str(self.cfg.rate), "--partitions", str(self.cfg.partitions)]
        args += ["--labels", self.cfg.labels]
        if self.cfg.labels == "delayed":
            args += ["--label-delay", self.cfg.label_delay]
        if self.cfg.events:
            args += ["--limit", str(need + self.cfg.events)]
        svc = Service(name="producer", argv=python_cli("produce", *args), env=self.env())
        return svc, need

    def wait_training_data(self, need: int) -> int:
        """Block until KSQL has written `need` labelled events to the training topic."""
        topic = self.settings.topic_preprocessed
        self.progress(f"waiting for {need} training records in {topic}")
        timeout = max(600.0, 3 * need / self.cfg.rate)
        at_least = self.training_base + need  # this run's records, not an earlier run's
        return wait_for_count(
            self.ep.bootstrap, topic, at_least, timeout=timeout, settle_s=0.0,
            progress=self.progress,
        )  # fmt: skip

    def train(self, name: str = "train", extra_env: dict[str, str] | None = None) -> None:
        """`fraudstream train` on the training topic; TensorBoard logs under the data dir."""
        self.progress(f"training the model into {self.model_dir}")
        env = {
            **self.env(),
            "FRAUDSTREAM_TRAINER_LOG_DIR": str(self.sup.data_dir / "tensorboard"),
            **(extra_env or {}),
        }
        self.sup.run_job(
            Job(name=name, argv=python_cli("train"), env=env, timeout=self.cfg.train_timeout)
        )

    def scorer_service(self, name: str = "scorer") -> Service:
        return Service(
            name=name,
            argv=python_cli("score"),
            env=self.env(),
            port=self.ep.metrics_port,
            host=self.ep.host,
            ready_url=f"{self.ep.metrics_url}/readyz",
            url=f"{self.ep.metrics_url}/metrics",
            ready_timeout=self.cfg.start_timeout,
            stop_timeout=30.0,
        )

    def monitor_service(self) -> Service:
        """`fraudstream monitor`: scores joined with the delayed labels, live quality."""
        port = self.ep.monitor_port
        return Service(
            name="monitor",
            argv=python_cli("monitor", "--port", str(port), "--windows", "5m,15m"),
            # bounded memory on a long demo: scores are kept for the longest window plus the
            # label horizon (about 300 bytes each; 20 min at 500 events/s is ~180 MB)
            env={**self.env(), "FRAUDSTREAM_MONITOR_LABEL_HORIZON": "5m"},
            port=port,
            host=self.ep.host,
            ready_url=f"{self.ep.monitor_url}/healthz",
            url=f"{self.ep.monitor_url}/metrics",
            ready_timeout=self.cfg.start_timeout,
        )

    def prometheus_service(self) -> Service | None:
        binary = shutil.which("prometheus")
        if binary is None or not self.cfg.prometheus:
            return None
        home = self.sup.data_dir / "prometheus"
        home.mkdir(parents=True, exist_ok=True)
        rules = sorted((PROJECT_ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
        lines = [
            "global:",
            "  scrape_interval: 5s",
            "  evaluation_interval: 5s",
            *(["rule_files:"] + [f"  - {r}" for r in rules] if rules else []),
            "scrape_configs:",
            "  - job_name: fraudstream-scorer",
            "    static_configs:",
            f"      - targets: ['{self.ep.host}:{self.ep.metrics_port}']",
        ]
        if self.cfg.monitor:
            lines += [
                "  - job_name: fraudstream-monitor",
                "    static_configs:",
                f"      - targets: ['{self.ep.host}:{self.ep.monitor_port}']",
            ]
        cfg_file = home / "prometheus.yml"
        cfg_file.write_text("\n".join(lines) + "\n")
        return Service(
            name="prometheus",
            argv=[
                binary,
                f"--config.file={cfg_file}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={self.ep.host}:{self.ep.prometheus_port}",
                "--storage.tsdb.retention.time=1d",
            ],
            port=self.ep.prometheus_port,
            host=self.ep.host,
            ready_url=f"{self.ep.prometheus_url}/-/ready",
            url=self.ep.prometheus_url,
            ready_timeout=60,
        )

    def watchdog(self, on_event: Callable[[str], None] | None = None) -> Watchdog:
        """Restarts a server that died or whose health probe keeps failing. The producer is
        not watched: with --events it ends on purpose, and a restart would replay again."""
        probes: dict[str, HealthProbe | None] = {
            "registry": http_probe(f"{self.ep.registry_url}/subjects", login=self.probe()),
            "ksql": ksql_probe(self.ep.ksql_url, login=self.probe()),
            "scorer": http_probe(f"{self.ep.metrics_url}/healthz"),
        }
        if self.prometheus_running:
            probes["prometheus"] = http_probe(f"{self.ep.prometheus_url}/-/healthy")
        if self.monitor_running:
            probes["monitor"] = http_probe(f"{self.ep.monitor_url}/healthz")
        return Watchdog(self.sup, probes, on_event=on_event or self.progress)

    # -- the whole thing -----------------------------------------------------------------------
    def up(self, foreground: bool = True) -> None:
        """Start everything in order; on any failure stop what was started and re-raise."""
        self.sup.claim(self.endpoints(), foreground=foreground, client_env=self.client_env())
        self.first_id = claim_id_range(self.sup.data_dir)
        if self.secure is not None:
            # this supervisor is a client too (topics, counts, the live view's decoder)
            os.environ.update(self.client_env())
        try:
            self.start_kafka()
            self.create_topics()
            scores = end_offsets(self.ep.bootstrap, self.settings.topic_scores)
            self.scores_start = {p: hi for p, (_lo, hi) in scores.items()}
            self.training_base = topic_count(self.ep.bootstrap, self.settings.topic_preprocessed)
            for svc in (self.registry_service(), self.ksql_service()):
                self.progress(f"starting {svc.name} on {svc.url}")
                self.sup.start(svc, self.progress)
            self.apply_ksql()
            producer, need = self.producer_service()
            self.progress(
                f"replaying events at {self.cfg.rate:g}/s ({' '.join(producer.argv[3:])})"
            )
            self.sup.start(producer, self.progress)
            n = self.wait_training_data(need)
            self.progress(f"{self.settings.topic_preprocessed}: {n} training records")
            self.train()
            self.progress("starting the scorer")
            self.sup.start(self.scorer_service(), self.progress)
            if self.cfg.monitor:
                try:  # optional: scoring runs without it
                    self.sup.start(self.monitor_service(), self.progress)
                    self.monitor_running = True
                    self.sup.state.endpoints = self.endpoints()
                    self.sup.save()
                except Exception as exc:
                    self.progress(f"the monitor did not start, continuing without it: {exc}")
            prom = self.prometheus_service()
            if prom is not None:
                try:
                    self.sup.start(prom, self.progress)
                    self.prometheus_running = True
                    self.sup.state.endpoints = self.endpoints()
                    self.sup.save()
                except Exception as exc:  # optional component: the pipeline runs without it
                    self.progress(f"Prometheus did not start, continuing without it: {exc}")
        except BaseException:
            self.down()
            raise

    def down(self) -> list[tuple[str, bool]]:
        """Stop the input first (so the rest drains), then everything in reverse order."""
        first = []
        rec = self.sup.record("producer")
        if rec is not None and self.sup.is_running(rec):
            self.progress(f"stopping producer (pid {rec.pid})")
            first.append(("producer", self.sup.stop("producer")))
        return first + [(n, r) for n, r in self.sup.stop_all(self.progress) if n != "producer"]
