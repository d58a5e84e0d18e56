"""No raw user id leaves the scorer: JSON input is masked as KSQL's `MASK_LEFT(User, 2)`.

The architecture keeps raw user names inside KSQL; its live stream carries
`MASK_LEFT(User, 2)`. With `--input-format json` the scorer reads the raw source topic
instead, so it applies the same function (the KSQL engine's own `mask_left`) before anything
is written: the users of scores and alerts, and every part of a dead letter (key = the
source key, which is the raw user; the value's `User` field; copied headers; the reason
text, which also reaches the logs). The pseudonym is stable: the same user always gets the
same masked id, exactly as in KSQL's outputs (docs/security.md says what that protects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from fraudstream.ksql.engine.functions import mask_left
from fraudstream.serde.ksql_records import RecordBatch, RecordDecoder, Reject

__all__ = ["MASKED_CHARS", "MaskingDecoder", "mask_user"]

MASKED_CHARS = 2  # MASK_LEFT(User, 2) in the KSQL statements (ksql/statements)
_USER_KEYS = frozenset({"USER", "USERID"})
_MIN_SCRUB = 3  # shorter ids are masked where they are a field, not searched in bytes


def mask_user(user: str) -> str:
    """`MASK_LEFT(user, 2)` as KSQL computes it."""
    return mask_left(user, MASKED_CHARS)


@dataclass(frozen=True)
class _MaskedMessage:
    """A dead letter's source message with every raw user replaced (what the DLQ sees)."""

    _key: bytes | None
    _value: bytes | None
    _headers: list[tuple[str, bytes]] | None
    _topic: str | None
    _partition: int
    _offset: int

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def topic(self) -> str | None:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class _Scrubber:
    """Replaces the raw users of one record: known ones (key, `User` field) everywhere."""

    def __init__(self) -> None:
        self.raw: dict[str, str] = {}

    def learn(self, user: str) -> str:
        masked = self.raw.get(user)
        if masked is None:
            masked = self.raw[user] = mask_user(user)
        return masked

    def text(self, s: str) -> str:
        for raw, masked in self._longest_first():
            s = s.replace(raw, masked)
        return s

    def data(self, b: bytes) -> bytes:
        for raw, masked in self._longest_first():
            b = b.replace(raw.encode("utf-8"), masked.encode("utf-8"))
        return b

    def _longest_first(self) -> list[tuple[str, str]]:
        pairs = [(r, m) for r, m in self.raw.items() if len(r) >= _MIN_SCRUB and r != m]
        return sorted(pairs, key=lambda p: -len(p[0]))


def _mask_value(value: bytes, scrub: _Scrubber) -> bytes:
    """The JSON event with its User masked (then any other copy of a known raw user)."""
    try:
        obj: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        changed = False
        for k, v in obj.items():
            if str(k).upper() in _USER_KEYS and isinstance(v, str):
                obj[k] = scrub.learn(v)
                changed = True
        if changed:
            value = orjson.dumps(obj)
    return scrub.data(value)


def scrub_reject(d: Reject) -> Reject:
    """`d` with its message and reason free of raw users (the source key is the user)."""
    m = d.msg
    scrub = _Scrubber()
    key = m.key()
    masked_key: bytes | None = None
    if key is not None:
        masked_key = scrub.learn(key.decode("utf-8", "replace")).encode("utf-8")
    value = m.value()
    masked_value = None if value is None else _mask_value(value, scrub)
    headers = [(name, scrub.data(v or b"")) for name, v in (m.headers() or [])]
    msg = _MaskedMessage(
        masked_key, masked_value, headers or None, m.topic(), m.partition(), m.offset()
    )
    return Reject(msg, d.reason, scrub.text(d.detail))


class MaskingDecoder(RecordDecoder):
    """The JSON input decoder of the scorer: users masked, dead letters scrubbed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("json", None, **kwargs)
        self._masked: dict[str, str] = {}

    def _mask(self, user: str | None) -> str | None:
        if user is None:
            return None
        masked = self._masked.get(user)
        if masked is None:
            if len(self._masked) > 100_000:
                self._masked.clear()
            masked = self._masked[user] = mask_user(user)
        return masked

    def decode(self, msgs: Sequence[Any]) -> RecordBatch:
        batch = super().decode(msgs)
        batch.users = [self._mask(u) for u in batch.users]
        batch.dead = [scrub_reject(d) for d in batch.dead]
        return batch
