"""Query state stores with change tracking, so aggregate state survives a restart.

A stateful query (GROUP BY, windowed or not) keeps its state in `StateStore`s. The engine
itself stays pure and in-memory; when the Kafka runtime runs the query it calls `track()`,
then after each batch `drain()`s the keys that changed and writes them to the query's
compacted changelog topic (a tombstone for a deleted key, e.g. an evicted window). A
restarted runtime reads that topic back with `restore()` before it resumes from the
committed offsets, like a ksqlDB state store restored from its changelog.

Keys and values are encoded as tagged JSON (`encode_state` / `decode_state`): the
accumulators hold ints, floats, strings, Decimals, bytes, tuples, lists, dicts and sets,
which plain JSON cannot tell apart. No pickle: the topic is read back into the process.
"""

from __future__ import annotations

import base64
import math
import struct
from decimal import Decimal
from typing import Any

import orjson

from fraudstream.errors import SerdeError


class StateStore:
    """One named key -> value map of a query's state."""

    def __init__(self, name: str, data: dict[Any, Any] | None = None) -> None:
        self.name = name
        self.data: dict[Any, Any] = {} if data is None else data
        self.dirty: set[Any] | None = None  # None: nobody writes a changelog

    def track(self) -> None:
        """Start recording changed keys (the runtime drains them after each batch)."""
        if self.dirty is None:
            self.dirty = set()

    def drain(self) -> list[tuple[Any, Any, bool]]:
        """(key, value, deleted) for every key changed since the last drain."""
        if not self.dirty:
            return []
        data = self.data
        out = [(k, data.get(k), k not in data) for k in self.dirty]
        self.dirty.clear()
        return out

    def restore(self, key: Any, value: Any, deleted: bool) -> None:
        if deleted:
            self.data.pop(key, None)
        else:
            self.data[key] = value


def changelog_key(store: str, key: Any) -> bytes:
    return encode_state([store, key])


def changelog_entry(raw_key: bytes, raw_value: bytes | None) -> tuple[str, Any, Any, bool]:
    """(store name, key, value, deleted) of one changelog record."""
    store, key = decode_state(raw_key)
    if raw_value is None:
        return str(store), key, None, True
    return str(store), key, decode_state(raw_value), False


def encode_state(v: Any) -> bytes:
    return orjson.dumps(_tag(v))


def decode_state(raw: bytes) -> Any:
    try:
        return _untag(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SerdeError(f"bad state changelog record: {exc}") from None


def _tag(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$f": repr(v)}
    if isinstance(v, list):
        return [_tag(x) for x in v]
    if isinstance(v, tuple):
        return {"$t": [_tag(x) for x in v]}
    if isinstance(v, Decimal):
        return {"$D": str(v)}
    if isinstance(v, bytes):
        return {"$b": base64.b64encode(v).decode("ascii")}
    if isinstance(v, dict):
        return {"$d": [[_tag(k), _tag(x)] for k, x in v.items()]}
    if isinstance(v, set | frozenset):
        return {"$s": [_tag(x) for x in v], "frozen": isinstance(v, frozenset)}
    raise SerdeError(f"cannot write {type(v).__name__} to a state changelog")


def _untag(v: Any) -> Any:
    if isinstance(v, list):
        return [_untag(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "$t" in v:
        return tuple(_untag(x) for x in v["$t"])
    if "$D" in v:
        return Decimal(v["$D"])
    if "$f" in v:
        return float(v["$f"])
    if "$b" in v:
        return base64.b64decode(v["$b"])
    if "$d" in v:
        return {_untag(k): _untag(x) for k, x in v["$d"]}
    if "$s" in v:
        items = [_untag(x) for x in v["$s"]]
        return frozenset(items) if v.get("frozen") else set(items)
    raise ValueError(f"unknown tag in {sorted(v)}")


_TS = struct.Struct(">q")


_KEPT = "rows_kept"


class MaterializedTable(StateStore):
    """The rows of a table a persistent query writes (a CTAS sink), as pull queries read it:
    serialized key -> the record timestamp (8 bytes, big-endian) + the serialized value, the
    latest record of each key.

    Keys stay in their wire form (the sink serialized them; a key lookup serializes its
    literal with the same serde), so keeping the table costs one dict write per output record
    and no decoding; a row is one bytes object, which the garbage collector never visits (a
    large table does not slow its query down) and which a reader sees whole. For a windowed
    table `windows` indexes the keys without their window suffix (`suffix` bytes: 8 for time
    windows, 16 for session windows), so a key lookup is a dict lookup there too. The store
    is a `StateStore`: the runtime writes its changes to the query's changelog and restores
    them, like the aggregate state.
    """

    def __init__(self, name: str, suffix: int = 0) -> None:
        super().__init__(name)
        self.suffix = suffix
        self.windows: dict[bytes, set[bytes]] = {}
        # one changelog entry saying "rows kept from the query's first record on"; a table
        # without it whose query already ran was written by a version that kept no rows
        self.meta = StateStore(f"{name}_meta")
        self.incomplete: str | None = None  # why pull queries cannot trust the rows

    def begin(self, processed_before: bool) -> None:
        """After the state restore: mark the rows kept from now on, or, when the query ran
        before without keeping them (`processed_before` and no mark in the changelog), refuse
        pull queries rather than answer from the keys updated since."""
        if _KEPT in self.meta.data:
            return
        if processed_before:
            self.incomplete = (
                "its rows were not kept by the version of the engine that ran its query before"
                " (no record of them in the state changelog): drop and recreate the table, or"
                " reset its query's changelog topic, to answer pull queries"
            )
            return
        self.meta.data[_KEPT] = 1
        if self.meta.dirty is not None:
            self.meta.dirty.add(_KEPT)

    def put(self, key: bytes | None, value: bytes | None, timestamp: int) -> None:
        """One record of the table's topic: a value replaces the key's row, a tombstone
        deletes it."""
        k = b"" if key is None else key
        data = self.data
        if value is None:
            if k not in data:
                return
            self._delete(k)
        else:  # the per-record path of every table query
            if self.suffix and k not in data:
                self._index(k)
            data[k] = _TS.pack(timestamp) + value
        if self.dirty is not None:
            self.dirty.add(k)

    def restore(self, key: Any, value: Any, deleted: bool) -> None:
        if deleted:
            self._delete(key)
            return
        if self.suffix and key not in self.data:
            self._index(key)
        self.data[key] = value

    def _index(self, key: bytes) -> None:
        base = key[: -self.suffix]
        keys = self.windows.get(base)
        if keys is None:
            self.windows[base] = {key}
        else:
            keys.add(key)

    def _delete(self, key: bytes) -> None:
        self.data.pop(key, None)
        if self.suffix:
            base = key[: -self.suffix]
            keys = self.windows.get(base)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.windows[base]

    def lookup(self, key: bytes) -> list[tuple[bytes, bytes, int]]:
        """(key, value, timestamp) of one key: its row, or every window of it."""
        data = self.data
        found = sorted(self.windows.get(key, ())) if self.suffix else [key]
        out = []
        for k in found:
            row = data.get(k)
            if row is not None:  # a window may be deleted between the index and here
                out.append((k, row[8:], _TS.unpack_from(row)[0]))
        return out

    def snapshot(self) -> list[tuple[bytes, bytes, int]]:
        """Every row, read at one instant (a dict copy is atomic under the GIL, so a runtime
        thread writing meanwhile never shows a half-applied record)."""
        data = self.data.copy()
        return [(k, row[8:], _TS.unpack_from(row)[0]) for k, row in data.items()]
