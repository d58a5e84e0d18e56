"""KSQLAPI (ksql-python compatible facade): the statements its builders send, its errors and
its generators, against scripted HTTP answers. (The same facade against the real embedded
server is in tests/integration/ksql/test_rest_cli_api.py.)"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fraudstream.ksql.client.api import KSQLAPI, KSQLError


class Server:
    """Answers /info, /ksql and /query; records the statements it received."""

    def __init__(self, query_body: bytes = b"[]", ksql_status: int = 200) -> None:
        self.statements: list[str] = []
        self.accepts: list[str] = []
        self.query_body = query_body
        self.ksql_status = ksql_status

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.accepts.append(req.headers.get("accept", ""))
        if req.url.path == "/info":
            return httpx.Response(200, json={"KsqlServerInfo": {"version": "0.29.0"}})
        body = json.loads(req.content)
        self.statements.append(body["ksql"])
        if req.url.path == "/query":
            return httpx.Response(200, content=self.query_body)
        if self.ksql_status != 200:
            return httpx.Response(
                self.ksql_status,
                json={"@type": "statement_error", "error_code": 40001, "message": "nope"},
            )
        return httpx.Response(200, json=[{"@type": "currentStatus", "commandStatus": {}}])


def api(server: Server) -> KSQLAPI:
    return KSQLAPI("http://ksql.test:8088", transport=httpx.MockTransport(server))


def test_constructor_checks_the_version_like_ksql_python() -> None:
    server = Server()
    client = api(server)
    assert client.get_url() == "http://ksql.test:8088"
    assert client.get_ksql_version() == "0.29.0"
    assert all(a == "application/vnd.ksql.v1+json" for a in server.accepts)


def test_create_stream_uses_current_syntax() -> None:
    server = Server()
    assert api(server).create_stream(
        "creditcardfraud_source", ["Id bigint", "User varchar", "Class int"], "src", "JSON"
    )
    assert server.statements == [
        "CREATE STREAM creditcardfraud_source (Id bigint, User varchar, Class int) "
        "WITH (KAFKA_TOPIC='src', VALUE_FORMAT='JSON');"
    ]


def test_create_table_key_becomes_primary_key_not_the_removed_with_key() -> None:
    server = Server()
    api(server).create_table(
        "users", ["userid varchar", "city varchar"], "users", "JSON", key="userid", partitions=1
    )
    (sql,) = server.statements
    assert "userid varchar PRIMARY KEY" in sql
    assert "KEY=" not in sql.replace(" ", "").upper().replace("PRIMARYKEY", "")
    assert "PARTITIONS=1" in sql


def test_create_stream_as_matches_the_seed_call() -> None:
    server = Server()
    api(server).create_stream_as(
        table_name="creditcardfraud_preprocessed_avro",
        select_columns=["Time", "V1", "Amount", "Class"],
        src_table="creditcardfraud_source",
        conditions="Class IS NOT NULL",
        kafka_topic="creditcardfraud_preprocessed_avro",
        value_format="AVRO",
    )
    assert server.statements == [
        "CREATE STREAM creditcardfraud_preprocessed_avro WITH "
        "(KAFKA_TOPIC='creditcardfraud_preprocessed_avro', VALUE_FORMAT='AVRO') AS SELECT "
        "Time, V1, Amount, Class FROM creditcardfraud_source WHERE Class IS NOT NULL "
        "EMIT CHANGES;"
    ]


def test_conditions_list_and_partition_by() -> None:
    server = Server()
    api(server).create_stream_as(
        "s2", ["a", "b"], "s1", conditions=["a > 1", "b IS NOT NULL"], partition_by="b"
    )
    assert server.statements[0].endswith(
        "FROM s1 WHERE a > 1 AND b IS NOT NULL PARTITION BY b EMIT CHANGES;"
    )


def test_errors_are_ksql_python_errors_with_code() -> None:
    client = api(Server(ksql_status=400))
    with pytest.raises(KSQLError) as info:
        client.ksql("DROP STREAM X;")
    assert info.value.error_code == 40001
    assert info.value.msg == "nope"


QUERY_BODY = (
    b'[{"header":{"queryId":"q1","schema":"`ID` BIGINT, `USERID` STRING"}},\n'
    b'{"row":{"columns":[1,"xxns"]}},\n{"row":{"columns":[2,"xxb"]}},\n'
    b'{"finalMessage":"Limit Reached"}]'
)


def test_query_generator_of_text_and_of_dicts() -> None:
    client = api(Server(QUERY_BODY))
    texts = list(client.query("SELECT ID, USERID FROM L EMIT CHANGES LIMIT 2;"))
    assert [list(json.loads(t)) for t in texts] == [["header"], ["row"], ["row"], ["finalMessage"]]
    assert json.loads(texts[0])["header"]["schema"] == "`ID` BIGINT, `USERID` STRING"
    rows: list[Any] = list(client.query("SELECT ...;", return_objects=True))
    assert rows == [{"ID": 1, "USERID": "xxns"}, {"ID": 2, "USERID": "xxb"}]
    assert list(client.stream("SELECT ...;")) == rows


def test_query_error_message_raises() -> None:
    body = b'[{"header":{"queryId":"q","schema":"`A` INT"}},{"errorMessage":{"message":"gone"}}]'
    with pytest.raises(KSQLError, match="gone"):
        list(api(Server(body)).query("SELECT A FROM S EMIT CHANGES;", return_objects=True))
