"""FRAUDSTREAM_LOG_FORMAT=json: one JSON object per record, for log shippers (issue 19)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_json_log_format_writes_one_object_per_record() -> None:
    code = (
        "import logging\n"
        "from fraudstream.logs import setup_logging\n"
        "setup_logging('INFO')\n"
        "log = logging.getLogger('fraudstream.scorer')\n"
        "log.info('scored %d events', 42)\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('batch failed')\n"
    )
    env = {**os.environ, "FRAUDSTREAM_LOG_FORMAT": "json"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, res.stderr
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "fraudstream.scorer"
    assert first["message"] == "scored 42 events" and first["time"].endswith("Z")
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exception"]


def test_text_is_the_default_and_a_bad_format_is_refused() -> None:
    code = "from fraudstream.logs import LogSettings; print(LogSettings().format)"
    env = {k: val for k, val in os.environ.items() if k != "FRAUDSTREAM_LOG_FORMAT"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.stdout.strip() == "text"
    env["FRAUDSTREAM_LOG_FORMAT"] = "xml"
    res = subprocess.run([sys.executable, "-m", "fraudstream", "local", "kafka", "status"],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "config error: FRAUDSTREAM_LOG_FORMAT: Input should be 'text' or 'json' (got 'xml')"
    ]
