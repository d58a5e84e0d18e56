"""`fraudstream doctor`: check this machine and the configured endpoints, and say what to fix.

Each check returns ok / warn / fail with what it found and, when not ok, the command or setting
that fixes it. Exit 1 when any check fails (warnings do not fail), so scripts can gate on it.
"""

from __future__ import annotations

import enum
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import BaseModel
from rich.table import Table

from fraudstream.config import Settings, get_settings
from fraudstream.errors import ConfigError
from fraudstream.local.kafka import LIBS, PROJECT_ROOT
from fraudstream.local.pipeline import StackConfig
from fraudstream.local.procs import port_free
from fraudstream.local.stack import Supervisor
from fraudstream.output import OutputFormat, emit, output_option
from fraudstream.version import version_line

MIN_FREE_BYTES = 2 * 1024**3  # broker logs + model versions + TensorBoard for a day of `up`


class Verdict(enum.StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


class Check(BaseModel):
    """One line of the report."""

    name: str
    status: Verdict
    detail: str
    fix: str = ""


def check_python() -> Check:
    venv = PROJECT_ROOT / ".venv"
    here = Path(sys.prefix).resolve()
    detail = f"{version_line()} on Python {sys.version.split()[0]} ({sys.prefix})"
    if venv.is_dir() and here != venv.resolve():
        return Check(
            name="python", status=Verdict.warn, detail=detail,
            fix=f"run the project's environment: {venv}/bin/fraudstream (make up does)",
        )  # fmt: skip
    return Check(name="python", status=Verdict.ok, detail=detail)


def check_java() -> Check:
    java = shutil.which("java")
    if java is None:
        return Check(
            name="java", status=Verdict.fail, detail="java not found (the local broker needs it)",
            fix="apt-get install openjdk-17-jre-headless (or: make up, as root)",
        )  # fmt: skip
    try:
        res = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return Check(name="java", status=Verdict.fail, detail=f"{java}: {exc}", fix="reinstall")
    m = re.search(r'version "(\d+)', res.stderr + res.stdout)
    major = int(m.group(1)) if m else 0
    if major < 17:
        return Check(
            name="java", status=Verdict.fail, detail=f"{java}: Java {major or '?'}",
            fix="Kafka 4 needs Java 17+: apt-get install openjdk-17-jre-headless",
        )  # fmt: skip
    return Check(name="java", status=Verdict.ok, detail=f"{java}: Java {major}")


def check_kafka_jars(libs: Path = LIBS) -> Check:
    if any(libs.glob("kafka_2.13-*.jar")):
        return Check(name="kafka jars", status=Verdict.ok, detail=str(libs))
    if shutil.which("mvn") is None:
        return Check(
            name="kafka jars", status=Verdict.fail, detail=f"none in {libs} and no mvn",
            fix="apt-get install maven, then: scripts/bootstrap up",
        )  # fmt: skip
    return Check(
        name="kafka jars", status=Verdict.warn, detail=f"none in {libs} yet",
        fix="scripts/bootstrap up (or the first `fraudstream up` fetches them with mvn)",
    )  # fmt: skip


def check_disk(data_dir: Path, minimum: int = MIN_FREE_BYTES) -> Check:
    probe = data_dir if data_dir.exists() else data_dir.resolve().parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    detail = f"{free / 1024**3:.1f} GiB free at {probe}"
    if free < minimum:
        return Check(
            name="disk", status=Verdict.fail, detail=detail,
            fix=f"free {minimum / 1024**3:.0f} GiB or set FRAUDSTREAM_DATA_DIR elsewhere",
        )  # fmt: skip
    return Check(name="disk", status=Verdict.ok, detail=detail)


def check_ports(cfg: StackConfig, host: str, ours: bool) -> Check:
    ports = {
        "kafka": cfg.kafka_port,
        "controller": cfg.controller_port,
        "registry": cfg.registry_port,
        "ksql": cfg.ksql_port,
        "metrics": cfg.metrics_port,
        "prometheus": cfg.prometheus_port,
    }
    taken = [f"{name} {port}" for name, port in ports.items() if not port_free(host, port)]
    listed = ", ".join(f"{n} {p}" for n, p in ports.items())
    if not taken:
        return Check(name="ports", status=Verdict.ok, detail=f"free on {host}: {listed}")
    if ours:
        return Check(
            name="ports", status=Verdict.ok, detail=f"in use by this stack: {', '.join(taken)}"
        )
    return Check(
        name="ports", status=Verdict.warn, detail=f"in use on {host}: {', '.join(taken)}",
        fix="stop what listens there, or `fraudstream up --free-ports` "
        "(or --kafka-port/--registry-port/... )",
    )  # fmt: skip


def check_broker(bootstrap: str, timeout: float = 3.0) -> Check:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from fraudstream.kafka.clients import admin_config

    admin = AdminClient(
        admin_config(bootstrap, **{"socket.connection.setup.timeout.ms": int(timeout * 1000)})
    )
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        return _down("broker", f"{bootstrap}: {exc.args[0] if exc.args else exc}",
                     "FRAUDSTREAM_KAFKA_BOOTSTRAP")  # fmt: skip
    return Check(
        name="broker", status=Verdict.ok,
        detail=f"{bootstrap}: {len(md.brokers)} broker(s), {len(md.topics)} topics",
    )  # fmt: skip


def _down(name: str, detail: str, var: str) -> Check:
    return Check(
        name=name, status=Verdict.fail, detail=f"not reachable: {detail}",
        fix=f"start the stack (`fraudstream up`, or `make up`) or point {var} at a running one",
    )  # fmt: skip


def check_http(
    name: str,
    url: str,
    path: str,
    var: str,
    timeout: float = 3.0,
    client: Callable[[], dict[str, Any]] | None = None,
) -> Check:
    """GET `url`+`path` as the project's clients would: `client()` gives the httpx arguments
    (credentials, CA, client certificate) of the server's `FRAUDSTREAM_*` client settings, so
    a secured server is probed logged in, and a bad client setting is this check's failure."""
    try:
        kwargs = client() if client is not None else {}
    except ConfigError as exc:
        return Check(name=name, status=Verdict.fail, detail=str(exc),
                     fix="fix the variable it names")  # fmt: skip
    try:
        resp = httpx.get(url.rstrip("/") + path, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        return _down(name, f"{url} ({type(exc).__name__})", var)
    if resp.status_code in (401, 403):
        return Check(
            name=name, status=Verdict.fail,
            detail=f"{url}{path} refused the login ({resp.status_code})",
            fix=f"set the client credentials for {var} (docs/security.md)",
        )  # fmt: skip
    if not resp.is_success:
        return Check(
            name=name, status=Verdict.fail, detail=f"{url}{path} answered {resp.status_code}",
            fix=f"see its log (`fraudstream status` lists it) or check {var}",
        )  # fmt: skip
    return Check(name=name, status=Verdict.ok, detail=f"{url}{path} answered {resp.status_code}")


def _registry_client(url: str) -> Callable[[], dict[str, Any]]:
    def kwargs() -> dict[str, Any]:
        from fraudstream.serde.registry_client import RegistryConfig

        return RegistryConfig.from_env(url).http_kwargs()

    return kwargs


def _ksql_client() -> dict[str, Any]:
    from fraudstream.ksql.client.settings import ksql_client_settings

    return ksql_client_settings().client_kwargs()


def run_checks(settings: Settings, cfg: StackConfig) -> list[Check]:
    """Every check, in the order a newcomer would fix them."""
    ours = False
    try:
        ours = bool(Supervisor(settings.data_dir).active())
    except Exception:  # an unreadable stack.json is reported by `status`, not here
        ours = False
    checks: list[Callable[[], Check]] = [
        check_python,
        check_java,
        check_kafka_jars,
        lambda: check_disk(settings.data_dir),
        lambda: check_ports(cfg, settings.bind_host, ours),
        lambda: check_broker(settings.kafka_bootstrap),
        lambda: check_http("registry", settings.registry_url, "/subjects",
                           "FRAUDSTREAM_REGISTRY_URL",
                           client=_registry_client(settings.registry_url)),
        lambda: check_http("ksql", settings.ksql_url, "/info", "FRAUDSTREAM_KSQL_URL",
                           client=_ksql_client),
    ]  # fmt: skip
    return [check() for check in checks]


def _table(checks: list[Check]) -> Table:
    table = Table(title="fraudstream doctor")
    for col in ("check", "status", "found", "fix"):
        table.add_column(col, overflow="fold")
    colour = {Verdict.ok: "green", Verdict.warn: "yellow", Verdict.fail: "red"}
    for c in checks:
        table.add_row(c.name, f"[{colour[c.status]}]{c.status.value}[/]", c.detail, c.fix)
    return table


def doctor(output: OutputFormat = output_option()) -> None:
    """Check Java, the Kafka jars, disk, ports, the broker, registry and KSQL endpoints; say
    what to fix (exit 1 if a check fails)."""
    checks = run_checks(get_settings(), StackConfig())
    emit({"checks": [c.model_dump(mode="json") for c in checks]}, output,
         table=lambda: _table(checks))  # fmt: skip
    if any(c.status is Verdict.fail for c in checks):
        raise typer.Exit(1)


__all__ = ["Check", "Verdict", "check_broker", "check_http", "doctor", "run_checks"]
