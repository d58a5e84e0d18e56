"""`fraudstream produce` end to end against the real broker, run as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Message
from confluent_kafka.admin import AdminClient, ConfigResource
from tests.integration.producer.conftest import record_json, record_key

from fraudstream.events import CSV_COLUMNS, RawCardEvent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _run(bootstrap: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "FRAUDSTREAM_DATA_DIR": str(tmp_path / "state"),
    }
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", "produce", "--no-progress", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def _csv(tmp_path: Path, sample: Path | None, good: int) -> tuple[Path, list[str]]:
    """A CSV of `good` valid rows (from the real sample when present) plus four bad ones."""
    if sample is not None:
        rows = sample.read_text().splitlines()[1 : good + 1]
    else:
        rows = [",".join(["7", *["0.25"] * 28, "9.99", '"0"'])] * good
    bad = [
        rows[0].rsplit(",", 1)[0],  # 30 columns
        rows[0].replace(",", ",oops,", 1).rsplit(",", 1)[0],  # non-numeric V1
        ",".join(["1", "nan", *["0.1"] * 27, "5", "0"]),  # NaN
        ",".join(["1", *["0.1"] * 28, "5", "7"]),  # Class 7
    ]
    lines = rows[:10] + bad[:2] + rows[10:] + bad[2:]
    p = tmp_path / "mixed.csv"
    p.write_text(",".join(CSV_COLUMNS) + "\n" + "\n".join(lines) + "\n")
    return p, lines


def test_synthetic_with_users_table(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    tmp_path: Path,
    unique_id: str,
    read_topic: Callable[..., list[Message]],
) -> None:
    topic, users_topic = f"cli-src-{unique_id}", f"cli-users-{unique_id}"
    res = _run(
        kafka_bootstrap, tmp_path, "--synthetic", "20000", "--users", "150", "--topic", topic,
        "--users-topic", users_topic, "--seed", "5", "--unlabelled", "0.5", "-o", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    stats = orjson.loads(res.stdout)
    assert (stats["produced"], stats["delivered"], stats["failed"]) == (20000, 20000, 0)
    assert "20000 delivered" in res.stderr
    msgs = read_topic(topic, 20000)
    assert len(msgs) == 20000
    values = [record_json(m) for m in msgs]
    assert sorted(v["Id"] for v in values) == list(range(20000))
    assert 0.45 < sum(v["Class"] is None for v in values) / 20000 < 0.55
    for v in values[:200]:
        RawCardEvent(**v)
    users = read_topic(users_topic, 150)
    assert len(users) == 150
    table = {record_key(m).decode(): record_json(m) for m in users}
    assert len(table) == 150 and all(k == v["userid"] for k, v in table.items())
    assert any(v["city"].startswith("Premium") for v in table.values())
    assert {v["User"] for v in values} <= set(table)
    res_cfg = ConfigResource(ConfigResource.Type.TOPIC, users_topic)
    cfg = kafka_admin.describe_configs([res_cfg])[res_cfg].result(30)
    assert cfg["cleanup.policy"].value == "compact"
    kafka_admin.delete_topics([topic, users_topic])


def test_csv_bad_rows_are_skipped_listed_and_rejected(
    kafka_bootstrap: str,
    tmp_path: Path,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
    sample_csv: Path | None,
) -> None:
    path, _ = _csv(tmp_path, sample_csv, good=300)
    topic = topic_factory("cli-csv")
    rejects = tmp_path / "rej.csv"
    res = _run(
        kafka_bootstrap, tmp_path, "--csv", str(path), "--topic", topic, "--no-users",
        "--rejects", str(rejects),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "304 rows, 300 good, 4 bad" in res.stdout
    assert "line 12:" in res.stdout and "line 13:" in res.stdout and "line 305:" in res.stdout
    assert "300 delivered, 0 failed" in res.stdout
    assert [ln.split(",")[0] for ln in rejects.read_text().splitlines()[1:]] == [
        "12", "13", "304", "305",
    ]  # fmt: skip
    assert len(read_topic(topic, 300)) == 300


def test_csv_strict_stops_at_the_first_bad_line(
    kafka_bootstrap: str, tmp_path: Path, topic_factory: Callable[..., str], sample_csv: Path | None
) -> None:
    path, _ = _csv(tmp_path, sample_csv, good=30)
    topic = topic_factory("cli-strict")
    res = _run(kafka_bootstrap, tmp_path, "--csv", str(path), "--topic", topic, "--no-users",
               "--strict")  # fmt: skip
    assert res.returncode == 1
    assert "line 12" in res.stderr and "strict" in res.stderr


def test_exit_code_is_nonzero_when_events_are_not_delivered(
    kafka_bootstrap: str, tmp_path: Path, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("cli-tiny", config={"max.message.bytes": "100"})
    res = _run(kafka_bootstrap, tmp_path, "--synthetic", "50", "--topic", topic, "--no-users")
    assert res.returncode == 1
    assert "0 delivered, 50 failed" in res.stdout


def test_csv_loop_gives_fresh_ids_and_later_times(
    kafka_bootstrap: str,
    tmp_path: Path,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
    sample_csv: Path | None,
) -> None:
    path, _ = _csv(tmp_path, sample_csv, good=40)  # 44 data rows per pass, 4 bad
    topic = topic_factory("cli-loop")
    res = _run(kafka_bootstrap, tmp_path, "--csv", str(path), "--topic", topic, "--no-users",
               "--loop", "--limit", "100")  # fmt: skip
    assert res.returncode == 0, res.stderr
    values = [record_json(m) for m in read_topic(topic, 100)]
    assert len(values) == 100
    ids = [v["Id"] for v in values]
    assert len(set(ids)) == 100
    first = {v["Id"]: v for v in values if v["Id"] < 44}
    for v in values:
        if v["Id"] >= 44 and v["Id"] - 44 in first:
            base = first[v["Id"] - 44]
            assert v["V1"] == base["V1"] and v["Time"] > base["Time"]


def test_ctrl_c_flushes_and_reports_exactly_what_was_sent(
    kafka_bootstrap: str,
    tmp_path: Path,
    topic_factory: Callable[..., str],
    read_topic: Callable[..., list[Message]],
) -> None:
    topic = topic_factory("cli-int")
    env = {**os.environ, "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraudstream", "produce", "--no-progress", "--synthetic", "100",
         "--loop", "--rate", "300", "--topic", topic, "--no-users", "-o", "json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    stats = orjson.loads(out)
    assert stats["interrupted"] and stats["failed"] == 0
    assert stats["delivered"] == stats["produced"] > 100  # went past N: --loop keeps generating
    assert len(read_topic(topic, stats["delivered"])) == stats["delivered"]
