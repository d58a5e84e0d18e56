"""The KAFKA format (Kafka's primitive serializers: big-endian INT/BIGINT/DOUBLE, UTF-8
strings, raw bytes) and Kafka Streams' windowed-key suffix."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from fraudstream.errors import SerdeError
from fraudstream.ksql.engine.formats.spec import Column, Serde, Values
from fraudstream.ksql.errors import KsqlStatementError
from fraudstream.ksql.sql import types as T

__all__ = ["default_partition", "kafka_serde", "murmur2", "window_suffix"]

_PACK = {
    T.INTEGER: struct.Struct(">i"),
    T.BIGINT: struct.Struct(">q"),
    T.DOUBLE: struct.Struct(">d"),
}


def kafka_serde(columns: Sequence[Column], is_key: bool) -> Serde:
    if not columns:
        return Serde(lambda v: None, lambda b: [])
    if len(columns) > 1:
        raise KsqlStatementError("The 'KAFKA' format only supports a single field.")
    t = columns[0][1]
    st = _PACK.get(t.base)
    if st is not None:
        size = st.size
        tname = t.base

        def ser(values: Sequence[Any]) -> bytes | None:
            v = values[0]
            return None if v is None else st.pack(v)

        def de(data: bytes) -> Values:
            if len(data) != size:
                kind = {T.BIGINT: "Long", T.INTEGER: "Integer"}.get(tname, "Double")
                raise SerdeError(f"Size of data received by {kind}Deserializer is not {size}")
            return [st.unpack(data)[0]]

        return Serde(ser, de)
    if t.base == T.STRING:
        return Serde(
            lambda v: None if v[0] is None else v[0].encode(),
            lambda b: [b.decode("utf-8", errors="replace")],
        )
    if t.base == T.BYTES:
        return Serde(lambda v: v[0], lambda b: [bytes(b)])
    raise KsqlStatementError(f"The 'KAFKA' format does not support type '{t.base}'")


def window_suffix(start: int, end: int, session: bool) -> bytes:
    """Kafka Streams windowed-key suffix: time windows `start`, sessions `end` + `start`."""
    if session:
        return struct.pack(">qq", end, start)
    return struct.pack(">q", start)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's default partitioner)."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        (k,) = struct.unpack_from("<I", data, i * 4)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[n4 * 4 :]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def default_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % max(partitions, 1)
