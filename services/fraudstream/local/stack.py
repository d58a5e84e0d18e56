"""Component supervisor for the local stack: start in order, check readiness, stop in reverse.

Every component runs as a detached subprocess with its log in `<data_dir>/logs/<name>.log` and
its pid in `<data_dir>/run/<name>.pid`. The supervisor records what it started in
`<data_dir>/stack.json`, so `fraudstream status` and `fraudstream down` work from another
process, and a component can be restarted with the exact command it was started with (the
fault suite uses this). One-shot steps (apply, produce, train) are `Job`s: run to completion
with a time limit, log kept, non-zero exit is an error naming the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from fraudstream.local.errors import ComponentStartError, JobFailedError, StackStateError
from fraudstream.local.procs import (
    ProcessRef,
    pid_alive,
    proc_start_time,
    require_port,
    spawn,
    stop_process,
    tail,
)
from fraudstream.local.secure import probe_kwargs

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"


def python_cli(*args: str) -> list[str]:
    """argv running `fraudstream <args>` with this interpreter (no PATH lookup needed)."""
    return [sys.executable, "-m", "fraudstream", *args]


def http_ok(url: str, timeout: float = 2.0, probe: Mapping[str, str] | None = None) -> bool:
    """True when GET url answers 2xx (`probe`: the CA and login of a secured stack)."""
    try:
        return httpx.get(url, timeout=timeout, **probe_kwargs(probe)).is_success
    except (httpx.HTTPError, OSError):
        return False


class Service(BaseModel):
    """A long-running component: a command, its port, and how to tell that it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict, description="Added to os.environ.")
    port: int | None = Field(None, description="Must be free before start (checked).")
    host: str = "127.0.0.1"
    ready_url: str | None = Field(None, description="Ready when GET answers 2xx.")
    probe: dict[str, str] = Field(
        default_factory=dict, description="CA and login file of the probes (--secure)."
    )
    url: str | None = Field(None, description="Shown by `status`.")
    ready_timeout: float = 90.0
    stop_timeout: float = 20.0


class Job(BaseModel):
    """A one-shot step run to completion (apply statements, produce a batch, train)."""

    name: str
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float = 600.0


class ComponentRecord(BaseModel):
    """What the supervisor started, as persisted in stack.json."""

    name: str
    pid: int
    proc_start: int | None = Field(None, description="Kernel start time; None: never trusted.")
    cmd: str = Field("", description="Command-line fragment the process must still have.")
    pid_file: str
    log_file: str
    url: str | None = None
    ready_url: str | None = None
    started_at: float
    service: Service | None = Field(None, description="Spec to restart it; None if adopted.")
    stop_timeout: float = 20.0


class StackState(BaseModel):
    """The stack as one supervisor left it (stack.json)."""

    supervisor_pid: int | None = None
    supervisor_start: int | None = None
    started_at: float = Field(default_factory=time.time)
    endpoints: dict[str, str] = Field(default_factory=dict)
    client_env: dict[str, str] = Field(
        default_factory=dict,
        description="FRAUDSTREAM_* a client of a --secure stack needs (file paths, no secret).",
    )
    components: list[ComponentRecord] = Field(default_factory=list)


class ComponentStatus(BaseModel):
    """One line of `fraudstream status`."""

    name: str
    pid: int
    running: bool
    ready: bool | None
    url: str | None
    uptime_s: float
    log_file: str


class Supervisor:
    """Starts, tracks and stops the components of one stack under `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.logs_dir = self.data_dir / "logs"
        self.run_dir = self.data_dir / "run"
        self.state_file = self.data_dir / STATE_FILE
        self.state = self.load_state() or StackState()

    # -- state ------------------------------------------------------------------------------
    def load_state(self) -> StackState | None:
        """The persisted state, or None when there is none."""
        try:
            text = self.state_file.read_text()
        except FileNotFoundError:
            return None
        try:
            return StackState.model_validate_json(text)
        except ValueError as exc:
            raise StackStateError(f"{self.state_file} is unreadable ({exc}); remove it") from exc

    def save(self) -> None:
        """Write stack.json atomically."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(self.state.model_dump_json(indent=2))
        os.replace(tmp, self.state_file)

    def record(self, name: str) -> ComponentRecord | None:
        return next((c for c in self.state.components if c.name == name), None)

    @staticmethod
    def process(rec: ComponentRecord) -> ProcessRef:
        return ProcessRef(rec.pid, rec.proc_start, rec.cmd)

    def is_running(self, rec: ComponentRecord) -> bool:
        """Alive and the same process: pid, start time and command line (not a reused pid)."""
        return self.process(rec).alive()

    def active(self) -> list[ComponentRecord]:
        return [c for c in self.state.components if self.is_running(c)]

    def claim(
        self,
        endpoints: dict[str, str],
        foreground: bool = False,
        client_env: dict[str, str] | None = None,
    ) -> None:
        """Take this data dir; refuse if a live stack is already there.

        `foreground`: this process stays and stops the stack itself (`fraudstream up`), so
        `fraudstream down` asks it (SIGTERM) instead of stopping the components behind its back.
        """
        live = self.active()
        sup = self.state.supervisor_pid
        if live or (sup is not None and sup != os.getpid() and self.supervisor_alive()):
            names = ", ".join(c.name for c in live) or f"supervisor pid {sup}"
            raise StackStateError(
                f"a stack already runs in {self.data_dir} ({names}); run `fraudstream down` first"
            )
        me = os.getpid()
        self.state = StackState(
            supervisor_pid=me if foreground else None,
            supervisor_start=proc_start_time(me) if foreground else None,
            endpoints=endpoints,
            client_env=dict(client_env or {}),
        )
        self.save()

    def supervisor_alive(self) -> bool:
        """The foreground `up` that owns this stack still runs (same process, not a reuse)."""
        ref = self.supervisor_process()
        return ref is not None and ref.alive()

    def supervisor_process(self) -> ProcessRef | None:
        """The foreground `up` recorded in stack.json (pid + start time), if any."""
        pid = self.state.supervisor_pid
        return None if pid is None else ProcessRef(pid, self.state.supervisor_start)

    def _log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    # -- services ---------------------------------------------------------------------------
    def start(self, svc: Service, progress: Callable[[str], None] | None = None) -> ComponentRecord:
        """Spawn `svc`, wait until ready (or raise with its log tail), record it."""
        if svc.port is not None:
            require_port(svc.host, svc.port, svc.name)
        log_file = self._log_file(svc.name)
        pid_file = self.run_dir / f"{svc.name}.pid"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **svc.env}
        _mark(log_file, f"start {' '.join(svc.argv)}")
        cmd = " ".join(svc.argv)
        proc = spawn(svc.argv, log_file, pid_file, env, cmd=cmd)
        rec = ComponentRecord(
            name=svc.name,
            pid=proc.pid,
            proc_start=proc_start_time(proc.pid),
            cmd=cmd,
            pid_file=str(pid_file),
            log_file=str(log_file),
            url=svc.url,
            ready_url=svc.ready_url,
            started_at=time.time(),
            service=svc,
            stop_timeout=svc.stop_timeout,
        )
        self._put(rec)
        self._wait_ready(svc, proc, log_file, progress)
        log.info("%s ready (pid %d)%s", svc.name, proc.pid, f" at {svc.url}" if svc.url else "")
        return rec

    def _wait_ready(
        self,
        svc: Service,
        proc: subprocess.Popen[bytes],
        log_file: Path,
        progress: Callable[[str], None] | None,
    ) -> None:
        deadline = time.monotonic() + svc.ready_timeout
        next_note = time.monotonic() + 5.0
        while True:
            if proc.poll() is not None:
                raise ComponentStartError(
                    f"{svc.name} exited with code {proc.returncode} while starting; "
                    f"log {log_file}:\n{tail(log_file)}"
                )
            if svc.ready_url is None or http_ok(svc.ready_url, probe=svc.probe):
                return
            now = time.monotonic()
            if now > deadline:
                self.stop(svc.name)
                raise ComponentStartError(
                    f"{svc.name} not ready at {svc.ready_url} within {svc.ready_timeout:.0f}s; "
                    f"log {log_file}:\n{tail(log_file)}"
                )
            if progress is not None and now > next_note:
                progress(f"waiting for {svc.name} ({svc.ready_url})")
                next_note = now + 5.0
            time.sleep(0.25)

    def adopt(
        self, name: str, ref: ProcessRef, pid_file: Path, log_file: Path, url: str | None
    ) -> None:
        """Track a process started elsewhere (the Kafka broker, started by LocalKafka)."""
        if not ref.alive():
            raise StackStateError(f"{name} (pid {ref.pid}) is not the process it was")
        self._put(
            ComponentRecord(
                name=name,
                pid=ref.pid,
                proc_start=ref.start,
                cmd=ref.cmd,
                pid_file=str(pid_file),
                log_file=str(log_file),
                url=url,
                started_at=time.time(),
                stop_timeout=60.0,
            )
        )

    def _put(self, rec: ComponentRecord) -> None:
        comps = [c for c in self.state.components if c.name != rec.name]
        old = self.record(rec.name)
        idx = self.state.components.index(old) if old is not None else len(comps)
        comps.insert(idx, rec)
        self.state.components = comps
        self.save()

    def restart(self, name: str, progress: Callable[[str], None] | None = None) -> ComponentRecord:
        """Start `name` again with its recorded command (stopping it first if it runs)."""
        rec = self.record(name)
        if rec is None or rec.service is None:
            raise StackStateError(f"no restartable component {name!r} in {self.state_file}")
        if self.is_running(rec):
            self.stop(name)
        return self.start(rec.service, progress)

    def kill(self, name: str) -> int:
        """SIGKILL `name` (fault injection). Returns the pid it killed."""
        rec = self.record(name)
        if rec is None or not self.is_running(rec):
            raise StackStateError(f"{name} is not running")
        os.kill(rec.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(rec.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(rec.pid, os.WNOHANG)
            time.sleep(0.05)
        return rec.pid

    def stop(self, name: str) -> bool:
        """Stop one component (SIGTERM, then SIGKILL after its timeout). True if it ran."""
        rec = self.record(name)
        if rec is None:
            return False
        ran = stop_process(self.process(rec), rec.stop_timeout)
        Path(rec.pid_file).unlink(missing_ok=True)
        _mark(Path(rec.log_file), "stopped by supervisor" if ran else "was not running")
        return ran

    def stop_all(self, progress: Callable[[str], None] | None = None) -> list[tuple[str, bool]]:
        """Stop every component in reverse start order; clear the state file."""
        done: list[tuple[str, bool]] = []
        for rec in reversed(self.state.components):
            if progress is not None and self.is_running(rec):
                progress(f"stopping {rec.name} (pid {rec.pid})")
            done.append((rec.name, self.stop(rec.name)))
        self.state.components = []
        self.state.supervisor_pid = None
        self.state_file.unlink(missing_ok=True)
        return done

    # -- jobs -------------------------------------------------------------------------------
    def run_job(self, job: Job) -> float:
        """Run a one-shot step to completion; its output goes to its log. Returns seconds."""
        log_file = self._log_file(job.name)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **job.env}
        _mark(log_file, f"run {' '.join(job.argv)}")
        t0 = time.monotonic()
        with log_file.open("ab") as out:
            proc = subprocess.Popen(
                job.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
            try:
                rc = proc.wait(timeout=job.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise JobFailedError(
                    f"{job.name} ran past {job.timeout:.0f}s and was stopped; "
                    f"log {log_file}:\n{tail(log_file)}"
                ) from None
            except BaseException:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
                if proc.poll() is None:
                    proc.kill()
                raise
        if rc != 0:
            raise JobFailedError(
                f"{job.name} failed with exit {rc}; log {log_file}:\n{tail(log_file)}"
            )
        return time.monotonic() - t0

    # -- status -----------------------------------------------------------------------------
    def status(self, check_ready: bool = True) -> list[ComponentStatus]:
        """What runs now, with a readiness probe where the component has one."""
        now = time.time()
        out = []
        for rec in self.state.components:
            running = self.is_running(rec)
            ready = None
            if check_ready and running and rec.ready_url:
                probe = rec.service.probe if rec.service is not None else None
                ready = http_ok(rec.ready_url, timeout=1.0, probe=probe)
            out.append(
                ComponentStatus(
                    name=rec.name,
                    pid=rec.pid,
                    running=running,
                    ready=ready,
                    url=rec.url,
                    uptime_s=now - rec.started_at if running else 0.0,
                    log_file=rec.log_file,
                )
            )
        return out


def _mark(log_file: Path, what: str) -> None:
    """A supervisor line in a component's log, so restarts are visible in it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as f:
        f.write(f"--- [supervisor {time.strftime('%Y-%m-%dT%H:%M:%S')}] {what}\n")


__all__: Sequence[str] = (
    "ComponentRecord",
    "ComponentStatus",
    "Job",
    "Service",
    "StackState",
    "Supervisor",
    "http_ok",
    "python_cli",
)
