"""ksqlDB clients nobody here wrote, against the embedded KSQL server (issue 20 item 6):
`ksql-python-ng` (ksql-python's fork; `/ksql`, `/query`, HTTP/2 `/query-stream`,
`/close-query`, `/inserts-stream`) and `ksqldb` (HTTP/2 only for its streaming calls). Both
open cleartext HTTP/2 connections with prior knowledge, as they do against ksqlDB."""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ksql  # the clients-test extra (pinned): ksql-python-ng
import ksql.api
import ksql.errors
import ksql.utils as ksql_utils
import ksqldb
import pytest

from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EARLIEST = {"auto.offset.reset": "earliest"}


@pytest.fixture
def orders(
    make_server: Callable[..., KsqlServer],
    produce_json: Callable[..., None],
    topic_factory: Callable[..., str],
) -> Iterator[tuple[KsqlServer, str]]:
    """A server and an existing topic holding 3 orders (no stream yet)."""
    server = make_server()
    topic = topic_factory("orders")
    produce_json(
        topic,
        [
            (str(i), {"ORDER_ID": i, "TOTAL_AMOUNT": i * 10.5, "CUSTOMER_NAME": f"c{i}"})
            for i in range(3)
        ],
    )
    yield server, topic


def _without_cert(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, cert: Any = None, **kwargs: Any) -> Any:
        assert cert is None, "no client certificate in these tests"
        return fn(*args, **kwargs)

    return call


@pytest.fixture
def httpx_028_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """ksql-python-ng 0.29.0.1 passes `cert=None` to httpx's top-level functions, which
    httpx 0.28 removed (a TypeError before any request, whatever the server). Dropping that
    one keyword lets its requests reach the server exactly as written."""
    shim = types.SimpleNamespace(**{k: getattr(httpx, k) for k in dir(httpx) if k[0] != "_"})
    for name in ("get", "post", "request", "stream"):
        setattr(shim, name, _without_cert(getattr(httpx, name)))
    monkeypatch.setattr(ksql.api, "httpx", shim)


@pytest.mark.usefixtures("httpx_028_shim")
def test_ksql_python_ng_documented_calls(orders: tuple[KsqlServer, str]) -> None:
    server, topic = orders
    client = ksql.KSQLAPI(server.url, timeout=60)
    assert client.get_url() == server.url
    assert client.get_ksql_version().startswith("0.29")
    assert isinstance(client.get_properties(), list | dict)

    assert client.create_stream(
        table_name="ORDERS",
        columns_type=["ORDER_ID INT", "TOTAL_AMOUNT DOUBLE", "CUSTOMER_NAME VARCHAR"],
        topic=topic,
        value_format="JSON",
    )
    shown = client.ksql("show streams")
    assert "ORDERS" in {s["name"] for s in shown[0]["streams"]}
    assert "ORDERS" in ksql_utils.get_all_streams(client.sa)
    info = ksql_utils.get_stream_info(client.sa, "ORDERS")
    assert [f["name"] for f in info["fields"]] == ["ORDER_ID", "TOTAL_AMOUNT", "CUSTOMER_NAME"]

    with pytest.raises(ksql.errors.KSQLError) as failed:
        client.ksql("DESCRIBE NO_SUCH_STREAM;")
    assert failed.value.error_code == 40001

    assert client.create_stream_as(
        table_name="BIG_ORDERS",
        select_columns=["ORDER_ID", "TOTAL_AMOUNT"],
        src_table="ORDERS",
        kafka_topic=f"{topic}-big",
        value_format="JSON",
        conditions="TOTAL_AMOUNT > 5",
        partitions=1,
    )

    # HTTP/1.1 /query: ksqlDB's JSON array, chunk by chunk
    chunks = list(
        client.query(
            "SELECT ORDER_ID FROM ORDERS EMIT CHANGES LIMIT 2;", stream_properties=EARLIEST
        )
    )
    text = "".join(chunks)
    assert json.loads(text)[0]["header"]["schema"] == "`ORDER_ID` INTEGER"
    assert [m["row"]["columns"] for m in json.loads(text)[1:3]] == [[0], [1]]

    # HTTP/2 /query-stream, parsed into dicts, then closed by id
    rows = client.query(
        "SELECT * FROM BIG_ORDERS EMIT CHANGES;",
        stream_properties=EARLIEST,
        use_http2=True,
        parse=True,
    )
    assert next(rows) == {"ORDER_ID": 1, "TOTAL_AMOUNT": 10.5}
    raw = client.query(
        "SELECT ORDER_ID FROM ORDERS EMIT CHANGES;", stream_properties=EARLIEST, use_http2=True
    )
    header = json.loads(next(raw))
    assert header["columnNames"] == ["ORDER_ID"]
    assert json.loads(next(raw)) == [0]
    assert client.close_query(header["queryId"]) is True
    assert client.close_query(header["queryId"]) is False  # 400: no such query any more
    rows.close()
    raw.close()

    # HTTP/2 /inserts-stream
    acks = client.inserts_stream(
        "ORDERS",
        [
            {"ORDER_ID": 7, "TOTAL_AMOUNT": 23.5, "CUSTOMER_NAME": "abc"},
            {"ORDER_ID": 8, "TOTAL_AMOUNT": 3.7, "CUSTOMER_NAME": "xyz"},
        ],
    )
    assert acks == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
    with KsqlClient(server.url) as ours:
        got = list(
            ours.query_rows(
                "SELECT ORDER_ID FROM ORDERS EMIT CHANGES LIMIT 5;", properties=EARLIEST
            )
        )
    assert [r["ORDER_ID"] for r in got] == [0, 1, 2, 7, 8]


async def _first(gen: Any, n: int) -> list[Any]:
    out = []
    async for item in gen:
        out.append(item)
        if len(out) == n:
            break
    await gen.aclose()
    return out


def test_ksqldb_package_documented_calls(orders: tuple[KsqlServer, str]) -> None:
    server, topic = orders
    client = ksqldb.KSQLdbClient(server.url)
    assert isinstance(client.get_properties(), list | dict)
    made = client.ksql(
        "CREATE STREAM ORDERS (ORDER_ID INT, TOTAL_AMOUNT DOUBLE, CUSTOMER_NAME VARCHAR) "
        f"WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON');"
    )
    assert made[0]["commandStatus"]["status"] == "SUCCESS"

    got = asyncio.run(
        _first(
            client.query_async(
                "SELECT ORDER_ID, CUSTOMER_NAME FROM ORDERS EMIT CHANGES;",
                stream_properties=EARLIEST,
                timeout=60,
            ),
            4,
        )
    )
    assert got[0]["columnNames"] == ["ORDER_ID", "CUSTOMER_NAME"]
    assert got[1:] == [[0, "c0"], [1, "c1"], [2, "c2"]]

    acks = client.inserts_stream("ORDERS", [{"ORDER_ID": 9, "CUSTOMER_NAME": "h2"}])
    assert acks == [{"status": "ok", "seq": 0}]

    async def query_then_close() -> tuple[list[Any], bool]:
        gen = client.query_async(
            "SELECT ORDER_ID FROM ORDERS WHERE ORDER_ID = 9 EMIT CHANGES;",
            stream_properties=EARLIEST,
            timeout=60,
        )
        header = await gen.__anext__()
        row = await gen.__anext__()
        closed = await asyncio.to_thread(client.close_query, header["queryId"])
        rest = [item async for item in gen]  # the server ends the stream
        return [header, row, *rest], closed

    seen, closed = asyncio.run(query_then_close())
    assert closed is True
    assert seen[1:] == [[9]]
