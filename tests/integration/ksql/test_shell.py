"""`fraudstream ksql` (the shell) driven through a pseudo-terminal against the embedded server:
multi-line statements, SET/UNSET, DEFINE, RUN SCRIPT, SHOW/DESCRIBE, errors, a push query
that streams, Ctrl-C, and history kept between runs (issue 20 item 4)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
PROMPT = "ksql> "


@pytest.fixture
def payments(
    payments_server: Callable[[list[float]], tuple[KsqlServer, str]],
) -> tuple[KsqlServer, str]:
    """A server with stream PAYMENTS over a fresh topic holding 3 JSON records."""
    return payments_server([1.5] * 3)


def _spawn(url: str, data_home: Path, *args: str) -> pexpect.spawn:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "services"),
        "XDG_DATA_HOME": str(data_home),
        "TERM": "xterm",
    }
    env.pop("FRAUDSTREAM_KSQL_HISTORY_FILE", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fraudstream", "ksql", *args, "--url", url],
        env=env,
        encoding="utf-8",
        dimensions=(40, 90),
        timeout=60,
    )
    child.expect("fraudstream ksql shell, server")
    child.expect_exact(PROMPT)
    return child


def test_shell_statements_push_query_ctrl_c_and_history(
    payments: tuple[KsqlServer, str],
    produce_json: Callable[..., None],
    tmp_path: Path,
    unique_id: str,
) -> None:
    server, topic = payments
    child = _spawn(server.url, tmp_path)
    try:
        # a statement over three lines: the prompt turns into '>' until the ';'
        child.sendline("SHOW")
        child.expect_exact(">")
        child.sendline("  STREAMS")
        child.expect_exact(">")
        child.sendline(";")
        child.expect("PAYMENTS")
        child.expect_exact(PROMPT)

        child.sendline("DESCRIBE PAYMENTS;")
        child.expect("AMOUNT")
        child.expect_exact(PROMPT)

        child.sendline("DESCRIBE NO_SUCH_THING;")  # the server's message, as ksqlDB shows it
        child.expect("NO_SUCH_THING")
        child.expect_exact(PROMPT)
        child.sendline("SELEC oops;")
        child.expect("Syntax Error|mismatched input|extraneous input|no viable")
        child.expect_exact(PROMPT)

        child.sendline("SET 'auto.offset.reset'='earliest';")
        child.expect_exact("Successfully changed local property 'auto.offset.reset' to 'earliest'")
        child.expect_exact(PROMPT)

        # a push query streams: the existing rows, then one produced while it runs
        child.sendline("SELECT ID, WHO FROM PAYMENTS EMIT CHANGES;")
        child.expect(r"\|ID\s+\|WHO\s+\|")
        child.expect(r"\|2\s+\|user2\s+\|")
        produce_json(topic, [("k7", {"ID": 7, "WHO": "arrived-later"})])
        child.expect(r"\|7\s+\|arrived-later")
        child.sendintr()  # Ctrl-C ends the query, not the shell
        child.expect_exact("Query terminated")
        child.expect_exact(PROMPT)

        child.sendline("UNSET 'auto.offset.reset';")
        child.expect_exact("Successfully unset local property 'auto.offset.reset'")
        child.expect_exact(PROMPT)

        script = tmp_path / "script.sql"
        script.write_text(
            "DEFINE topic = 'copy-" + unique_id + "';\n"
            "CREATE STREAM COPY WITH (KAFKA_TOPIC='${topic}', PARTITIONS=1) AS\n"
            "  SELECT ID FROM PAYMENTS EMIT CHANGES;\n"
        )
        child.sendline(f"RUN SCRIPT '{script}';")
        child.expect("Created query with ID")
        child.expect_exact(PROMPT)
        child.sendline("SET 'auto.offset.reset'='earliest';")
        child.expect_exact(PROMPT)
        child.sendline("SELECT * FROM COPY EMIT CHANGES LIMIT 2;")
        child.expect_exact("Limit Reached")
        child.expect_exact("Query terminated")
        child.expect_exact(PROMPT)

        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    history = tmp_path / "fraudstream" / "ksql-history"
    saved = history.read_text()
    assert "SHOW STREAMS ;" in saved  # the three lines kept as one statement
    assert (history.stat().st_mode & 0o777) == 0o600

    again = _spawn(server.url, tmp_path, "shell")  # up-arrow recalls the last run's lines
    try:
        again.sendline("SET 'auto.offset.reset'='earliest';")  # SETs last one session
        again.expect_exact(PROMPT)
        for _ in range(3):  # up: this SET, the last run's 'exit', its LIMIT 2 query
            again.send("\x1b[A")
        again.sendline("")
        again.expect_exact("Limit Reached")
        again.expect_exact(PROMPT)
        again.sendeof()
        again.expect(pexpect.EOF)
    finally:
        again.close(force=True)
