"""A reproducible generator of card events that resembles the Kaggle/ULB data (see docs/data.md).

The model, fitted by eye to the real sample in `shared/data/creditcard/`:

* normal V1..V28: zero mean, the sample's per-component scale (decreasing like PCA components),
  a few of the sample's pairwise correlations (incl. log-Amount with V2, V5, V6, V20), and
  Student-t tails (3 or 5 degrees of freedom, one shared draw per group and event) for the
  components whose kurtosis is large in the data;
* normal Amount: log1p(Amount) ~ Normal(3.1, 1.6), clipped at 0 (some zero amounts);
* Time: a day/night cycle (the sample's hour-of-day profile), ~1.65 events/s on average as in
  the full data set, starting at midnight;
* frauds (rate `fraud_rate`, ~9x more likely per event at night than in the afternoon):
  a normal draw widened 1.3x plus `severity` times the sample's mean fraud shift (strong in V14,
  V12, V10, V17, V4, V11, V3, V7...), severity log-normal around 0.8; a fraction
  `hard_fraction` are "hard" frauds with severity < 0.15, nearly invisible; fraud amounts mix
  card-testing micro charges (~1) with large ones;
* label noise: a share `label_noise` of true frauds is recorded as Class 0 and about as many
  normals as Class 1.

Generation runs in fixed chunks whose random streams depend only on (seed, chunk index), so
`generate_batch(n)` is a prefix of `generate_batch(m)` for n < m, and streaming (`generate_events`)
and array (`generate_arrays`) forms give the same numbers.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

from fraudstream.events import FEATURE_COLUMNS, RAW_FIELDS, V_COLUMNS
from fraudstream.producer.errors import SourceError
from fraudstream.producer.timefmt import iso_array, parse_start, start_epoch
from fraudstream.producer.users import user_ids, user_indices

CHUNK = 8192
DEFAULT_FRAUD_RATE = 0.00172
EVENTS_PER_SECOND = 284_807 / 172_792  # the full data set: two days of traffic

# Per-component standard deviation of the normal class in the real sample.
NORMAL_STD = np.array(
    [1.93, 1.61, 1.44, 1.41, 1.34, 1.34, 1.14, 1.10, 1.10, 1.05, 1.01, 0.94, 0.98, 0.95,
     0.92, 0.83, 0.75, 0.82, 0.81, 0.76, 0.70, 0.71, 0.53, 0.61, 0.52, 0.48, 0.41, 0.37]
)  # fmt: skip
# Student-t degrees of freedom: 3 where the sample's kurtosis is > 20, 5 where > 5, else normal.
_KURT = np.array(
    [22.4, 44.0, 2.8, 2.0, 49.9, 9.6, 45.5, 126.1, 2.2, 15.5, -0.2, 2.6, 0.2, 7.2,
     0.2, 1.1, 5.6, 0.9, 1.7, 133.5, 112.0, 0.2, 145.7, 0.4, 1.4, 1.0, 51.5, 687.9]
)  # fmt: skip
T_DOF = np.where(_KURT > 20, 3.0, np.where(_KURT > 5, 5.0, np.inf))
# Mean of the fraud class in the real sample (normal mean is ~0).
FRAUD_SHIFT = np.array(
    [-4.77, 3.62, -7.03, 4.54, -3.15, -1.40, -5.57, 0.57, -2.58, -5.68, 3.80, -6.26, -0.11,
     -6.97, -0.09, -4.14, -6.67, -2.25, 0.68, 0.37, 0.71, 0.01, -0.04, -0.11, 0.04, 0.05,
     0.17, 0.08]
)  # fmt: skip
FRAUD_SPREAD = 1.3
# The strongest pairwise correlations of the normal class ("A" = log1p(Amount)).
CORRELATIONS: tuple[tuple[str, str, float], ...] = (
    ("A", "V2", -0.46), ("A", "V5", -0.28), ("A", "V6", 0.16), ("A", "V20", 0.13),
    ("V17", "V14", -0.27), ("V17", "V12", -0.21), ("V17", "V3", -0.15), ("V17", "V16", -0.14),
    ("V7", "V2", 0.14), ("V17", "V11", 0.13), ("V27", "V5", 0.13), ("V10", "V3", -0.13),
    ("V12", "V10", -0.12), ("V14", "V10", -0.11), ("V16", "V14", -0.11),
)  # fmt: skip
AMOUNT_LOG_MEAN, AMOUNT_LOG_STD = 3.1, 1.6
# Hour-of-day traffic (the sample's normal events per hour, Time 0 = midnight) ...
HOURLY_TRAFFIC = np.array(
    [140, 59, 53, 58, 42, 45, 76, 130, 176, 268, 310, 274, 292, 282, 270, 273, 290, 283, 310,
     275, 269, 264, 271, 210], dtype=np.float64,
)  # fmt: skip
# ... and the relative fraud risk per hour (smoothed fraud/normal ratio of the sample).
HOURLY_FRAUD_RISK = np.array(
    [1.30, 3.73, 5.48, 4.15, 3.81, 2.69, 1.65, 1.19, 0.76, 0.52, 0.77, 1.18, 0.89, 0.62, 0.82,
     0.89, 0.89, 0.99, 0.99, 0.80, 0.67, 0.56, 0.55, 0.70]
)  # fmt: skip
# Normalise the risk so that the traffic-weighted mean is exactly 1.
HOURLY_FRAUD_RISK = HOURLY_FRAUD_RISK / np.average(HOURLY_FRAUD_RISK, weights=HOURLY_TRAFFIC)

_COLS = (*V_COLUMNS, "A")


def _cholesky() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Columns that take part in a correlation, and the Cholesky factor of their block.

    The other columns are independent, so only this block needs the (costly) matrix product.
    """
    idx = sorted({_COLS.index(c) for a, b, _ in CORRELATIONS for c in (a, b)})
    corr = np.eye(len(idx))
    for a, b, r in CORRELATIONS:
        i, j = idx.index(_COLS.index(a)), idx.index(_COLS.index(b))
        corr[i, j] = corr[j, i] = r
    w, v = np.linalg.eigh(corr)
    corr = (v * np.clip(w, 1e-3, None)) @ v.T  # keep it positive definite
    d = np.sqrt(np.diag(corr))
    return np.array(idx, dtype=np.intp), np.linalg.cholesky(corr / np.outer(d, d))


_CORR_IDX, _CHOL = _cholesky()
# Non-zero entries of each row of the Cholesky factor (it is sparse: few correlations).
_CHOL_ROWS = [
    [(j, float(_CHOL[i, j])) for j in range(i + 1) if abs(_CHOL[i, j]) > 1e-12]
    for i in range(len(_CORR_IDX))
]


def _correlate(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`_CHOL @ block` with elementwise numpy only.

    Deliberately not BLAS: a multi-threaded OpenBLAS spinning on a busy 2-core machine made
    this product (and everything after it) 4x slower than these few vector operations.
    """
    out = np.empty_like(block)
    for i, terms in enumerate(_CHOL_ROWS):
        acc = block[terms[0][0]] * terms[0][1]
        for j, c in terms[1:]:
            acc += block[j] * c
        out[i] = acc
    return out


_T_GROUPS = [
    (float(dof), np.flatnonzero(dof == T_DOF)) for dof in np.unique(T_DOF[np.isfinite(T_DOF)])
]


def _day_table() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Cumulative traffic over one day (per minute), normalised to 1, for inverse sampling."""
    minutes = np.arange(24 * 60 + 1, dtype=np.float64)
    hours = (minutes / 60.0 - 0.5) % 24  # profile values sit at hour centres; wrap around
    lam = np.interp(hours, np.arange(25.0), np.r_[HOURLY_TRAFFIC, HOURLY_TRAFFIC[0]])
    cum = np.r_[0.0, np.cumsum((lam[1:] + lam[:-1]) / 2)]
    return cum / cum[-1], minutes * 60.0


_DAY_CUM, _DAY_SEC = _day_table()


@dataclass(frozen=True)
class SyntheticBatch:
    """Generated events as arrays. `y` is the recorded label (with noise), `y_true` the truth."""

    X: npt.NDArray[np.float64]  # (n, 29) in FEATURE_COLUMNS order
    time: npt.NDArray[np.int64]  # (n,) seconds since midnight of day 0, non-decreasing
    y: npt.NDArray[np.int64]  # (n,) recorded Class 0/1
    y_true: npt.NDArray[np.int64]  # (n,) true fraud flag
    hard: npt.NDArray[np.bool_]  # (n,) a hard (nearly invisible) fraud

    def __len__(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class GeneratorParams:
    """Knobs of the data model (defaults mimic the real data; see docs/data.md)."""

    fraud_rate: float = DEFAULT_FRAUD_RATE
    hard_fraction: float = 0.08
    label_noise: float = 0.02
    events_per_second: float = EVENTS_PER_SECOND

    def check(self) -> None:
        if not 0.0 <= self.fraud_rate <= 0.5:
            raise SourceError(f"fraud_rate must be in [0, 0.5] (got {self.fraud_rate})")
        if not 0.0 <= self.hard_fraction <= 1.0:
            raise SourceError(f"hard_fraction must be in [0, 1] (got {self.hard_fraction})")
        if not 0.0 <= self.label_noise <= 0.5:
            raise SourceError(f"label_noise must be in [0, 0.5] (got {self.label_noise})")
        if not self.events_per_second > 0:
            raise SourceError(f"events_per_second must be > 0 (got {self.events_per_second})")


def _chunk(seed: int, k: int, u0: float, p: GeneratorParams) -> tuple[SyntheticBatch, float]:
    """Chunk `k` (CHUNK events) and the operational time it ends at."""
    rng = np.random.default_rng([seed, k, 0x5EED])
    n = CHUNK
    # Time: unit-rate Poisson in "traffic time", mapped through the daily profile.
    u = u0 + np.cumsum(rng.exponential(1.0, n)) / (p.events_per_second * 86_400.0)
    day = np.floor(u)
    t = day * 86_400.0 + np.interp(u - day, _DAY_CUM, _DAY_SEC)
    time = np.floor(t).astype(np.int64)
    hour = (time // 3600) % 24
    # Normal features: correlated Gaussian, then heavy tails, then per-component scale.
    # Z is component-major (29 x n: V1..V28, log1p(Amount)) so each step works on contiguous
    # rows; the heavy-tailed components share one chi-square draw per event and tail group
    # (a multivariate Student-t: an odd transaction is odd in several components at once).
    Z = rng.standard_normal((len(_COLS), n))
    Z[_CORR_IDX] = _correlate(Z[_CORR_IDX])
    for dof, rows in _T_GROUPS:
        Z[rows] *= np.sqrt((dof - 2.0) / rng.chisquare(dof, n))
    Z[:28] *= NORMAL_STD[:, None]
    Z[28] = AMOUNT_LOG_MEAN + AMOUNT_LOG_STD * Z[28]
    X = np.ascontiguousarray(Z.T)
    # Frauds: more likely at night; shifted by a random severity along the fraud direction.
    # The fraud-only draws are made for the fraud rows only (they are ~0.2 % of the chunk).
    fraud = rng.random(n) < np.minimum(p.fraud_rate * HOURLY_FRAUD_RISK[hour], 0.5)
    f = np.flatnonzero(fraud)
    nf = len(f)
    is_hard = rng.random(nf) < p.hard_fraction
    severity = np.where(is_hard, rng.uniform(0.0, 0.15, nf), rng.lognormal(np.log(0.8), 0.75, nf))
    X[f, :28] = X[f, :28] * FRAUD_SPREAD + severity[:, None] * FRAUD_SHIFT
    micro = rng.random(nf) < 0.45
    fraud_log_amount = np.where(micro, rng.normal(0.8, 0.5, nf), rng.normal(4.3, 1.4, nf))
    fraud_log_amount[rng.random(nf) < 0.05] = 0.0  # zero-amount card checks
    X[f, 28] = np.where(is_hard, X[f, 28], fraud_log_amount)
    X[:, 28] = np.round(np.expm1(np.clip(X[:, 28], 0.0, 10.0)), 2)
    np.round(X[:, :28], 6, out=X[:, :28])
    # Label noise: some frauds are never reported, about as many normals are charged back.
    y = fraud.copy()
    y[f[rng.random(nf) < p.label_noise]] = False
    y[rng.random(n) < p.label_noise * p.fraud_rate * (~fraud)] = True
    hard = np.zeros(n, dtype=np.bool_)
    hard[f[is_hard]] = True
    batch = SyntheticBatch(
        X=X, time=time, y=y.astype(np.int64), y_true=fraud.astype(np.int64), hard=hard
    )
    return batch, float(u[-1])


def iter_batches(
    n: int | None, *, seed: int = 42, params: GeneratorParams | None = None
) -> Iterator[SyntheticBatch]:
    """Consecutive batches (up to CHUNK events each) totalling `n` events (None = endless)."""
    p = params or GeneratorParams()
    p.check()
    if n is not None and n < 0:
        raise SourceError(f"number of events must be >= 0 (got {n})")
    left = n
    u = 0.0
    k = 0
    while left is None or left > 0:
        batch, u = _chunk(seed, k, u, p)
        k += 1
        if left is not None and left < CHUNK:
            batch = SyntheticBatch(
                batch.X[:left], batch.time[:left], batch.y[:left], batch.y_true[:left],
                batch.hard[:left],
            )  # fmt: skip
        if left is not None:
            left -= len(batch)
        yield batch


def generate_batch(
    n: int, *, seed: int = 42, params: GeneratorParams | None = None
) -> SyntheticBatch:
    """`n` events as arrays, with the true labels and hard-fraud flags."""
    parts = list(iter_batches(n, seed=seed, params=params))
    if not parts:
        return SyntheticBatch(
            np.empty((0, len(FEATURE_COLUMNS))), np.empty(0, np.int64), np.empty(0, np.int64),
            np.empty(0, np.int64), np.empty(0, np.bool_),
        )  # fmt: skip
    return SyntheticBatch(
        X=np.concatenate([b.X for b in parts]),
        time=np.concatenate([b.time for b in parts]),
        y=np.concatenate([b.y for b in parts]),
        y_true=np.concatenate([b.y_true for b in parts]),
        hard=np.concatenate([b.hard for b in parts]),
    )


def generate_arrays(
    n: int, seed: int = 42, fraud_rate: float = DEFAULT_FRAUD_RATE
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """X (n x 29, FEATURE_COLUMNS order), time (n,) seconds, y (n,) recorded Class 0/1.

    For trainer/scorer tests and benchmarks that need realistic data without Kafka.
    """
    b = generate_batch(n, seed=seed, params=GeneratorParams(fraud_rate=fraud_rate))
    return b.X, b.time, b.y


def generate_events(
    n: int | None,
    *,
    seed: int = 42,
    fraud_rate: float = DEFAULT_FRAUD_RATE,
    users: Sequence[str] | Sequence[dict[str, Any]] | int = 1000,
    start: str | datetime | None = "2013-09-01T00:00:00Z",
    unlabelled: float = 0.0,
    id_offset: int = 0,
    time_offset: int = 0,
    params: GeneratorParams | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Raw-event dicts (the contract's keys, in RAW_FIELDS order); `n=None` is endless.

    `users`: userids, user dicts or a count (`make_users(count, seed)`); each event's user is
    a fixed function of its Id. `unlabelled`: share of events published with Class null (live
    traffic whose label is not known yet). `id_offset`/`time_offset` shift Id and Time.
    `params` sets every knob of the data model; when given, `fraud_rate` is ignored.
    """
    chunks = _prepared(
        n, seed, fraud_rate, users, start, unlabelled, id_offset, time_offset, params
    )
    return _events(chunks)


def generate_records(
    n: int | None,
    *,
    seed: int = 42,
    fraud_rate: float = DEFAULT_FRAUD_RATE,
    users: Sequence[str] | Sequence[dict[str, Any]] | int = 1000,
    start: str | datetime | None = "2013-09-01T00:00:00Z",
    unlabelled: float = 0.0,
    id_offset: int = 0,
    time_offset: int = 0,
    params: GeneratorParams | None = None,
) -> Generator[tuple[bytes, bytes], None, None]:
    """The same events as `generate_events`, already encoded: (key = User, value = JSON).

    The value bytes equal `orjson.dumps(event)` of the matching dict (a unit test checks
    this), but are built per chunk from one numpy serialisation, which is what lets the
    replayer reach >100k events/s in one process.
    """
    chunks = _prepared(
        n, seed, fraud_rate, users, start, unlabelled, id_offset, time_offset, params
    )
    return _records(chunks)


@dataclass(frozen=True)
class _Prepared:
    batch: SyntheticBatch
    ids: list[int]
    times: list[int]
    stamps: list[str]
    users: list[str]
    labels: list[int | None]


def _prepared(
    n: int | None,
    seed: int,
    fraud_rate: float,
    users: Sequence[str] | Sequence[dict[str, Any]] | int,
    start: str | datetime | None,
    unlabelled: float,
    id_offset: int,
    time_offset: int,
    params: GeneratorParams | None,
) -> Iterator[_Prepared]:
    if not 0.0 <= unlabelled <= 1.0:
        raise SourceError(f"unlabelled must be in [0, 1] (got {unlabelled})")
    p = params or GeneratorParams(fraud_rate=fraud_rate)
    p.check()
    ids = user_ids(users, seed)
    epoch = start_epoch(parse_start(start))
    batches = iter_batches(n, seed=seed, params=p)
    return _prepare(batches, seed, ids, epoch, unlabelled, id_offset, time_offset)


def _prepare(
    batches: Iterator[SyntheticBatch],
    seed: int,
    ids: list[str],
    epoch: int,
    unlabelled: float,
    id_offset: int,
    time_offset: int,
) -> Iterator[_Prepared]:
    next_id = id_offset
    label_rng = np.random.default_rng([seed, 0x1AB])
    for batch in batches:
        m = len(batch)
        event_ids = np.arange(next_id, next_id + m, dtype=np.int64)
        next_id += m
        times = batch.time + time_offset
        labels: list[int | None] = batch.y.tolist()
        if unlabelled > 0:
            hide = (label_rng.random(m) < unlabelled).tolist()
            labels = [None if h else c for h, c in zip(hide, labels, strict=True)]
        yield _Prepared(
            batch=batch,
            ids=event_ids.tolist(),
            times=times.tolist(),
            stamps=iso_array(epoch, times),
            users=[ids[i] for i in user_indices(event_ids, len(ids)).tolist()],
            labels=labels,
        )


def _events(chunks: Iterator[_Prepared]) -> Generator[dict[str, Any], None, None]:
    keys = RAW_FIELDS
    for c in chunks:
        rows = c.batch.X.tolist()
        for eid, ts, user, t, row, cls in zip(
            c.ids, c.stamps, c.users, c.times, rows, c.labels, strict=True
        ):
            yield dict(zip(keys, (eid, ts, user, t, *row, cls), strict=True))


_RECORD_FORMAT = (
    b'{"Id":%d,"Timestamp":"%s","User":"%s","Time":%d,'
    + b",".join(b'"%s":%%s' % c.encode() for c in FEATURE_COLUMNS)
    + b',"Class":%s}'
)
_CLASS_BYTES: dict[int | None, bytes] = {0: b"0", 1: b"1", None: b"null"}


def _encode_chunk(c: _Prepared) -> tuple[_Prepared, list[bytes], list[bytes], list[bytes]]:
    """The per-chunk (vectorised) part of encoding: values as JSON text, keys and stamps."""
    body = orjson.dumps(c.batch.X, option=orjson.OPT_SERIALIZE_NUMPY)
    rows = body[2:-2].split(b"],[") if len(c.ids) else []
    return c, rows, [u.encode() for u in c.users], [t.encode() for t in c.stamps]


def _records(chunks: Iterator[_Prepared]) -> Generator[tuple[bytes, bytes], None, None]:
    fmt = _RECORD_FORMAT
    cls_b = _CLASS_BYTES
    for c, rows, keys, stamps in _prefetch(map(_encode_chunk, chunks)):
        for eid, ts, key, t, row, cls in zip(
            c.ids, stamps, keys, c.times, rows, c.labels, strict=True
        ):
            yield key, fmt % (eid, ts, key, t, *row.split(b","), cls_b[cls])


T = TypeVar("T")
_DONE = object()


def _prefetch(items: Iterator[T], depth: int = 3) -> Iterator[T]:
    """Run `items` in a helper thread, `depth` ahead of the consumer.

    Chunk generation is mostly numpy, which releases the GIL, so on a machine with a spare
    core it overlaps with the per-event loop (formatting + produce) of the caller. Errors in
    the helper are re-raised here; closing this generator early stops the helper.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    helper = threading.Thread(target=work, name="synthetic-prefetch", daemon=True)
    helper.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
