"""The shell's loop against scripted HTTP answers: what each typed line sends, what it prints,
SET/UNSET/DEFINE kept for the session, RUN SCRIPT, errors, streamed rows, history."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.client.shell import History, KsqlShell

STREAMS = [{"@type": "streams", "streams": [
    {"name": "PAY", "topic": "p", "keyFormat": "KAFKA", "valueFormat": "JSON", "isWindowed": False}
]}]  # fmt: skip


class Server:
    """Answers /info, /ksql and /query; records every request body."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/info":
            return httpx.Response(200, json={"KsqlServerInfo": {"version": "0.29.0"}})
        body = json.loads(request.content)
        self.bodies.append((request.url.path, body))
        sql = body["ksql"]
        if request.url.path == "/query":
            chunks = [
                b'[{"header":{"queryId":"q1","schema":"`ID` BIGINT, `WHO` STRING"}}',
                b"\n",  # a keep-alive between elements
                b',\n{"row":{"columns":[1,"alice"]}}',
                b',\n{"row":{"columns":[2,null]}}',
                b',\n{"finalMessage":"Limit Reached"}]\n',
            ]
            return httpx.Response(200, content=iter(chunks))
        if "NOPE" in sql:
            return httpx.Response(
                400,
                json={"@type": "statement_error", "error_code": 40001,
                      "message": "Could not find STREAM/TABLE 'NOPE' in the Metastore"},
            )  # fmt: skip
        return httpx.Response(200, json=STREAMS)


def run_shell(lines: list[str], history: Path | None = None) -> tuple[str, Server, KsqlShell]:
    server = Server()
    client = KsqlClient("http://ksql.test:8088", transport=httpx.MockTransport(server))
    feed: Iterator[str] = iter(lines)

    def read_line(_prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    shell = KsqlShell(client, history_file=history, out=out, read_line=read_line)
    shell.loop()
    return out.getvalue(), server, shell


def test_multi_line_statements_and_session_properties() -> None:
    text, server, shell = run_shell(
        [
            "SET 'auto.offset.reset' = 'earliest';",
            "DEFINE who = 'o''neil';",
            "SHOW",
            "  STREAMS;  LIST TOPICS;",
            "UNSET 'auto.offset.reset';",
            "DESCRIBE X;",
        ]
    )
    assert "Successfully changed local property 'auto.offset.reset' to 'earliest'" in text
    assert "Successfully unset local property 'auto.offset.reset' (value was 'earliest')" in text
    sent = [
        (b["ksql"], b["streamsProperties"], b.get("sessionVariables")) for _, b in server.bodies
    ]
    assert sent == [
        ("SHOW\n  STREAMS;", {"auto.offset.reset": "earliest"}, {"who": "o'neil"}),
        ("LIST TOPICS;", {"auto.offset.reset": "earliest"}, {"who": "o'neil"}),
        ("DESCRIBE X;", {}, {"who": "o'neil"}),
    ]
    assert "PAY" in text and "Stream Name" in text
    assert shell.running  # ended by end of input, not by exit


def test_errors_print_the_server_message_and_the_shell_goes_on() -> None:
    text, server, _ = run_shell(["DESCRIBE NOPE;", "UNSET 'never.set';", "SHOW STREAMS;"])
    assert "Could not find STREAM/TABLE 'NOPE' in the Metastore" in text
    assert "Property 'never.set' was not set in this session" in text
    assert [b["ksql"] for _, b in server.bodies] == ["DESCRIBE NOPE;", "SHOW STREAMS;"]


def test_select_streams_rows_in_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "41")
    text, server, _ = run_shell(["SELECT ID, WHO FROM S EMIT CHANGES LIMIT 2;"])
    assert server.bodies[0][0] == "/query"
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("+"))
    assert lines[start + 1] == "|ID" + " " * 17 + "|WHO" + " " * 16 + "|"
    assert lines[start + 3].startswith("|1 ") and "alice" in lines[start + 3]
    assert "null" in lines[start + 4]
    assert lines[start + 6 : start + 8] == ["Limit Reached", "Query terminated"]
    assert all(len(line) <= 41 for line in lines[start : start + 6])


def test_ctrl_c_during_a_query_ends_it_and_keeps_the_shell() -> None:
    server = Server()
    client = KsqlClient("http://ksql.test:8088", transport=httpx.MockTransport(server))
    out = io.StringIO()
    shell = KsqlShell(client, out=out, read_line=lambda _p: "")
    real_query: Callable[..., Any] = client.query

    def interrupted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        events = real_query(*args, **kwargs)
        yield next(events)
        yield next(events)
        raise KeyboardInterrupt

    client.query = interrupted  # type: ignore[method-assign]
    assert shell.run("SELECT * FROM S EMIT CHANGES;") is True
    assert out.getvalue().rstrip().endswith("Query terminated")
    assert shell.running


def test_run_script_stops_at_the_first_error(tmp_path: Path) -> None:
    script = tmp_path / "s.sql"
    script.write_text("SET 'a'='1';\nSHOW STREAMS;\nDESCRIBE NOPE;\nLIST TOPICS;\n")
    text, server, _ = run_shell([f"RUN SCRIPT '{script}';", "RUN SCRIPT '/no/such.sql';"])
    assert [b["ksql"] for _, b in server.bodies] == ["SHOW STREAMS;", "DESCRIBE NOPE;"]
    assert server.bodies[0][1]["streamsProperties"] == {"a": "1"}
    assert "Failed to read file: /no/such.sql" in text


def test_exit_stops_and_history_keeps_one_entry_per_statement(tmp_path: Path) -> None:
    history = tmp_path / "data" / "ksql-history"
    _, server, shell = run_shell(["SHOW", "STREAMS;", "exit", "SHOW TABLES;"], history)
    assert not shell.running and len(server.bodies) == 1  # nothing after exit
    saved = History(history)
    rl = saved.readline
    entries = [rl.get_history_item(i) for i in range(1, rl.get_current_history_length() + 1)]
    assert entries[-2:] == ["SHOW STREAMS;", "exit"]
    assert oct(history.stat().st_mode & 0o777) == oct(0o600)
    rl.clear_history()


def test_ctrl_c_during_a_statement_drops_it_and_keeps_reading() -> None:
    server = Server()
    client = KsqlClient("http://ksql.test:8088", transport=httpx.MockTransport(server))
    calls: list[str] = []
    real_ksql = client.ksql

    def slow(sql: str, **kwargs: Any) -> Any:
        calls.append(sql)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_ksql(sql, **kwargs)

    client.ksql = slow  # type: ignore[method-assign]
    feed = iter(["SHOW STREAMS; SHOW TABLES;", "LIST TOPICS;"])

    def read_line(_prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    KsqlShell(client, out=io.StringIO(), read_line=read_line).loop()
    assert calls == ["SHOW STREAMS;", "LIST TOPICS;"]  # the rest of that line dropped too
