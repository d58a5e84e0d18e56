"""ksqlDB's REST API over a `KsqlService`, and the server that runs both.

`build_app` exposes the service with starlette (`/info`, `/healthcheck`, `/ksql`, `/query`,
`/query-stream`, `/close-query`, `/inserts-stream`) using ksqlDB's request and response
shapes; every error body comes from `server.entities`. `KsqlServer` runs the service and the
app in-process (in a thread, through `fraudstream.httpserver`: tests) or in the foreground
(`fraudstream ksql serve`), over HTTP/1.1 and HTTP/2 (h2c and h2) on one port, as ksqlDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fraudstream.errors import KsqlError
from fraudstream.httpserver import HttpSecuritySettings, HttpServer, http_security_settings
from fraudstream.httpserver.embedded import EmbeddedServer
from fraudstream.ksql.engine.pull import PullQuery, PullResult
from fraudstream.ksql.server.entities import StatementFailure, error_body
from fraudstream.ksql.server.inserts import insert_rows, parse_args
from fraudstream.ksql.server.push import HEARTBEAT, OpenQueries, PushSession
from fraudstream.ksql.server.security import DELIMITED, KSQL_V1, REQUEST_TYPES, http_options
from fraudstream.ksql.server.service import KsqlService
from fraudstream.servermetrics import with_metrics

__all__ = ["DELIMITED", "KSQL_V1", "VERSION", "KsqlServer", "build_app"]

log = logging.getLogger(__name__)

VERSION = "0.29.0-fraudstream"
# ksqlDB routes /close-query with no `consumes`, and ksql-python's close_query posts its JSON
# with no Content-Type: a body without one is read as JSON. A browser cannot send one
# cross-site without an Origin, which the Guard refuses; text/plain and forms stay 415.
_REQUEST_TYPES = REQUEST_TYPES | {""}
HEARTBEAT_SECONDS = 1.0


# -- HTTP ----------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=KSQL_V1)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        # up to the 1 MiB limit: parsed off the event loop, which keeps streaming push queries
        data = await asyncio.to_thread(orjson.loads, raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise StatementFailure.generic(400, 40000, f"Invalid JSON in request: {exc}") from None
    if not isinstance(data, dict):
        raise StatementFailure.generic(400, 40000, "Request body must be a JSON object")
    return data


async def _query_rows(session: PushSession) -> AsyncIterator[bytes]:
    """/query: ksqlDB's JSON array of a header, rows and (at the LIMIT) a final message."""
    schema = ", ".join(f"`{n}` {t}" for n, t in session.columns)
    yield b"[" + orjson.dumps({"header": {"queryId": session.query_id, "schema": schema}})
    async for row in session.iter_rows(heartbeat=HEARTBEAT_SECONDS):
        if row is HEARTBEAT:
            yield b"\n"  # ksqlDB's keep-alive on /query: whitespace between array elements
            continue
        if row is None:
            if session.limit_reached:
                yield b",\n" + orjson.dumps({"finalMessage": "Limit Reached"})
            break
        yield b",\n" + orjson.dumps({"row": {"columns": row}})
    yield b"]\n"


def _pull_query_body(pq: PullQuery, result: PullResult) -> bytes:
    """/query, pull: ksqlDB's JSON array of the header, the rows and (streams) the final
    message, sent at once (a pull query ends)."""
    parts: list[Any] = [{"header": {"queryId": pq.id, "schema": pq.header_schema()}}]
    parts += [{"row": {"columns": row}} for row in result.rows]
    if result.final_message is not None:
        parts.append({"finalMessage": result.final_message})
    return b"[" + b",\n".join(orjson.dumps(p) for p in parts) + b"]\n"


def _pull_stream_body(pq: PullQuery, result: PullResult, *, as_json: bool) -> bytes:
    """/query-stream, pull: the header (column names and types), then one array per row."""
    header = {
        "queryId": pq.id,
        "columnNames": [c.name for c in pq.schema],
        "columnTypes": [str(c.type) for c in pq.schema],
    }
    parts = [orjson.dumps(header)] + [orjson.dumps(row) for row in result.rows]
    if as_json:
        return b"[" + b",\n".join(parts) + b"]\n"
    return b"".join(p + b"\n" for p in parts)


def _stream_header(session: PushSession) -> dict[str, Any]:
    return {
        "queryId": session.query_id,
        "columnNames": [n for n, _ in session.columns],
        "columnTypes": [t for _, t in session.columns],
    }


def _wants_json(accept: str) -> bool:
    """ksqlDB answers `/query-stream` and `/inserts-stream` delimited unless the client asks
    for `application/json` (and not the delimited type) explicitly."""
    return DELIMITED not in accept and "application/json" in accept


async def _delimited_rows(session: PushSession) -> AsyncIterator[bytes]:
    """/query-stream, delimited: one JSON line for the header, then one per row."""
    yield orjson.dumps(_stream_header(session)) + b"\n"
    async for row in session.iter_rows():
        if row is None:
            break
        yield orjson.dumps(row) + b"\n"


async def _json_rows(session: PushSession) -> AsyncIterator[bytes]:
    """/query-stream, JSON: one array of the header and the rows."""
    yield b"[" + orjson.dumps(_stream_header(session))
    async for row in session.iter_rows():
        if row is None:
            break
        yield b",\n" + orjson.dumps(row)
    yield b"]\n"


def _session_routes(service: KsqlService, running: OpenQueries) -> list[Route]:
    """`/close-query` and `/inserts-stream`: ksqlDB's newer API beside `/query-stream`."""

    async def close_query(request: Request) -> Response:
        try:
            data = await _body(request)
            query_id = data.get("queryId")
            if not isinstance(query_id, str) or not query_id:
                raise StatementFailure.generic(400, 40001, "No queryId in arguments")
            if not running.close(query_id):
                raise StatementFailure.generic(400, 40004, f"No query with id {query_id}")
        except StatementFailure as exc:
            return JSONResponse(exc.body, exc.status)
        return Response(b"", status_code=200)

    async def inserts_stream(request: Request) -> Response:
        raw = await request.body()
        first, _, rest = raw.partition(b"\n")
        try:
            args = parse_args(first)
        except StatementFailure as exc:
            return JSONResponse(exc.body, exc.status)
        lines = rest.split(b"\n")
        acks = await asyncio.to_thread(lambda: list(insert_rows(service, args, lines)))
        if _wants_json(request.headers.get("accept", "")):
            return Response(orjson.dumps(acks), media_type="application/json")
        body = b"".join(orjson.dumps(a) + b"\n" for a in acks)
        return Response(body, media_type=DELIMITED)

    return [
        Route("/close-query", close_query, methods=["POST"]),
        Route("/inserts-stream", inserts_stream, methods=["POST"]),
    ]


def build_app(service: KsqlService, open_queries: OpenQueries | None = None) -> Starlette:
    """The starlette app with ksqlDB's REST endpoints."""
    running = open_queries if open_queries is not None else OpenQueries()

    async def info(_request: Request) -> Response:
        return _json(
            {
                "KsqlServerInfo": {
                    "version": VERSION,
                    "kafkaClusterId": "embedded",
                    "ksqlServiceId": service.service_id,
                    "serverStatus": "RUNNING" if service.started else "STARTING",
                }
            }
        )

    async def healthcheck(_request: Request) -> Response:
        # ksqlDB's HealthCheckAgent sets isHealthy = every detail healthy, and its
        # HealthCheckResource answers EndpointResponse.ok(...): 200 with isHealthy false in
        # the body when a check fails (not 503). A failed persistent query shows up here as
        # commandRunner unhealthy. 503 only while the server has not started.
        runners_ok = all(r.stats.state != "ERROR" for r in service.runners.values())
        started = service.started
        details = {
            "metastore": {"isHealthy": started},
            "kafka": {"isHealthy": started},
            "commandRunner": {"isHealthy": started and runners_ok},
        }
        body = {
            "isHealthy": all(d["isHealthy"] for d in details.values()),
            "details": details,
            "ksqlServiceId": service.service_id,
        }
        return _json(body, 200 if started else 503)

    def run_ksql(data: dict[str, Any]) -> Response:
        sql = data.get("ksql")
        if not isinstance(sql, str) or not sql.strip():
            raise StatementFailure.generic(400, 40000, "Request is missing the 'ksql' field")
        entities = service.execute(sql, data.get("sessionVariables"), data.get("streamsProperties"))
        return _json(entities)

    async def ksql(request: Request) -> Response:
        try:
            data = await _body(request)
            return await asyncio.to_thread(run_ksql, data)
        except StatementFailure as exc:
            return _json(exc.body, exc.status)
        except Exception as exc:  # the server answers, it never dies with a request
            log.exception("/ksql failed")
            return _json(error_body(50000, str(exc), kind="generic_error"), 500)

    async def _open(
        request: Request, sql_field: str, props_field: str
    ) -> PushSession | tuple[PullQuery, PullResult]:
        """A started push session, or a pull query's answer (a SELECT without EMIT)."""
        data = await _body(request)
        sql = data.get(sql_field)
        if not isinstance(sql, str) or not sql.strip():
            raise StatementFailure.generic(
                400, 40000, f"Request is missing the '{sql_field}' field"
            )
        stmt = service.parse_query(sql, data.get("sessionVariables"))
        if stmt.query.emit is None:
            return await asyncio.to_thread(service.run_pull_query, stmt, data.get(props_field))
        session = await asyncio.to_thread(
            service.open_push_query, sql, data.get("sessionVariables"), data.get(props_field)
        )
        session.start()
        running.add(session)
        return session

    async def tracked(session: PushSession, rows: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in rows:
                yield chunk
                # let the HTTP/2 writer send this chunk before the next one is queued: one
                # DATA frame per row, as ksqlDB writes them (clients read frame = line)
                await asyncio.sleep(0)
                await asyncio.sleep(0)
        finally:
            running.discard(session)

    async def query(request: Request) -> Response:
        try:
            session = await _open(request, "ksql", "streamsProperties")
        except StatementFailure as exc:
            return _json(exc.body, exc.status)
        except Exception as exc:
            log.exception("/query failed")
            return _json(error_body(50000, str(exc), kind="generic_error"), 500)
        if isinstance(session, tuple):
            return Response(_pull_query_body(*session), media_type=KSQL_V1)
        return StreamingResponse(tracked(session, _query_rows(session)), media_type=KSQL_V1)

    async def query_stream(request: Request) -> Response:
        try:
            session = await _open(request, "sql", "properties")
        except StatementFailure as exc:
            return JSONResponse(exc.body, exc.status)
        except Exception as exc:
            log.exception("/query-stream failed")
            return JSONResponse(error_body(50000, str(exc), kind="generic_error"), 500)
        if isinstance(session, tuple):
            wants_json = _wants_json(request.headers.get("accept", ""))
            return Response(
                _pull_stream_body(*session, as_json=wants_json),
                media_type="application/json" if wants_json else DELIMITED,
            )
        if _wants_json(request.headers.get("accept", "")):
            return StreamingResponse(
                tracked(session, _json_rows(session)), media_type="application/json"
            )
        return StreamingResponse(tracked(session, _delimited_rows(session)), media_type=DELIMITED)

    async def not_found(request: Request, _exc: Exception) -> Response:
        return _json(error_body(40400, f"Not found: {request.url.path}", kind="generic_error"), 404)

    return Starlette(
        routes=[
            Route("/info", info, methods=["GET"]),
            Route("/healthcheck", healthcheck, methods=["GET"]),
            Route("/ksql", ksql, methods=["POST"]),
            Route("/query", query, methods=["POST"]),
            Route("/query-stream", query_stream, methods=["POST"]),
            *_session_routes(service, running),
        ],
        exception_handlers={404: not_found},
    )


class KsqlServer(EmbeddedServer):
    """The embedded server in one object: `.start()` (background thread), `.stop()`, `.url`."""

    label = "KSQL server"

    def __init__(
        self,
        bootstrap: str,
        registry_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8088,
        *,
        service_id: str = "default_",
        command_topic: str | None = None,
        processing_log_topic: str | None = None,
        properties: Mapping[str, Any] | None = None,
        security: HttpSecuritySettings | None = None,
    ) -> None:
        # FRAUDSTREAM_HTTP_* unless given (docs/security.md)
        super().__init__(host, port, security or http_security_settings())
        self.service = KsqlService(
            bootstrap,
            registry_url,
            service_id=service_id,
            command_topic=command_topic,
            processing_log_topic=processing_log_topic,
            properties=properties,
        )
        self.open_queries = OpenQueries()  # push queries on /query-stream, for /close-query

    def _server(self) -> HttpServer:
        return HttpServer(
            with_metrics(build_app(self.service, self.open_queries), "ksql"),
            self.host,
            self.port,
            name="ksql-http",
            error=KsqlError,
            **{**http_options(self.security), "content_types": _REQUEST_TYPES},
            graceful_timeout=2,
            http2=True,
        )

    def _prepare(self, timeout: float) -> None:
        """Replay the command topic and restart the queries."""
        self.service.start(timeout=timeout)

    def _release(self) -> None:
        with contextlib.suppress(Exception):
            self.service.stop()
