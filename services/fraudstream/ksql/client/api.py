"""A ksql-python compatible facade: notebook code ports by changing one import.

    # before (ksql-python 0.10.2, does not install on Python 3.11)
    from ksql import KSQLAPI
    # after
    from fraudstream.ksql.client.api import KSQLAPI

The method names and arguments follow ksql-python's `KSQLAPI`; the statements it builds use
current ksqlDB syntax (no `WITH (KEY=...)`, which ksqlDB removed in 0.10: a table's key is
declared with `PRIMARY KEY` on the column instead).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from fraudstream.errors import KsqlError
from fraudstream.ksql.client.client import KsqlClient, KsqlServerError, QueryFinal, QueryHeader
from fraudstream.ksql.client.settings import ksql_client_settings


class KSQLError(KsqlError):
    """ksql-python's error type: `.msg`, `.error_code`."""

    def __init__(self, e: str, error_code: int | None = None, stackTrace: Any = None) -> None:
        super().__init__(e)
        self.msg = e
        self.error_code = error_code
        self.stackTrace = stackTrace


class KSQLAPI:
    """ksql-python's `KSQLAPI` over `KsqlClient` (httpx)."""

    def __init__(
        self,
        url: str,
        max_retries: int = 3,
        check_version: bool = True,
        timeout: float = 15,
        api_key: str | None = None,
        secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.url = url
        self.max_retries = max_retries
        self.timeout = timeout
        # TLS and credentials from FRAUDSTREAM_KSQL_* unless given here (api_key/secret is
        # ksql-python's basic auth, as Confluent Cloud's API keys).
        options = ksql_client_settings(url=url).client_kwargs()
        if api_key and secret:
            options["auth"] = (api_key, secret)
        # `transport` (an httpx transport) is ours, not ksql-python's: tests and proxies.
        self._client = KsqlClient(
            url, timeout=timeout, transport=kwargs.get("transport"), **options
        )
        if check_version:
            self.get_ksql_version()

    # -- server info ----------------------------------------------------------------------

    def get_url(self) -> str:
        return self.url

    def get_ksql_version(self) -> str:
        info = self._call(self._client.info)
        return str(info.get("KsqlServerInfo", {}).get("version", ""))

    def get_properties(self) -> dict[str, Any]:
        entities = self.ksql("SHOW PROPERTIES;")
        props = entities[0].get("properties", []) if entities else []
        if isinstance(props, list):
            return {p["name"]: p.get("value") for p in props if isinstance(p, dict)}
        return dict(props)

    # -- statements -----------------------------------------------------------------------

    def ksql(self, ksql_string: str, stream_properties: dict[str, Any] | None = None) -> Any:
        """Run statements; returns the server's list of entities (raises KSQLError)."""
        return self._call(self._client.ksql, ksql_string, properties=stream_properties)

    def query(
        self,
        query_string: str,
        encoding: str = "utf-8",
        chunk_size: int = 128,
        stream_properties: dict[str, Any] | None = None,
        idle_timeout: float | None = None,
        use_http2: bool | None = None,
        return_objects: bool | None = None,
        parse: bool = False,
    ) -> Iterator[Any]:
        """A push query as a generator.

        Default (like ksql-python over HTTP/1.1, `/query`): one JSON text per message
        (header, rows, final message). `use_http2=True` (ksql-python-ng): `/query-stream`,
        whose header carries `queryId` and `columnNames` and whose rows are JSON arrays.
        `return_objects=True` or `parse=True`: one dict per row, column name -> value.
        No read timeout unless `idle_timeout` is given: a quiet query stays open.
        """
        del encoding, chunk_size  # kept for signature compatibility
        if use_http2:
            yield from self._query_stream(
                query_string, stream_properties, idle_timeout, bool(return_objects or parse)
            )
            return
        return_objects = return_objects or parse
        events = self._client.query(
            query_string, properties=stream_properties, timeout=idle_timeout
        )
        columns: list[str] = []
        try:
            for event in events:
                if isinstance(event, QueryHeader):
                    columns = event.columns
                    if not return_objects:
                        schema = ", ".join(
                            f"`{c}` {t}" for c, t in zip(event.columns, event.types, strict=False)
                        )
                        yield json.dumps({"header": {"queryId": event.query_id, "schema": schema}})
                elif isinstance(event, QueryFinal):
                    if event.is_error:
                        raise KSQLError(event.message)
                    if not return_objects:
                        yield json.dumps({"finalMessage": event.message})
                elif return_objects:
                    yield dict(zip(columns, event, strict=False))
                else:
                    yield json.dumps({"row": {"columns": event}})
        except KsqlServerError as exc:
            raise KSQLError(exc.message, exc.error_code) from exc

    def _query_stream(
        self,
        sql: str,
        properties: dict[str, Any] | None,
        idle_timeout: float | None,
        as_objects: bool,
    ) -> Iterator[Any]:
        columns: list[str] = []
        try:
            for event in self._client.query_stream(
                sql, properties=properties, timeout=idle_timeout
            ):
                if isinstance(event, QueryHeader):
                    columns = event.columns
                    if not as_objects:
                        yield json.dumps(
                            {
                                "queryId": event.query_id,
                                "columnNames": event.columns,
                                "columnTypes": event.types,
                            }
                        )
                elif isinstance(event, QueryFinal):
                    if event.is_error:
                        raise KSQLError(event.message)
                elif as_objects:
                    yield dict(zip(columns, event, strict=False))
                else:
                    yield json.dumps(event)
        except KsqlServerError as exc:
            raise KSQLError(exc.message, exc.error_code) from exc

    def close_query(self, query_id: str) -> bool:
        """`/close-query`: True when the query was closed, False when the server knows no
        such query (ksql-python's contract)."""
        try:
            self._client.close_query(query_id)
        except KsqlServerError as exc:
            if exc.status_code == 400:
                return False
            raise KSQLError(exc.message, exc.error_code) from exc
        return True

    def inserts_stream(self, stream_name: str, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """`/inserts-stream`: the server's acks, one per row (an error ack ends the list)."""
        try:
            return self._client.inserts_stream(stream_name, rows)
        except KsqlServerError as exc:
            if isinstance(exc.body, list):
                return list(exc.body)
            raise KSQLError(exc.message, exc.error_code) from exc

    def stream(
        self, query_string: str, stream_properties: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """A push query as a generator of dicts (the notebook-friendly form)."""
        yield from self.query(
            query_string, stream_properties=stream_properties, return_objects=True
        )

    # -- builders (ksql-python's SimplifiedAPI) -------------------------------------------

    def create_stream(
        self,
        table_name: str,
        columns_type: Sequence[str],
        topic: str,
        value_format: str = "JSON",
        key_format: str | None = None,
        partitions: int | None = None,
    ) -> bool:
        """`CREATE STREAM name (cols) WITH (...)`; a column typed `... KEY` reads the key."""
        self.ksql(
            _create_sql(
                "STREAM", table_name, columns_type, topic, value_format, key_format, partitions
            )
        )
        return True

    def create_table(
        self,
        table_name: str,
        columns_type: Sequence[str],
        topic: str,
        value_format: str = "JSON",
        key: str | None = None,
        key_format: str | None = None,
        partitions: int | None = None,
    ) -> bool:
        """`CREATE TABLE`; ksql-python's `key=` becomes `PRIMARY KEY` on that column."""
        cols = list(columns_type)
        if key is not None:
            cols = [_mark_primary_key(c, key) for c in cols]
        self.ksql(
            _create_sql("TABLE", table_name, cols, topic, value_format, key_format, partitions)
        )
        return True

    def create_stream_as(
        self,
        table_name: str,
        select_columns: Sequence[str],
        src_table: str,
        kafka_topic: str | None = None,
        value_format: str = "JSON",
        conditions: str | Sequence[str] = (),
        partition_by: str | None = None,
        **kwargs: Any,
    ) -> bool:
        """`CREATE STREAM name WITH (...) AS SELECT cols FROM src [WHERE ...] [PARTITION BY]`."""
        props = [f"KAFKA_TOPIC='{kafka_topic or table_name}'", f"VALUE_FORMAT='{value_format}'"]
        for k, v in kwargs.items():
            if v is not None:
                props.append(f"{k.upper()}={_literal(v)}")
        sql = (
            f"CREATE STREAM {table_name} WITH ({', '.join(props)}) AS SELECT "
            f"{', '.join(select_columns)} FROM {src_table}"
        )
        where = conditions if isinstance(conditions, str) else " AND ".join(conditions)
        if where:
            sql += f" WHERE {where}"
        if partition_by:
            sql += f" PARTITION BY {partition_by}"
        self.ksql(sql + " EMIT CHANGES;")
        return True

    def drop_stream(self, name: str, delete_topic: bool = False) -> Any:
        suffix = " DELETE TOPIC" if delete_topic else ""
        return self.ksql(f"DROP STREAM IF EXISTS {name}{suffix};")

    def close(self) -> None:
        self._client.close()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KsqlServerError as exc:
            raise KSQLError(exc.message, exc.error_code) from exc


def _create_sql(
    kind: str,
    name: str,
    columns: Sequence[str],
    topic: str,
    value_format: str,
    key_format: str | None,
    partitions: int | None,
) -> str:
    props = [f"KAFKA_TOPIC='{topic}'", f"VALUE_FORMAT='{value_format}'"]
    if key_format:
        props.append(f"KEY_FORMAT='{key_format}'")
    if partitions is not None:
        props.append(f"PARTITIONS={int(partitions)}")
    return f"CREATE {kind} {name} ({', '.join(columns)}) WITH ({', '.join(props)});"


def _mark_primary_key(column: str, key: str) -> str:
    name = column.split(None, 1)[0]
    if name.strip("`").upper() == key.strip("`").upper() and "KEY" not in column.upper().split():
        return f"{column} PRIMARY KEY"
    return column


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
