"""The one decoder of KSQL's flat event records, for the scorer and the trainer.

KSQL's live and preprocessed streams carry one card event per record (`ID`, `TIMESTAMP`,
`USERID`, `CLASS`, `TIME`, `V1`..`V28`, `AMOUNT`; Confluent-framed Avro, field names
matched case-insensitively); the scorer may also read raw JSON events. Whatever the
format, a batch becomes one `RecordBatch`: aligned ids, users, labels, event times and a
float matrix of `NUMERIC_COLUMNS`, plus every record that cannot be used as a `Reject`
with a reason from `serde.errors.REASONS` (decode_error, schema_not_found, missing_field,
wrong_type, invalid_value) and a detail. A bad record never raises out of `decode`; only a
registry outage does (`RegistryUnavailableError`: transient, the caller retries).

Two profiles share the algorithm:
- `identity=True` (the scorer): `ID` and `TIMESTAMP` are required and checked (Id >= 0,
  an ISO-8601 time); the label column may be absent.
- `identity=False, require_label=True` (the trainer): only the numbers and the label
  matter; `strict_schema=True` raises (a `SerdeFailure`) on a writer schema that lacks a
  column instead of rejecting every record written with it.

Records of a flat writer schema are decoded a whole batch at a time by
`serde.flatavro.FlatPlan`; the records it does not vouch for are read one by one with
fastavro, which names what is wrong, so a record gets the same reason on either path.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import fastavro
import numpy as np
import orjson
from numpy.typing import NDArray

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.serde import wire
from fraudstream.serde.errors import (
    MissingFieldError,
    Reason,
    SchemaNotFoundError,
    SerdeFailure,
    WrongTypeError,
)
from fraudstream.serde.flatavro import FlatBatch, FlatDecodeError, FlatPlan, decode_one, field_types
from fraudstream.serde.limits import INT64_MAX, DecodeLimits, Limit, decode_limits

__all__ = [
    "COLUMNS",
    "NUMERIC_COLUMNS",
    "DecodeLimits",
    "Message",
    "RecordBatch",
    "RecordDecoder",
    "Reject",
    "WriterSchemas",
    "parse_event_time_ms",
    "parse_times_ms",
    "plan_for_schema",
]

log = logging.getLogger(__name__)

# Every column read from an event: Id, Timestamp, User, Class, then NUMERIC_COLUMNS.
COLUMNS: tuple[str | tuple[str, ...], ...] = (
    "Id",
    "Timestamp",
    ("User", "UserId"),
    "Class",
    *NUMERIC_COLUMNS,
)
_ID, _TS, _USER, _LABEL = 0, 1, 2, 3
_NUM0 = 4  # index of the first numeric column in a decoded row
_END = len(COLUMNS)
_NAMES: tuple[str, ...] = tuple(c if isinstance(c, str) else c[0] for c in COLUMNS)
_NUMERIC_TYPES = {"int", "long", "float", "double"}
_EXPECTED: dict[int, set[str]] = {
    _ID: {"int", "long"},
    _TS: {"string"},
    _USER: {"string"},
    _LABEL: {"int", "long"},
    **{i: _NUMERIC_TYPES for i in range(_NUM0, _END)},
}
# The fast path's columns: numeric Id, Class, then NUMERIC_COLUMNS; text Timestamp, User.
_FAST_NUMERIC: tuple[str, ...] = ("Id", "Class", *NUMERIC_COLUMNS)
_FAST_TEXT: tuple[str | tuple[str, ...], ...] = ("Timestamp", ("User", "UserId"))
_AMOUNT = NUMERIC_COLUMNS.index("Amount")
_SHAPE_ERRORS: dict[Reason, type[SerdeFailure]] = {
    "missing_field": MissingFieldError,
    "wrong_type": WrongTypeError,
    "schema_not_found": SchemaNotFoundError,
}


class Message(Protocol):
    """The part of `confluent_kafka.Message` the decoder and its callers use."""

    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...


class WriterSchemas(Protocol):
    """Writer schemas by id: `serde.registry_client.RegistryClient` (or a test double).

    `schema` raises a `SerdeFailure` for an id that cannot be used (schema_not_found,
    wrong_type) and `RegistryUnavailableError` when the registry does not answer."""

    def schema(self, schema_id: int) -> dict[str, Any]: ...


@dataclass
class Reject:
    """A record that cannot be used, and why (`reason` is one of `serde.errors.REASONS`)."""

    msg: Any
    reason: Reason
    detail: str
    limit: Limit | None = None  # the decode limit that refused it, if one did


@dataclass
class RecordBatch:
    """Usable rows of one batch (aligned lists/arrays) and the rejected records."""

    msgs: list[Any] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    users: list[str | None] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    event_ms: list[int] = field(default_factory=list)
    numeric: NDArray[np.float64] = field(
        default_factory=lambda: np.empty((0, len(NUMERIC_COLUMNS)), dtype=np.float64)
    )
    dead: list[Reject] = field(default_factory=list)

    def __len__(self) -> int:
        # `labels` is filled in both profiles and kept when a caller frees `msgs` early
        return len(self.labels)

    def reasons(self) -> Counter[str]:
        """How many records were rejected, by reason."""
        return Counter(d.reason for d in self.dead)

    def refusals(self) -> Counter[str]:
        """How many records a decode limit refused, by limit."""
        return Counter(d.limit for d in self.dead if d.limit is not None)

    def keep(self, mask: NDArray[np.bool_], reason: Reason, why: Sequence[str]) -> None:
        """Drop the rows where `mask` is False into rejects (`why[i]` per dropped row)."""
        if bool(mask.all()):
            return
        for i in np.flatnonzero(~mask).tolist():
            self.dead.append(Reject(self.msgs[i], reason, why[i]))
        good = np.flatnonzero(mask).tolist()
        self.msgs = [self.msgs[i] for i in good]
        if self.ids:
            self.ids = [self.ids[i] for i in good]
            self.users = [self.users[i] for i in good]
            self.event_ms = [self.event_ms[i] for i in good]
        self.labels = [self.labels[i] for i in good]
        self.numeric = self.numeric[mask]


def parse_event_time_ms(ts: str) -> int:
    """ISO-8601 -> epoch milliseconds (naive times are UTC). ValueError if unparsable."""
    dt = datetime.fromisoformat(ts)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_times_ms(stamps: list[str]) -> tuple[list[int], list[int]]:
    """ISO-8601 strings -> epoch ms, plus the positions that did not parse.

    numpy parses a whole batch in C (~40 ns/row vs ~1-5 us for datetime); UTC 'Z' is
    stripped first. Anything numpy refuses (offsets, junk) goes through `fromisoformat`.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            arr = np.array([s[:-1] if s[-1:] == "Z" else s for s in stamps], dtype="datetime64[ms]")
        if not bool(np.isnat(arr).any()):
            return arr.astype(np.int64).tolist(), []
    except (ValueError, TypeError, UserWarning, DeprecationWarning, OverflowError):
        pass
    ms: list[int] = []
    bad: list[int] = []
    for i, s in enumerate(stamps):
        try:
            ms.append(parse_event_time_ms(s))
        except (ValueError, TypeError, OverflowError):
            ms.append(0)
            bad.append(i)
    return ms, bad


@dataclass
class _Fast:
    """Rows of a batch decoded by the vectorized path (`pick`: which rows of `batch`)."""

    rows: list[int]  # positions in the batch's message list
    batch: FlatBatch
    label: NDArray[np.int64]
    pick: NDArray[np.intp] | None


def _prim_of(t: Any) -> str | None:
    """The value type of a primitive or `[null, primitive]` field, else None."""
    branches = field_types(t)
    if branches is None or len(branches) > 2:
        return None
    values = [b for b in branches if b != "null"]
    return values[0] if len(values) == 1 else None


def _bounded(t: Any) -> bool:
    """A primitive, enum or fixed type, or a union of them: a value of bounded size that
    holds no collection and no nested record."""
    for o in t if isinstance(t, list) else [t]:
        if field_types(o) is not None:
            continue
        if not (isinstance(o, dict) and o.get("type") in ("enum", "fixed")):
            return False
    return True


class _Plan:
    """How to read records written with one schema id (or why they cannot be read)."""

    __slots__ = ("columns", "detail", "flat", "parsed", "reason", "schema")

    def __init__(
        self,
        parsed: Any = None,
        reason: Reason | None = None,
        detail: str = "",
        flat: FlatPlan | None = None,
        columns: dict[str, int] | None = None,
        schema: dict[str, Any] | None = None,
    ):
        self.parsed = parsed  # fastavro's parsed writer schema (the per-record path)
        self.reason = reason
        self.detail = detail
        self.flat = flat  # whole-batch vectorized plan (fast path), when the schema is flat
        self.columns = columns or {}  # upper-cased field name -> position in COLUMNS
        self.schema = schema


def _required(identity: bool, require_label: bool) -> tuple[int, ...]:
    head = (_ID, _TS) if identity else ()
    return (*head, *((_LABEL,) if require_label else ()), *range(_NUM0, _END))


def plan_for_schema(
    schema: dict[str, Any],
    schema_id: int,
    *,
    identity: bool = True,
    require_label: bool = False,
) -> _Plan:
    """Check the writer schema has every required column with a usable type, then plan
    the decode (a plan with a `reason` refuses every record written with the schema)."""
    if schema.get("type") != "record":
        return _Plan(None, "wrong_type", f"schema id {schema_id} is not a record")
    for f in schema.get("fields", []):
        # Only flat records are decoded: an array, map or nested record could claim any
        # number of items in a few bytes, and fastavro would allocate them all.
        if not isinstance(f, dict) or not _bounded(f.get("type")):
            name = f.get("name") if isinstance(f, dict) else f
            return _Plan(
                None,
                "unexpected_schema",
                f"schema id {schema_id}: field {name} is not a primitive or a union of "
                "primitives (only flat records are decoded)",
            )
    required = _required(identity, require_label)
    used = set(required) | {_LABEL, *((_USER,) if identity else ())}
    by_upper = {str(f.get("name", "")).upper(): f for f in schema.get("fields", [])}
    columns: dict[str, int] = {}
    missing: list[str] = []
    for i, col in enumerate(COLUMNS):
        if i not in used:
            continue
        names = (col,) if isinstance(col, str) else col
        f = next((by_upper[n.upper()] for n in names if n.upper() in by_upper), None)
        if f is None:
            if i in required:
                missing.append(names[0])
            continue
        columns[str(f.get("name")).upper()] = i
        prim = _prim_of(f.get("type"))
        if prim not in _EXPECTED[i]:
            return _Plan(
                None,
                "wrong_type",
                f"schema id {schema_id}: field {f.get('name')} is {f.get('type')!r}, "
                f"expected one of {sorted(_EXPECTED[i])}",
            )
    if missing:
        name = schema.get("name")
        return _Plan(
            None,
            "missing_field",
            f"schema id {schema_id} ({name}) lacks fields the model needs: {', '.join(missing)} "
            "(matched case-insensitively)",
        )
    try:
        parsed = fastavro.parse_schema(schema)
        text = _FAST_TEXT if identity else ()
        flat = FlatPlan.build(schema, _FAST_NUMERIC, text, require_all=False)
    except Exception as exc:  # an unparsable schema is the writer's fault, not ours
        return _Plan(None, "schema_not_found", f"schema id {schema_id} unusable: {exc}")
    return _Plan(parsed, flat=flat, columns=columns, schema=schema)


class RecordDecoder:
    """Turns a list of messages into a `RecordBatch` (Avro with a registry, or JSON)."""

    def __init__(
        self,
        input_format: str = "avro",
        schemas: WriterSchemas | None = None,
        *,
        identity: bool = True,
        require_label: bool = False,
        strict_schema: bool = False,
        limits: DecodeLimits | None = None,
    ) -> None:
        if input_format not in ("avro", "json"):
            raise ValueError(f"input_format must be avro or json, got {input_format!r}")
        if input_format == "avro" and schemas is None:
            raise ValueError("Avro input needs writer schemas (a RegistryClient)")
        self.input_format = input_format
        self._schemas = schemas
        self.identity = identity
        self.require_label = require_label
        self.strict_schema = strict_schema
        self.limits = limits or decode_limits()
        self._required = _required(identity, require_label)
        self._plans: dict[int, _Plan] = {}

    def writer_schemas(self) -> dict[int, dict[str, Any]]:
        """The usable writer schemas seen so far, by id (the trainer's lineage)."""
        return {i: p.schema for i, p in self._plans.items() if p.schema is not None}

    def prepare(self, schema_id: int) -> bool:
        """Fetch and plan writer schema `schema_id` now (True: its records are decodable),
        so the first record written with it does not wait for the registry. Registry errors
        propagate as in `decode`."""
        if self.input_format != "avro":
            return False
        return self._plan(schema_id).reason is None

    def _plan(self, schema_id: int) -> _Plan:
        plan = self._plans.get(schema_id)
        if plan is None:
            assert self._schemas is not None
            try:
                schema = self._schemas.schema(schema_id)
            except SerdeFailure as exc:
                # Not cached here: a schema registered later is picked up once the
                # registry client's miss cache expires.
                return _Plan(None, exc.reason, str(exc))
            plan = plan_for_schema(
                schema, schema_id, identity=self.identity, require_label=self.require_label
            )
            if plan.reason is not None:
                if self.strict_schema and plan.reason != "unexpected_schema":
                    raise _SHAPE_ERRORS.get(plan.reason, SerdeFailure)(plan.detail)
                # Refused once per id: the plan is cached, every record of it is rejected.
                log.warning("refusing writer schema (%s): %s", plan.reason, plan.detail)
            self._plans[schema_id] = plan
        return plan

    def _fast(
        self, msgs: Sequence[Any], vals: list[Any] | None = None
    ) -> tuple[list[_Fast], list[Any]]:
        """Vectorized decode of every record whose schema has a flat plan: the parts it
        vouches for, and the messages left for the per-record path (which names the
        reason, or reads records the fast path does not cover such as a null V1).
        `vals`: the messages' values, when the caller has them already."""
        if vals is None:
            vals = [m.value() for m in msgs]
        first = vals[0] if vals else None
        if not wire.is_framed(first):
            return [], list(msgs)
        assert first is not None
        size = wire.HEADER_SIZE
        head = first[:size]
        groups: dict[bytes, list[int]] = {}
        # the usual case, one schema id for the batch: no per-record framing checks
        if all(v is not None and v.startswith(head) for v in vals):
            groups[head] = list(range(len(vals)))
            parts, rest = self._fast_groups(msgs, vals, groups, [])
            return parts, [msgs[i] for i in rest]
        for i, v in enumerate(vals):
            if wire.is_framed(v):
                assert v is not None
                groups.setdefault(v[:size], []).append(i)
        slow: list[int] = [i for i, v in enumerate(vals) if not wire.is_framed(v)]
        parts, slow = self._fast_groups(msgs, vals, groups, slow)
        return parts, [msgs[i] for i in slow]

    def _fast_groups(
        self,
        msgs: Sequence[Any],
        vals: list[Any],
        groups: dict[bytes, list[int]],
        slow: list[int],
    ) -> tuple[list[_Fast], list[int]]:
        """Decode each group of records sharing a header; (decoded parts, slow positions)."""
        size = wire.HEADER_SIZE
        parts: list[_Fast] = []
        identity = self.identity
        for h, idx in groups.items():
            schema_id = wire.schema_id_of(h)
            assert schema_id is not None
            plan = self._plan(schema_id)
            if plan.flat is None:
                slow.extend(idx)
                continue
            group = vals if len(idx) == len(vals) else [vals[i] for i in idx]
            fb = plan.flat.decode(group, size, self.limits.max_string_bytes)
            nulls = fb.nulls
            label = np.where(nulls[:, 1], -1, fb.longs[:, 1])
            good = fb.ok & ~nulls[:, 2:].any(axis=1) & (label >= -1) & (label <= 1)
            if identity:
                good &= ~nulls[:, 0] & ~fb.text_nulls[:, 0]
            if good.all():
                rows = idx
                pick: Any = None
            else:
                where = np.flatnonzero(good)
                rows = [idx[i] for i in where.tolist()]
                slow.extend(idx[i] for i in np.flatnonzero(~good).tolist())
                pick = where
            parts.append(_Fast(rows, fb, label, pick))
        slow.sort()
        return parts, slow

    def _avro_row(self, data: bytes) -> tuple[Any, ...]:
        try:
            schema_id, _ = wire.split(data)
        except SerdeFailure as exc:
            raise _Rejected("decode_error", f"not Confluent Avro: {exc}") from exc
        plan = self._plan(schema_id)
        if plan.parsed is None:
            assert plan.reason is not None
            limit: Limit | None = (
                "unexpected_schema" if plan.reason == "unexpected_schema" else None
            )
            raise _Rejected(plan.reason, plan.detail, limit)
        try:
            rec = decode_one(plan.parsed, data, wire.HEADER_SIZE)
        except FlatDecodeError as exc:
            raise _Rejected(
                "decode_error", f"corrupt Avro body for schema id {schema_id}: {exc}"
            ) from exc
        row: list[Any] = [None] * _END
        cols = plan.columns
        for k, v in rec.items():
            i = cols.get(str(k).upper())
            if i is not None:
                row[i] = v
        _check_strings(row, self.limits.max_string_bytes)
        return tuple(row)

    def decode(self, msgs: Sequence[Any]) -> RecordBatch:
        """Decode `msgs` (confluent_kafka Messages or anything with `value()`)."""
        out = RecordBatch()
        json_input = self.input_format == "json"
        identity = self.identity
        stamps: list[str] = []
        numeric_parts: list[NDArray[np.float64]] = []
        dead = out.dead
        if not json_input and msgs:
            given = msgs
            max_bytes = self.limits.max_record_bytes
            vals = [m.value() for m in msgs]
            sizes = [len(v or b"") for v in vals] if None in vals else list(map(len, vals))
            if max(sizes) > max_bytes:
                # oversized records skip the fast path: the loop below rejects them unread
                big = [m for m, n in zip(msgs, sizes, strict=True) if n > max_bytes]
                given = [m for m, n in zip(msgs, sizes, strict=True) if n <= max_bytes]
                fast, msgs = self._fast(given)
                msgs = [*msgs, *big]
            else:
                fast, msgs = self._fast(msgs, vals)
            for part in fast:
                fb, pick = part.batch, part.pick
                ids, labels, num = fb.longs[:, 0], part.label, fb.values[:, 2:]
                if pick is not None:
                    ids, labels, num = ids[pick], labels[pick], num[pick]
                rows = part.rows
                out.msgs.extend(given if len(rows) == len(given) else [given[i] for i in rows])
                out.labels.extend(labels.tolist())
                numeric_parts.append(num)
                if identity:
                    ts, users = fb.text[0], fb.text[1]
                    if pick is not None:
                        sel = pick.tolist()
                        ts, users = [ts[i] for i in sel], [users[i] for i in sel]
                    out.ids.extend(ids.tolist())
                    out.users.extend(users)
                    stamps.extend(ts)  # type: ignore[arg-type]  # not null on the fast path
        slow_rows: list[tuple[Any, ...]] = []
        required = self._required
        max_bytes = self.limits.max_record_bytes
        for msg in msgs:
            data = msg.value()
            try:
                if data is None:
                    raise _Rejected("missing_field", "empty record (tombstone)")
                if len(data) > max_bytes:
                    raise _Rejected(
                        "decode_error",
                        f"record of {len(data)} bytes exceeds {max_bytes}",
                        "record_bytes",
                    )
                if json_input:
                    row = _json_row(data)
                    _check_strings(row, max_bytes=self.limits.max_string_bytes)
                else:
                    row = self._avro_row(data)
                if any(row[i] is None for i in required if i != _LABEL):
                    missing = [_NAMES[i] for i in required if i != _LABEL and row[i] is None]
                    raise _Rejected("missing_field", f"missing or null: {', '.join(missing)}")
                label = -1 if row[_LABEL] is None else row[_LABEL]
                if label not in (-1, 0, 1):
                    raise _Rejected("invalid_value", f"Class {label!r} is not 0, 1 or -1")
            except _Rejected as exc:
                dead.append(Reject(msg, exc.reason, exc.detail, exc.limit))
                continue
            slow_rows.append(row[_NUM0:])
            out.msgs.append(msg)
            out.labels.append(label)
            if identity:
                out.ids.append(row[_ID])
                out.users.append(row[_USER])
                stamps.append(row[_TS])
        if slow_rows:
            numeric_parts.append(np.array(slow_rows, dtype=np.float64))
        if not out.labels:
            return out
        out.numeric = numeric_parts[0] if len(numeric_parts) == 1 else np.concatenate(numeric_parts)
        _validate(out, stamps if identity else None)
        return out


def _validate(out: RecordBatch, stamps: list[str] | None) -> None:
    """Value checks on the whole batch (NumPy): times, finiteness, Amount >= 0, Id >= 0."""
    n = len(out)
    if stamps is not None:
        out.event_ms, bad_time = parse_times_ms(stamps)
        if bad_time:
            ok = np.ones(n, np.bool_)
            ok[bad_time] = False
            out.keep(ok, "invalid_value", [f"bad Timestamp {t!r}" for t in stamps])
    finite = np.asarray(np.isfinite(out.numeric).all(axis=1), dtype=np.bool_)
    if not bool(finite.all()):
        out.keep(finite, "invalid_value", [_nonfinite_detail(r) for r in out.numeric])
    amount = out.numeric[:, _AMOUNT]
    ok = np.asarray(amount >= 0, dtype=np.bool_)
    if not bool(ok.all()):
        out.keep(ok, "invalid_value", [f"Amount {a!r} is negative" for a in amount])
    if stamps is not None:
        ids = np.asarray(out.ids, dtype=np.int64) if out.ids else np.empty(0, np.int64)
        ok = np.asarray(ids >= 0, dtype=np.bool_)
        if not bool(ok.all()):
            out.keep(ok, "invalid_value", [f"Id {i} is negative" for i in out.ids])


class _Rejected(Exception):
    """One record is unusable (internal: becomes a `Reject`, never escapes `decode`)."""

    def __init__(self, reason: Reason, detail: str, limit: Limit | None = None) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail
        self.limit = limit


def _check_strings(row: Sequence[Any], max_bytes: int) -> None:
    for i in (_TS, _USER):
        v = row[i]
        if isinstance(v, str) and len(v) > max_bytes:
            raise _Rejected(
                "invalid_value",
                f"{_NAMES[i]} of {len(v)} characters exceeds {max_bytes}",
                "string_bytes",
            )


def _nonfinite_detail(row: NDArray[np.float64]) -> str:
    bad = [f"{NUMERIC_COLUMNS[j]}={row[j]!r}" for j in np.flatnonzero(~np.isfinite(row))]
    return "non-finite value: " + ", ".join(bad) if bad else "ok"


_JSON_KEYS: tuple[str, ...] = ("Id", "Timestamp", "User", "Class", *NUMERIC_COLUMNS)
_JSON_UPPER: tuple[str, ...] = tuple(k.upper() for k in _JSON_KEYS)


def _json_row(data: bytes) -> tuple[Any, ...]:
    """One raw JSON event -> a row in COLUMNS order, with type checks."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _Rejected("decode_error", f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise _Rejected("wrong_type", f"JSON event is a {type(obj).__name__}, not an object")
    if "Id" in obj:
        row = [obj.get(k) for k in _JSON_KEYS]
    else:  # tolerate other casings (e.g. KSQL-style uppercase JSON with USERID)
        up = {str(k).upper(): v for k, v in obj.items()}
        if "USER" not in up and "USERID" in up:
            up["USER"] = up["USERID"]
        row = [up.get(k) for k in _JSON_UPPER]
    eid, ts, user, label = row[_ID], row[_TS], row[_USER], row[_LABEL]
    if eid is not None and (type(eid) is not int):
        raise _Rejected("wrong_type", f"Id must be an integer, got {eid!r}")
    if eid is not None and not -INT64_MAX <= eid <= INT64_MAX:
        raise _Rejected("invalid_value", f"Id {eid} is outside the 64-bit signed range")
    if ts is not None and type(ts) is not str:
        raise _Rejected("wrong_type", f"Timestamp must be a string, got {ts!r}")
    if user is not None and type(user) is not str:
        raise _Rejected("wrong_type", f"User must be a string, got {user!r}")
    if label is not None and type(label) is not int:
        if type(label) is str and label.strip().strip('"').isdigit():
            row[_LABEL] = int(label.strip().strip('"'))
        else:
            raise _Rejected("wrong_type", f"Class must be an integer or null, got {label!r}")
    for j in range(_NUM0, len(row)):
        v = row[j]
        t = type(v)
        if t is not float and t is not int and v is not None:
            raise _Rejected("wrong_type", f"{_JSON_KEYS[j]} must be a number, got {v!r}")
    return tuple(row)
