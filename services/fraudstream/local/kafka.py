"""A real single-node Apache Kafka 4.x broker (KRaft, broker+controller) on 127.0.0.1.

The jars come from Maven Central through `deploy/local/pom.xml` (cached in ~/.m2). State
lives under `<data_dir>/kafka/`: server.properties, the formatted log dir, broker.log and a
pid file, so `start`, `status` and `stop` work from separate processes. Everything is
created with umask 077 (owner only): topic data holds raw user ids.

`secure=True` (`fraudstream up --secure`): the client listener is SASL_SSL with SCRAM users
(created when the storage is formatted), its certificate signed by the stack's private CA
(`local/certs.py`, `<data_dir>/tls/`); passwords are random and live in
`<data_dir>/secrets/*.password` (0600). `client_env()` gives clients the
`FRAUDSTREAM_KAFKA_*` variables that reach it (the password as a file, never a value).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator

from fraudstream.config import FraudstreamSettings, load_settings, settings_config
from fraudstream.errors import KafkaUnavailableError, LocalStackError
from fraudstream.kafka.admin import wait_for_broker
from fraudstream.kafka.security import KafkaSecurity
from fraudstream.local.certs import LocalCa, write_private
from fraudstream.local.procs import (
    ProcessRef,
    pid_alive,
    read_ref,
    require_port,
    spawn,
    stop_process,
    tail,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
POM = PROJECT_ROOT / "deploy" / "local" / "pom.xml"
LIBS = PROJECT_ROOT / "deploy" / "local" / "target" / "kafka-libs"

_LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = {level}
logger.state.name = state.change.logger
logger.state.level = WARN
"""


SCRAM_MECHANISM = "SCRAM-SHA-256"
CLIENT_USER = "fraudstream"
BROKER_USER = "kafka-broker"  # the broker's own (inter-broker) login


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """umask 077 while broker files are made (inherited by the broker process)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def password_file(directory: Path, name: str) -> Path:
    """`<directory>/<name>.password`: a random password made once (0600), reused after."""
    path = directory / f"{name}.password"
    if not path.is_file():
        write_private(path, secrets.token_urlsafe(24).encode())
    return path


def ensure_jars(libs: Path = LIBS, pom: Path = POM) -> Path:
    """Resolve the broker jars with Maven unless they are already there."""
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalStackError("Maven (mvn) is needed to fetch the Kafka jars; install maven")
    log.info("resolving Kafka broker jars with Maven (%s)", pom)
    res = subprocess.run(
        [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        raise LocalStackError(f"mvn failed to fetch the Kafka jars:\n{res.stdout[-2000:]}")
    return libs


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64 of a UUID, as kafka-storage makes them).

    Ids starting with '-' are skipped: kafka-storage's argument parser would take one for an
    option and refuse to format.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


#: The JIT of a short-lived broker: C1 only. A fresh broker with the default tiered JIT spends
#: about a core for 10-15 s compiling (C2) the produce/fetch paths once a load arrives, and
#: p99 acks of 160-470 ms follow on two shared cores; with C1 alone the broker's CPU is flat
#: from the first second and its p99 acks were 9-42 ms, at a higher steady CPU per event
#: (docs/benchmarks.md, "Cold start"). A long-lived broker wants C2: set this to "".
DEFAULT_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


class LocalKafkaSettings(FraudstreamSettings):
    """The local broker's JVM (`FRAUDSTREAM_LOCAL_KAFKA_*`): every `LocalKafka` (`fraudstream
    up`, `fraudstream local kafka start`, the tests and benchmarks) starts with these."""

    model_config = settings_config("LOCAL_KAFKA_")

    heap: str = Field("512m", pattern=r"^[0-9]+[kKmMgG]?$", description="-Xms/-Xmx of the JVM.")
    jvm_options: str = Field(
        DEFAULT_JVM_OPTIONS,
        description="Extra JVM options (shell-quoted, after the project's own, so they win); "
        'default C1-only JIT for fast warm-up, "" for the JVM\'s default tiered C1+C2.',
    )

    @field_validator("jvm_options")
    @classmethod
    def _options(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"not shell-quoted correctly: {exc}") from None
        bad = [w for w in words if not w.startswith("-")]
        if bad:
            raise ValueError(f"every word must be a JVM option starting with '-' ({bad[0]!r})")
        return value

    def options(self) -> tuple[str, ...]:
        """`jvm_options` split into arguments."""
        return tuple(shlex.split(self.jvm_options))


def local_kafka_settings() -> LocalKafkaSettings:
    """The broker JVM settings from the environment (ConfigError names a bad variable)."""
    return load_settings(LocalKafkaSettings)


@dataclass
class LocalKafka:
    """One KRaft node. `port` is the client listener, `controller_port` the quorum's.

    `heap` and `jvm_options` default to `LocalKafkaSettings` (the environment)."""

    data_dir: Path
    port: int = 9092
    controller_port: int | None = None
    host: str = "127.0.0.1"
    heap: str | None = None
    log_level: str = "INFO"
    secure: bool = False
    jvm_options: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.heap is None or self.jvm_options is None:
            jvm = local_kafka_settings()
            self.heap = jvm.heap if self.heap is None else self.heap
            self.jvm_options = jvm.options() if self.jvm_options is None else self.jvm_options

    @property
    def home(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def password_file(self, user: str = CLIENT_USER) -> Path:
        return password_file(self.secrets_dir, f"kafka-{user}")

    def ca_file(self) -> Path:
        return LocalCa(self.tls_dir).ca_file()

    def client_env(self) -> dict[str, str]:
        """`FRAUDSTREAM_KAFKA_*` for clients of this broker (files, never a password)."""
        if not self.secure:
            return {}
        return {
            "FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "FRAUDSTREAM_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
            "FRAUDSTREAM_KAFKA_SASL_USERNAME": CLIENT_USER,
            "FRAUDSTREAM_KAFKA_SASL_PASSWORD_FILE": str(self.password_file()),
            "FRAUDSTREAM_KAFKA_SSL_CA_LOCATION": str(self.ca_file()),
        }

    def security(self) -> KafkaSecurity:
        """The client security of this broker (plaintext, or SASL_SSL as `client_env`)."""
        if not self.secure:
            return KafkaSecurity({})
        return KafkaSecurity(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": SCRAM_MECHANISM,
                "sasl.username": CLIENT_USER,
                "sasl.password": self.password_file().read_text().strip(),
                "ssl.ca.location": str(self.ca_file()),
            }
        )

    def _secure_props(self) -> dict[str, str]:
        ca = LocalCa(self.tls_dir)
        pair = ca.issue("kafka-broker", ("localhost", self.host, "127.0.0.1", "::1"))
        keystore = self.tls_dir / "kafka-broker-keystore.pem"
        write_private(keystore, pair.key.read_bytes() + pair.cert.read_bytes())
        password = self.password_file(BROKER_USER).read_text().strip()
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{password}";'
        )
        return {
            "listeners": f"SASL_SSL://{self.host}:{self.port},CONTROLLER://{self.host}:{self._ctrl_port()}",
            "advertised.listeners": f"SASL_SSL://{self.host}:{self.port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca.ca_file()),
            "ssl.client.auth": "none",
        }

    def _scram_args(self) -> list[str]:
        """`--add-scram` arguments that create the broker's and the client's users."""
        out: list[str] = []
        for user in (BROKER_USER, CLIENT_USER):
            password = self.password_file(user).read_text().strip()
            for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                out += ["--add-scram", f"{mech}=[name={user},password={password}]"]
        return out

    def _ctrl_port(self) -> int:
        return self.controller_port if self.controller_port is not None else self.port + 1

    def process(self) -> ProcessRef | None:
        """The broker process the pid file names, if that very process still runs."""
        return read_ref(self.pid_file)

    def pid(self) -> int | None:
        ref = self.process()
        return ref.pid if ref is not None else None

    def running(self) -> bool:
        return self.pid() is not None

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        logs = self.home / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{self.host}:{self._ctrl_port()}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self._ctrl_port()}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }
        if self.secure:
            props.update(self._secure_props())
        cfg = self.home / "server.properties"
        write_private(cfg, "".join(f"{k}={v}\n" for k, v in props.items()).encode())
        (self.home / "log4j2.properties").write_text(
            _LOG4J2.format(log=self.home / "server.log", level=self.log_level)
        )
        return cfg

    def _java(self, libs: Path) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise LocalStackError("Java 17+ is needed for the local Kafka broker (java not found)")
        return [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            # The whole heap resident from the start: RSS shows the broker's budget at once
            # instead of creeping up for half an hour as G1 first touches its regions (the
            # soak read that creep as growth: +12 % from minute 5 to 28).
            "-XX:+AlwaysPreTouch",
            "-XX:+UseG1GC",
            # Kafka's own defaults (kafka-run-class.sh): G1's 200 ms target gave 159 ms pauses.
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            *(self.jvm_options or ()),
            "-cp",
            f"{libs}/*",
        ]

    def _format(self, libs: Path, cfg: Path) -> None:
        marker = self.home / "scram-users"
        if (self.home / "data" / "meta.properties").exists():
            if self.secure and not marker.exists():
                raise LocalStackError(
                    f"the broker data in {self.home} was made without --secure (no SCRAM "
                    "users): start it without --secure, or remove it (fraudstream down --wipe)"
                )
            return
        cluster_id = new_cluster_id()
        scram = self._scram_args() if self.secure else []
        res = subprocess.run(
            [*self._java(libs), "kafka.tools.StorageTool", "format", "--standalone",
             "-t", cluster_id, "-c", str(cfg), *scram],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if res.returncode != 0:
            out = f"{res.stdout}{res.stderr}"
            for arg in scram:  # never echo a password
                out = out.replace(arg, "--add-scram [hidden]")
            raise LocalStackError(f"formatting KRaft storage failed:\n{out}")
        if self.secure:
            marker.write_text(f"{BROKER_USER} {CLIENT_USER}\n")

    def start(self, timeout: float = 60.0) -> str:
        """Start the broker (if not running) and wait until it answers metadata requests."""
        security = self.security()
        if self.running():
            wait_for_broker(self.bootstrap, timeout=timeout, security=security)
            return self.bootstrap
        require_port(self.host, self.port, "Kafka broker")
        require_port(self.host, self._ctrl_port(), "Kafka controller")
        libs = ensure_jars()
        with private_umask():
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            cfg = self._write_config()
            self._format(libs, cfg)
            env = dict(os.environ)
            proc = spawn(
                [*self._java(libs), "kafka.Kafka", str(cfg)],
                self.log_file,
                self.pid_file,
                env,
                cmd=f"kafka.Kafka {cfg}",
            )
        log.info("started Kafka broker pid %d on %s", proc.pid, self.bootstrap)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None or not pid_alive(proc.pid):
                raise LocalStackError(
                    f"Kafka broker exited with {proc.returncode} during start; log tail:\n"
                    f"{tail(self.home / 'server.log') or tail(self.log_file)}"
                )
            try:
                wait_for_broker(self.bootstrap, timeout=2.0, security=security)
                return self.bootstrap
            except KafkaUnavailableError:
                continue
        self.stop()
        raise LocalStackError(
            f"Kafka broker did not answer on {self.bootstrap} within {timeout:.0f}s; log tail:\n"
            f"{tail(self.home / 'server.log') or tail(self.log_file)}"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM; SIGKILL after timeout). True if it ran."""
        ref = self.process()
        self.pid_file.unlink(missing_ok=True)
        return ref is not None and stop_process(ref, timeout)

    def wipe(self) -> None:
        """Remove all broker state (must be stopped)."""
        if self.running():
            raise LocalStackError("stop the broker before wiping its data")
        shutil.rmtree(self.home, ignore_errors=True)
