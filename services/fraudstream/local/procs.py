"""Background processes with pid files: start detached, check, stop gracefully.

A pid alone does not name a process: after a crash or a reboot the kernel hands the same pid to
an unrelated one. Every pid this project stores is therefore a `ProcessRef`: the pid, the
kernel's start time of that process, and a fragment of its command line. Nothing is signalled
or adopted unless all three still match.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fraudstream.httpserver.ports import free_port, port_free, require_port


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ('' if missing)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def proc_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot; None if it does not exist)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19]) if len(fields) > 19 else None


def proc_cmdline(pid: int) -> str | None:
    """The command line of `pid`, arguments joined by spaces (None if it does not exist)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


@dataclass(frozen=True)
class ProcessRef:
    """One process, not just a pid: pid + kernel start time + a fragment of its command line."""

    pid: int
    start: int | None
    cmd: str = ""

    @classmethod
    def of(cls, pid: int, cmd: str = "") -> ProcessRef:
        """A reference to the process that has `pid` now (e.g. one just spawned)."""
        return cls(pid, proc_start_time(pid), cmd)

    def alive(self) -> bool:
        """The very process this refers to still runs (pid not reused, not a zombie)."""
        if self.start is None or not pid_alive(self.pid):
            return False
        if proc_start_time(self.pid) != self.start:
            return False
        return not self.cmd or self.cmd in (proc_cmdline(self.pid) or "")

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start": self.start, "cmd": self.cmd})


def write_pid(pid_file: Path, ref: ProcessRef) -> None:
    """Record `ref` in `pid_file` (JSON: pid, start, cmd), atomically."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_name(pid_file.name + ".tmp")
    tmp.write_text(ref.to_json() + "\n")
    os.replace(tmp, pid_file)


def read_ref(pid_file: Path) -> ProcessRef | None:
    """The live process `pid_file` names, or None: missing, unreadable, dead, or reused pid.

    A legacy file holding only a pid cannot prove which process it meant and is not trusted.
    """
    try:
        data = json.loads(pid_file.read_text())
        ref = ProcessRef(int(data["pid"]), data.get("start"), str(data.get("cmd") or ""))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return ref if ref.alive() else None


def read_pid(pid_file: Path) -> int | None:
    """The pid of the live process `pid_file` names (see `read_ref`), or None."""
    ref = read_ref(pid_file)
    return ref.pid if ref is not None else None


def spawn(
    argv: Sequence[str],
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cmd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv detached (own session), stdout+stderr to log_file, its `ProcessRef` to
    pid_file. `cmd` is the command-line fragment that identifies it (default: argv[0])."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    _wait_exec(proc.pid)
    write_pid(pid_file, ProcessRef.of(proc.pid, argv[0] if cmd is None else cmd))
    return proc


def _wait_exec(pid: int, timeout: float = 5.0) -> None:
    """Wait until `pid` finished its exec: Popen returns when the close-on-exec pipe closes,
    before the kernel has set up the new command line, so for a moment /proc/<pid>/cmdline
    reads empty and `ProcessRef.alive()` would call the new process someone else's."""
    deadline = time.monotonic() + timeout
    while not proc_cmdline(pid) and pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.001)


def stop_process(ref: ProcessRef, timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to timeout, then SIGKILL; only while `ref` is still that process.

    True if it was running. A pid that now belongs to another process is never signalled.
    """
    if not ref.alive():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(ref.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ref.alive():
            _wait_gone(ref.pid)
            return True
        time.sleep(0.1)
    if ref.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(ref.pid, signal.SIGKILL)
    _wait_gone(ref.pid)
    return True


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until `pid` has finished exiting (reaped, or a zombie of another parent).

    A process that is mid-exit has already dropped its command line, so `ProcessRef.alive`
    calls it dead before the kernel does; callers that report "stopped" must not race that.
    """
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not pid_alive(pid) or time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


__all__ = [
    "ProcessRef",
    "free_port",
    "pid_alive",
    "port_free",
    "proc_cmdline",
    "proc_start_time",
    "read_pid",
    "read_ref",
    "require_port",
    "spawn",
    "stop_process",
    "tail",
    "write_pid",
]
