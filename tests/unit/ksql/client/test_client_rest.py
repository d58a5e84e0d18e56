"""KsqlClient against scripted HTTP answers: request shapes, Accept headers, error bodies,
and the incremental parsing of streamed push-query bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fraudstream.ksql.client.client import (
    KSQL_V1,
    KsqlClient,
    KsqlConnectionError,
    KsqlServerError,
    QueryFinal,
    QueryHeader,
    _JsonStream,
    split_schema,
)
from fraudstream.local.procs import free_port


class Recorder:
    """An httpx transport that records requests and answers from a script."""

    def __init__(self, answer: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)  # type: ignore[no-any-return]


def client_with(answer: Any) -> tuple[KsqlClient, Recorder]:
    rec = Recorder(answer)
    return KsqlClient("http://ksql.test:8088", transport=httpx.MockTransport(rec)), rec


def test_every_request_sets_accept_explicitly() -> None:
    def answer(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/info":
            return httpx.Response(200, json={"KsqlServerInfo": {"version": "0.29.0"}})
        if req.url.path == "/healthcheck":
            return httpx.Response(200, json={"isHealthy": True})
        return httpx.Response(200, json=[{"@type": "streams", "streams": []}])

    client, rec = client_with(answer)
    assert client.info()["KsqlServerInfo"]["version"] == "0.29.0"
    assert client.healthcheck()["isHealthy"] is True
    client.ksql("LIST STREAMS")
    assert [r.headers["accept"] for r in rec.requests] == [KSQL_V1] * 3


def test_ksql_body_has_terminated_statement_properties_and_variables() -> None:
    client, rec = client_with(lambda _r: httpx.Response(200, json=[]))
    client.ksql("LIST TOPICS", properties={"a": 1}, variables={"t": "x"})
    body = json.loads(rec.requests[0].content)
    assert body == {
        "ksql": "LIST TOPICS;",
        "streamsProperties": {"a": 1},
        "sessionVariables": {"t": "x"},
    }


def test_error_body_becomes_server_error_with_code() -> None:
    body = {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "Could not find STREAM/TABLE 'NOPE' in the Metastore",
        "statementText": "DESCRIBE NOPE;",
        "entities": [],
    }
    client, _ = client_with(lambda _r: httpx.Response(400, json=body))
    with pytest.raises(KsqlServerError) as info:
        client.ksql("DESCRIBE NOPE;")
    assert info.value.error_code == 40001
    assert info.value.status_code == 400
    assert info.value.statement_text == "DESCRIBE NOPE;"
    assert "NOPE" in str(info.value)


def test_command_status_error_in_a_200_is_raised() -> None:
    entity = {"@type": "currentStatus", "commandStatus": {"status": "ERROR", "message": "boom"}}
    client, _ = client_with(lambda _r: httpx.Response(200, json=[entity]))
    with pytest.raises(KsqlServerError, match="boom"):
        client.ksql("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='x', VALUE_FORMAT='JSON');")


def test_non_json_error_is_reported_with_status() -> None:
    client, _ = client_with(lambda _r: httpx.Response(502, text="bad gateway"))
    with pytest.raises(KsqlServerError, match="HTTP 502"):
        client.ksql("LIST STREAMS;")


def test_unreachable_server_is_a_connection_error() -> None:
    client = KsqlClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(KsqlConnectionError, match=r"127\.0\.0\.1"):
        client.info()
    with pytest.raises(KsqlConnectionError):
        list(client.query("SELECT * FROM X EMIT CHANGES;"))


def test_empty_statement_is_rejected_before_sending() -> None:
    client, rec = client_with(lambda _r: httpx.Response(200, json=[]))
    with pytest.raises(Exception, match="empty"):
        client.ksql("   ")
    assert rec.requests == []


def _chunked(parts: list[bytes]) -> httpx.Response:
    def gen() -> Iterator[bytes]:
        yield from parts

    return httpx.Response(200, content=gen(), headers={"content-type": KSQL_V1})


def test_query_parses_a_v1_body_split_at_arbitrary_points() -> None:
    text = (
        '[{"header":{"queryId":"transient_X_1","schema":"`ID` BIGINT, `S` STRUCT<`A` INT, `B` '
        'STRING>, `U` STRING"}},\n{"row":{"columns":[1,{"A":1,"B":"x,y"},"Xxns"]}},\n'
        '{"row":{"columns":[2,null,"Xxlo"]}},\n{"finalMessage":"Limit Reached"}]\n'
    )
    raw = text.encode()
    parts = [raw[i : i + 7] for i in range(0, len(raw), 7)]  # splits inside strings/objects
    client, rec = client_with(lambda _r: _chunked(parts))
    events = list(client.query("SELECT * FROM X EMIT CHANGES LIMIT 2;"))
    assert rec.requests[0].headers["accept"] == KSQL_V1
    assert json.loads(rec.requests[0].content)["ksql"].endswith("LIMIT 2;")
    header = events[0]
    assert isinstance(header, QueryHeader)
    assert header.query_id == "transient_X_1"
    assert header.columns == ["ID", "S", "U"]
    assert header.types == ["BIGINT", "STRUCT<`A` INT, `B` STRING>", "STRING"]
    assert events[1] == [1, {"A": 1, "B": "x,y"}, "Xxns"]
    assert events[2] == [2, None, "Xxlo"]
    assert events[3] == QueryFinal("Limit Reached")


def test_query_rows_yields_dicts_and_raises_on_error_message() -> None:
    body = (
        b'[{"header":{"queryId":"q","schema":"`ID` BIGINT, `C` INT"}},'
        b'{"row":{"columns":[7,-1]}},{"errorMessage":{"message":"stream gone"}}]'
    )
    client, _ = client_with(lambda _r: _chunked([body]))
    rows = client.query_rows("SELECT ID, C FROM X EMIT CHANGES;")
    assert next(rows) == {"ID": 7, "C": -1}
    with pytest.raises(KsqlServerError, match="stream gone"):
        next(rows)


def test_query_error_status_raises_with_code() -> None:
    body = {"@type": "statement_error", "error_code": 40001, "message": "line 1:8: Syntax Error"}
    client, _ = client_with(lambda _r: httpx.Response(400, json=body))
    with pytest.raises(KsqlServerError, match="Syntax Error") as info:
        list(client.query("SELECT FROM;"))
    assert info.value.error_code == 40001


def test_query_stream_delimited_messages_are_understood() -> None:
    parser = _JsonStream()
    got = list(parser.feed('{"queryId":"q1","columnNames":["A"],"columnTypes":["INT"]}\n[1]\n[2'))
    got += list(parser.feed("]\n"))
    assert got == [{"queryId": "q1", "columnNames": ["A"], "columnTypes": ["INT"]}, [1], [2]]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("`A` INTEGER", [("A", "INTEGER")]),
        ("`A` STRING KEY, `B` DOUBLE", [("A", "STRING"), ("B", "DOUBLE")]),
        (
            "`m` MAP<STRING, INTEGER>, `d` DECIMAL(4, 2)",
            [("m", "MAP<STRING, INTEGER>"), ("d", "DECIMAL(4, 2)")],
        ),
        ("`we,ird` INT", [("we,ird", "INT")]),
        ("", []),
    ],
)
def test_split_schema(schema: str, expected: list[tuple[str, str]]) -> None:
    assert split_schema(schema) == expected


def test_json_array_body_keeps_inner_arrays() -> None:
    parser = _JsonStream(outer_array=True)
    got = list(parser.feed('[{"queryId":"q1","columnNames":["A"]},\n[1,'))
    got += list(parser.feed("[2]]]"))
    assert got == [{"queryId": "q1", "columnNames": ["A"]}, [1, [2]]]
