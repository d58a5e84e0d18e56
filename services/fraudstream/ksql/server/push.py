"""One running push query (`SELECT ... EMIT CHANGES`): a Kafka loop in a thread, rows out.

`PushSession` runs the engine's planned `TransientQuery` through the runtime's
`PushQueryRunner` in a daemon thread and hands its rows to the HTTP handler through a bounded
queue; the handler's `iter_rows` ends when the LIMIT is reached, the client goes away or
`/close-query` names it (`OpenQueries`, the server's push queries by id).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator
from typing import Any

from fraudstream.ksql.engine.topology import TransientQuery, TransientRow
from fraudstream.ksql.server.runtime import PushQueryRunner

__all__ = ["HEARTBEAT", "OpenQueries", "PushSession"]

HEARTBEAT: list[Any] = []
"""Yielded (by identity) by `iter_rows(heartbeat=...)` while a query is quiet."""

log = logging.getLogger(__name__)


class PushSession:
    """One running push query: a Kafka loop in a thread feeding a bounded row queue."""

    def __init__(
        self,
        tq: TransientQuery,
        *,
        limit: int | None,
        bootstrap: str,
        group_id: str,
        offset_reset: str,
        table_topics: list[str],
    ) -> None:
        self.tq = tq
        self.limit = limit
        self.query_id = tq.id
        self.columns: list[tuple[str, str]] = [(c.name, str(c.type)) for c in tq.schema]
        self.rows: queue.Queue[list[Any]] = queue.Queue(maxsize=10_000)
        self.count = 0
        self.runner = PushQueryRunner(
            tq,
            bootstrap=bootstrap,
            group_id=group_id,
            offset_reset=offset_reset,
            table_topics=table_topics,
        )
        self.thread = threading.Thread(
            target=self.runner.run, args=(self._emit,), name=f"push-{self.query_id}", daemon=True
        )

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.runner.stop()

    def _emit(self, row: TransientRow) -> bool:
        """Queue one row (waiting while the queue is full); False once the LIMIT is reached."""
        while not self.runner.stopped:
            try:
                self.rows.put(row.values, timeout=0.2)
                break
            except queue.Full:
                continue
        self.count += 1
        return not self.limit_reached

    async def iter_rows(self, heartbeat: float | None = None) -> AsyncIterator[list[Any] | None]:
        """Rows as they come; None when the query ended (limit reached or stopped).

        With `heartbeat`, a quiet query yields `HEARTBEAT` every that many seconds: the
        caller writes a keep-alive, and a client that went away is noticed by the failed
        write (an HTTP/1.1 server reads nothing more while it streams a response).
        """
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while True:
                try:
                    yield self.rows.get_nowait()
                    last = loop.time()
                    continue
                except queue.Empty:
                    pass
                if not self.thread.is_alive():
                    while not self.rows.empty():
                        yield self.rows.get_nowait()
                    yield None
                    return
                if heartbeat is not None and loop.time() - last >= heartbeat:
                    last = loop.time()
                    yield HEARTBEAT
                await asyncio.sleep(0.02)
        finally:
            self.close()


class OpenQueries:
    """The running push queries by id, so `/close-query` can end one from another request."""

    def __init__(self) -> None:
        self._sessions: dict[str, PushSession] = {}
        self._lock = threading.Lock()

    def add(self, session: PushSession) -> None:
        with self._lock:
            self._sessions[session.query_id] = session

    def discard(self, session: PushSession) -> None:
        with self._lock:
            if self._sessions.get(session.query_id) is session:
                del self._sessions[session.query_id]

    def close(self, query_id: str) -> bool:
        """Stop the query (its stream then ends); False when no such query runs."""
        with self._lock:
            session = self._sessions.pop(query_id, None)
        if session is None:
            return False
        session.close()
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
