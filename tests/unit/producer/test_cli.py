"""`fraudstream produce` fails fast, with one line and exit 2, on unusable input (no broker)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudstream.cli import app
from fraudstream.config import get_settings
from fraudstream.events import CSV_COLUMNS

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A port nothing listens on: if a test reached Kafka it would fail loudly, not hang.
    monkeypatch.setenv("FRAUDSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("FRAUDSTREAM_PRODUCER_BROKER_WAIT_S", "2")
    # The shared settings are cached per process: start clean, and leave no cache built
    # from this fake environment behind for other tests.
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["produce", "--csv", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    assert "no such file" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_wrong_header_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("a,b,c\n1,2,3\n")
    res = runner.invoke(app, ["produce", "--csv", str(p)])
    assert res.exit_code == 2
    assert "wrong header" in res.output


def test_exactly_one_source_is_required(tmp_path: Path) -> None:
    assert runner.invoke(app, ["produce"]).exit_code == 2
    p = tmp_path / "ok.csv"
    p.write_text(",".join(CSV_COLUMNS) + "\n")
    res = runner.invoke(app, ["produce", "--csv", str(p), "--synthetic", "5"])
    assert res.exit_code == 2 and "exactly one" in res.output


def test_bad_start_exits_2() -> None:
    res = runner.invoke(app, ["produce", "--synthetic", "5", "--start", "yesterday"])
    assert res.exit_code == 2 and "ISO-8601" in res.output


def test_unreachable_broker_is_one_clear_error() -> None:
    env = {
        **os.environ,
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "FRAUDSTREAM_PRODUCER_BROKER_WAIT_S": "2",
    }
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "produce", "--synthetic", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 3  # ExitCode.UNAVAILABLE (docs/running.md)
    assert res.stderr.strip().splitlines() == [res.stderr.strip().splitlines()[-1]]  # one line
    assert res.stderr.strip().startswith("error: Kafka broker at 127.0.0.1:1")
    assert "Traceback" not in res.stderr
