"""A stand-in for `confluent_kafka.Message` in unit tests and benchmarks without a broker.

One class for every test that needs a consumed record (decoders, ledgers, runners), so a new
accessor the code starts reading is added once. Positional order (value, offset, key,
headers) is the decoders' common case; everything else is a keyword."""

from __future__ import annotations

from typing import Any

__all__ = ["Msg"]

TIMESTAMP_CREATE_TIME = 1


class Msg:
    """The accessors of `confluent_kafka.Message` the project reads, over plain fields."""

    __slots__ = ("_error", "_headers", "_key", "_offset", "_partition", "_topic", "_ts", "_value")

    def __init__(
        self,
        value: bytes | None = None,
        offset: int = 0,
        key: bytes | None = b"k",
        headers: list[tuple[str, bytes]] | None = None,
        *,
        topic: str = "in",
        partition: int = 0,
        timestamp: tuple[int, int] = (TIMESTAMP_CREATE_TIME, 1),
        error: Any = None,
    ) -> None:
        self._value, self._offset, self._key, self._headers = value, offset, key, headers
        self._topic, self._partition, self._ts, self._error = topic, partition, timestamp, error

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return self._ts

    def error(self) -> Any:
        return self._error

    def __repr__(self) -> str:
        return f"Msg({self._topic}[{self._partition}]@{self._offset})"
