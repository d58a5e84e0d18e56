"""A small ksqlDB REST client on httpx (works against real ksqlDB and the embedded engine).

Why not ksql-python: it does not install on Python 3.11 and its fork breaks on httpx 0.28
(see docs/ksql.md). Every request sets `Accept` explicitly: ksqlDB picks its response shape
from it, and a default `*/*` gets different bodies from different server versions.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from fraudstream.errors import KsqlError

if TYPE_CHECKING:
    from fraudstream.ksql.client.settings import KsqlClientSettings

KSQL_V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"


class KsqlServerError(KsqlError):
    """The server answered with a ksqlDB error body (`@type`, `error_code`, `message`)."""

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None = None,
        status_code: int | None = None,
        statement_text: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status_code = status_code
        self.statement_text = statement_text
        self.body = body


class KsqlConnectionError(KsqlError):
    """The server could not be reached (refused, timed out, DNS)."""


@dataclass(frozen=True)
class QueryHeader:
    """The first message of a push query: its id and output columns."""

    query_id: str
    columns: list[str]
    types: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QueryFinal:
    """The last message of a push query (`Limit Reached`, an error, ...)."""

    message: str
    is_error: bool = False


def split_schema(schema: str) -> list[tuple[str, str]]:
    """`\\`A\\` BIGINT, \\`B\\` STRUCT<\\`X\\` INT, ...>` -> [(name, type), ...].

    A small tokenizer over ksqlDB's header schema string: commas split columns only at
    depth 0 (outside `<...>` and outside back-quoted names).
    """
    out: list[tuple[str, str]] = []
    depth = 0
    in_quote = False
    start = 0
    parts: list[str] = []
    for i, ch in enumerate(schema):
        if ch == "`":
            in_quote = not in_quote
        elif not in_quote and ch in "<(":
            depth += 1
        elif not in_quote and ch in ">)":
            depth -= 1
        elif not in_quote and depth == 0 and ch == ",":
            parts.append(schema[start:i])
            start = i + 1
    parts.append(schema[start:])
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        if part.startswith("`"):
            end = part.index("`", 1)
            name, typ = part[1:end], part[end + 1 :].strip()
        else:
            name, _, typ = part.partition(" ")
        typ = typ.removesuffix(" KEY").strip()
        out.append((name, typ))
    return out


class _JsonStream:
    """Incrementally pulls JSON values out of a streamed body.

    `outer_array=True`: the body is one JSON array streamed element by element (`/query`,
    `/query-stream` as application/json); False: one value per line (delimited format).
    """

    def __init__(self, outer_array: bool = False) -> None:
        self._buf = ""
        self._decoder = json.JSONDecoder()
        self._outer = outer_array
        self._opened = not outer_array

    def feed(self, text: str) -> Iterator[Any]:
        self._buf += text
        while True:
            buf = self._buf.lstrip()
            if not self._opened:
                if not buf:
                    self._buf = ""
                    return
                if buf[0] == "[":
                    buf = buf[1:]
                self._opened = True
            if self._outer:
                buf = buf.lstrip(" \t\r\n,]")
            if not buf:
                self._buf = ""
                return
            try:
                value, end = self._decoder.raw_decode(buf)
            except json.JSONDecodeError:
                self._buf = buf
                return
            self._buf = buf[end:]
            yield value


class KsqlClient:
    """Typed access to the ksqlDB REST API: `/info`, `/healthcheck`, `/ksql`, `/query`,
    `/query-stream`, `/close-query`, `/inserts-stream`.

    `auth` is basic auth (user, password); `verify` a CA bundle / client certificate context
    (`KsqlClientSettings.verify()`), as the ksqlDB CLI's `--user` and truststore options.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        auth: tuple[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, auth=auth, verify=verify, transport=transport
        )

    @classmethod
    def from_settings(
        cls,
        settings: KsqlClientSettings | None = None,
        *,
        url: str | None = None,
        timeout: float = 30.0,
    ) -> KsqlClient:
        """A client configured by `FRAUDSTREAM_KSQL_*` (URL, basic auth, TLS)."""
        from fraudstream.ksql.client.settings import ksql_client_settings

        s = settings if settings is not None else ksql_client_settings()
        return cls(url or s.url, timeout=timeout, **s.client_kwargs())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KsqlClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plain requests -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """`GET /info` (server version, cluster ids, service id)."""
        return dict(self._get("/info"))

    def healthcheck(self) -> dict[str, Any]:
        """`GET /healthcheck` (`isHealthy` and per-component details)."""
        return dict(self._get("/healthcheck", ok_statuses=(200, 503)))

    def ksql(
        self,
        sql: str,
        *,
        properties: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        command_sequence_number: int | None = None,
    ) -> list[dict[str, Any]]:
        """`POST /ksql`: run statements; one entity per statement, errors raised."""
        body: dict[str, Any] = {
            "ksql": _terminated(sql),
            "streamsProperties": dict(properties or {}),
        }
        if variables:
            body["sessionVariables"] = dict(variables)
        if command_sequence_number is not None:
            body["commandSequenceNumber"] = command_sequence_number
        resp = self._post("/ksql", body, accept=KSQL_V1)
        data = _json(resp)
        if resp.status_code != 200:
            raise _error_from(resp, data)
        if not isinstance(data, list):
            raise KsqlServerError(f"unexpected /ksql response: {str(data)[:200]}", body=data)
        for entity in data:
            status = entity.get("commandStatus") if isinstance(entity, dict) else None
            if isinstance(status, dict) and status.get("status") == "ERROR":
                raise KsqlServerError(
                    str(status.get("message", "statement failed")),
                    statement_text=entity.get("statementText"),
                    body=data,
                )
        return data

    # -- push queries ---------------------------------------------------------------------

    def query(
        self,
        sql: str,
        *,
        properties: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Generator[QueryHeader | list[Any] | QueryFinal, None, None]:
        """`POST /query`: yields the header, then each row's column list, then a final message.

        The stream ends when the server ends it (LIMIT reached, error) or when the caller
        stops iterating (the connection is closed, which ends the query server-side).
        `timeout` bounds the wait for each chunk; None (default): no read timeout, a quiet
        push query stays open as long as the server keeps the stream open.
        """
        body: dict[str, Any] = {
            "ksql": _terminated(sql),
            "streamsProperties": dict(properties or {}),
        }
        if variables:
            body["sessionVariables"] = dict(variables)
        yield from self._stream("/query", body, KSQL_V1, timeout, outer_array=True)

    def query_stream(
        self,
        sql: str,
        *,
        properties: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Generator[QueryHeader | list[Any] | QueryFinal, None, None]:
        """`POST /query-stream` (ksqlDB's newer API, delimited): the same events as `query`.

        The header's `query_id` is what `close_query` takes.
        """
        body: dict[str, Any] = {"sql": _terminated(sql), "properties": dict(properties or {})}
        if variables:
            body["sessionVariables"] = dict(variables)
        query_id = ""
        ended = False
        try:
            for event in self._stream("/query-stream", body, DELIMITED, timeout, outer_array=False):
                if isinstance(event, QueryHeader):
                    query_id = event.query_id
                yield event
            ended = True
        finally:
            if query_id and not ended:
                # left early (closed, Ctrl-C, error): over HTTP/1.1 a server may notice the
                # closed connection only at its next row, so say it, as ksqlDB's clients do
                with contextlib.suppress(KsqlError):
                    self.close_query(query_id)

    def close_query(self, query_id: str) -> None:
        """`POST /close-query`: end a push query opened on `/query-stream` (raises if unknown)."""
        resp = self._post("/close-query", {"queryId": query_id}, accept="application/json")
        if resp.status_code != 200:
            raise _error_from(resp, _json(resp))

    def inserts_stream(
        self,
        target: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        properties: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """`POST /inserts-stream`: insert rows (column name -> value) into a stream.

        Returns the server's acks in order (`{"status": "ok", "seq": n}`); the first failed
        row ends the stream with an error ack (`status` "error", `message`), raised here.
        """
        lines = [json.dumps({"target": target, "properties": dict(properties or {})})]
        lines.extend(json.dumps(dict(row), default=str) for row in rows)
        try:
            resp = self._http.post(
                "/inserts-stream",
                content=("\n".join(lines) + "\n").encode(),
                headers={"Accept": DELIMITED, "Content-Type": DELIMITED},
            )
        except httpx.TransportError as exc:
            raise KsqlConnectionError(f"ksqlDB at {self.url}: {exc}") from exc
        if resp.status_code != 200:
            raise _error_from(resp, _json(resp))
        acks = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
        for ack in acks:
            if isinstance(ack, dict) and ack.get("status") == "error":
                raise KsqlServerError(
                    f"row {ack.get('seq')}: {ack.get('message', 'insert failed')}",
                    error_code=ack.get("error_code"),
                    status_code=resp.status_code,
                    body=acks,
                )
        return acks

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        accept: str,
        timeout: float | None,
        *,
        outer_array: bool,
    ) -> Generator[QueryHeader | list[Any] | QueryFinal, None, None]:
        try:
            with self._http.stream(
                "POST",
                path,
                json=body,
                headers={"Accept": accept, "Content-Type": KSQL_V1},
                timeout=httpx.Timeout(self._timeout, read=timeout),
            ) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise _error_from(resp, _json(resp))
                parser = _JsonStream(outer_array=outer_array)
                for chunk in resp.iter_text():
                    for msg in parser.feed(chunk):
                        event = _query_event(msg)
                        if event is not None:
                            yield event
        except httpx.TransportError as exc:
            raise KsqlConnectionError(f"ksqlDB at {self.url}: {exc}") from exc

    def query_rows(
        self,
        sql: str,
        *,
        properties: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """A push query as a generator of dicts (column name -> value), for notebooks."""
        columns: list[str] = []
        for event in self.query(sql, properties=properties, variables=variables, timeout=timeout):
            if isinstance(event, QueryHeader):
                columns = event.columns
            elif isinstance(event, list):
                yield dict(zip(columns, event, strict=False))
            elif event.is_error:
                raise KsqlServerError(event.message)

    # -- helpers --------------------------------------------------------------------------

    def _get(self, path: str, ok_statuses: tuple[int, ...] = (200,)) -> Any:
        try:
            resp = self._http.get(path, headers={"Accept": KSQL_V1})
        except httpx.TransportError as exc:
            raise KsqlConnectionError(f"ksqlDB at {self.url}: {exc}") from exc
        data = _json(resp)
        if resp.status_code not in ok_statuses:
            raise _error_from(resp, data)
        return data

    def _post(self, path: str, body: dict[str, Any], *, accept: str) -> httpx.Response:
        try:
            return self._http.post(
                path, json=body, headers={"Accept": accept, "Content-Type": KSQL_V1}
            )
        except httpx.TransportError as exc:
            raise KsqlConnectionError(f"ksqlDB at {self.url}: {exc}") from exc


def _terminated(sql: str) -> str:
    text = sql.strip()
    if not text:
        raise KsqlError("empty KSQL statement")
    return text if text.endswith(";") else text + ";"


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _error_from(resp: httpx.Response, data: Any) -> KsqlServerError:
    if isinstance(data, dict) and "message" in data:
        return KsqlServerError(
            str(data["message"]),
            error_code=data.get("error_code"),
            status_code=resp.status_code,
            statement_text=data.get("statementText"),
            body=data,
        )
    text = resp.text[:300] if resp.text else resp.reason_phrase
    return KsqlServerError(f"HTTP {resp.status_code}: {text}", status_code=resp.status_code)


def _query_event(msg: Any) -> QueryHeader | list[Any] | QueryFinal | None:
    """One message of the `/query` (v1) or `/query-stream` body -> a typed event."""
    if isinstance(msg, list):  # /query-stream row
        return msg
    if not isinstance(msg, dict):
        return None
    if "header" in msg:
        header = msg["header"]
        cols = split_schema(str(header.get("schema", "")))
        return QueryHeader(
            query_id=str(header.get("queryId", "")),
            columns=[c for c, _ in cols],
            types=[t for _, t in cols],
        )
    if "queryId" in msg and "columnNames" in msg:  # /query-stream header
        return QueryHeader(
            query_id=str(msg["queryId"]),
            columns=list(msg["columnNames"]),
            types=list(msg.get("columnTypes", [])),
        )
    if "row" in msg:
        row = msg["row"] or {}
        return list(row.get("columns", []))
    if "finalMessage" in msg:
        return QueryFinal(str(msg["finalMessage"]))
    if "errorMessage" in msg:
        err = msg["errorMessage"]
        text = err.get("message", str(err)) if isinstance(err, dict) else str(err)
        return QueryFinal(str(text), is_error=True)
    if "@type" in msg and "message" in msg:
        return QueryFinal(str(msg["message"]), is_error=True)
    return None
