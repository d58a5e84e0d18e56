"""Logging set-up shared by every command: one line per record, text or JSON.

FRAUDSTREAM_LOG_FORMAT=json writes one JSON object per record (time, level, logger, message,
process, and the exception when there is one) for log shippers; `text` (the default) is for
people. The level comes from FRAUDSTREAM_LOG_LEVEL (the caller passes it).

Native libraries (librdkafka, TensorFlow's C++ runtime) write straight to file descriptor 2,
bypassing Python logging: `capture_native_stderr()` turns those lines into DEBUG records of
the `fraudstream.native` logger, so a terminal sees the command's one-line result, and
FRAUDSTREAM_LOG_LEVEL=DEBUG shows the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from fraudstream.config import FraudstreamSettings, load_settings, settings_config

NATIVE_LOGGER = "fraudstream.native"


class LogSettings(FraudstreamSettings):
    """FRAUDSTREAM_LOG_FORMAT: how records are written."""

    model_config = settings_config("LOG_")

    format: Literal["text", "json"] = Field("text", description="text (people) or json.")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with UTC ISO-8601 time and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for `fmt` ("text" or "json")."""
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")


def setup_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """Configure the root logger once (idempotent; a later call only changes the level).

    `fmt` defaults to FRAUDSTREAM_LOG_FORMAT.
    """
    root = logging.getLogger()
    if getattr(root, "_fraudstream_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt or load_settings(LogSettings).format))
    root.addHandler(handler)
    root.setLevel(level)
    root._fraudstream_configured = True  # type: ignore[attr-defined]


def _pump(read_fd: int) -> None:
    log = logging.getLogger(NATIVE_LOGGER)
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        buf = b""
        while chunk := pipe.read(65536):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    log.debug("%s", line.decode(errors="replace"))
        if buf.strip():
            log.debug("%s", buf.decode(errors="replace"))


@contextlib.contextmanager
def capture_native_stderr() -> Iterator[None]:
    """While active, what native code writes to fd 2 becomes DEBUG records; Python's own
    sys.stderr (logging, rich, typer's errors) still reaches the real stderr."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to do
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_inheritable(real, False)
    old_stderr = sys.stderr
    sys.stderr = os.fdopen(
        real, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is old_stderr:
            handler.setStream(sys.stderr)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    pump = threading.Thread(target=_pump, args=(read_fd,), name="native-stderr", daemon=True)
    pump.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end here: the pump sees EOF
        pump.join(timeout=2.0)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(old_stderr)
        sys.stderr = old_stderr
        os.close(real)


__all__ = [
    "NATIVE_LOGGER",
    "JsonFormatter",
    "LogSettings",
    "capture_native_stderr",
    "make_formatter",
    "setup_logging",
]
