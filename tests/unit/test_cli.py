from __future__ import annotations

import subprocess
import sys

COMMANDS = (
    "up",
    "down",
    "status",
    "produce",
    "train",
    "score",
    "report",
    "local",
    "registry",
    "ksql",
)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


def test_help_lists_every_subcommand() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for cmd in COMMANDS:
        assert f" {cmd} " in res.stdout, cmd


def test_help_on_every_group() -> None:
    for group in ("local", "local kafka"):
        res = _cli(*group.split(), "--help")
        assert res.returncode == 0, res.stderr
        assert "Usage" in res.stdout


def test_unknown_command_is_usage_error() -> None:
    res = _cli("definitely-not-a-command")
    assert res.returncode == 2
    assert "No such command" in res.stderr


def test_bad_setting_is_one_line_naming_the_variable() -> None:
    import os

    env = {**os.environ, "FRAUDSTREAM_METRICS_PORT": "not-a-port"}
    res = _cli("local", "kafka", "status", env=env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("config error: FRAUDSTREAM_METRICS_PORT:")
