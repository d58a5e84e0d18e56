"""The users table (compacted topic, key = userid) and the deterministic event -> user map.

A userid is the user's initials plus a zero-padded number (e.g. `jd00042`), so KSQL's
`MASK_LEFT(User, 2)` hides exactly the part derived from the name. About one user in eight
lives in a `Premium ...` city, which the seed's per-user KSQL join filters on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from confluent_kafka import KafkaError, Message, Producer

from fraudstream.kafka import create_topics, producer_config, wait_for_broker
from fraudstream.producer.errors import SourceError

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Katja", "Lukas", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara",
    "Umut", "Vera", "Wim", "Xenia", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Adler", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ivanova",
    "Jansen", "Kowalski", "Lopez", "Meyer", "Novak", "Olsen", "Petrov", "Quast", "Rossi",
    "Schmidt", "Tanaka", "Urban", "Varga", "Weber", "Yilmaz", "Zimmer",
)  # fmt: skip
CITIES: tuple[str, ...] = (
    "Berlin", "Munich", "Hamburg", "Vienna", "Zurich", "Paris", "Lyon", "Madrid", "Lisbon",
    "Rome", "Milan", "Amsterdam", "Brussels", "Prague", "Warsaw", "Copenhagen", "Oslo",
)  # fmt: skip
PREMIUM_CITIES: tuple[str, ...] = (
    "Premium Berlin", "Premium Zurich", "Premium Paris", "Premium London", "Premium Monaco",
)  # fmt: skip
PREMIUM_SHARE = 0.125
USER_SALT = 0x5BD1E995  # fixed: the event -> user map must not change between runs


def make_users(n: int, seed: int = 42) -> list[dict[str, str]]:
    """`n` users `{"userid", "name", "city"}`, reproducible for a seed; userids are unique."""
    if n < 1:
        raise SourceError(f"the users table needs at least 1 user (got {n})")
    rng = np.random.default_rng([seed, 0xA5E5])
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    premium = rng.random(n) < PREMIUM_SHARE
    city = rng.integers(0, len(CITIES), n)
    pcity = rng.integers(0, len(PREMIUM_CITIES), n)
    width = max(5, len(str(n - 1)))
    users: list[dict[str, str]] = []
    for i in range(n):
        f, la = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        users.append(
            {
                "userid": f"{f[0].lower()}{la[0].lower()}{i:0{width}d}",
                "name": f"{f} {la}",
                "city": PREMIUM_CITIES[pcity[i]] if premium[i] else CITIES[city[i]],
            }
        )
    return users


def user_ids(users: Sequence[str] | Sequence[Mapping[str, Any]] | int, seed: int = 42) -> list[str]:
    """Userids from a list of ids, a list of user dicts, or a count (then `make_users`)."""
    if isinstance(users, int):
        return [u["userid"] for u in make_users(users, seed)]
    ids = [u if isinstance(u, str) else str(u["userid"]) for u in users]
    if not ids:
        raise SourceError("the users table is empty")
    return ids


_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a fixed, well-spread hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def user_index(event_id: int, n_users: int) -> int:
    """Deterministic user of an event Id; skewed so that some users buy much more often."""
    u = _mix64(event_id ^ USER_SALT) / 2.0**64
    return min(int(n_users * u * u), n_users - 1)


def user_indices(event_ids: npt.NDArray[np.int64], n_users: int) -> npt.NDArray[np.int64]:
    """`user_index` for an array of Ids (same results, vectorised)."""
    with np.errstate(over="ignore"):
        x = np.asarray(event_ids, dtype=np.int64).astype(np.uint64) ^ np.uint64(USER_SALT)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    u = x.astype(np.float64) / 2.0**64
    return np.minimum((n_users * u * u).astype(np.int64), n_users - 1)


def publish_users(
    users: Sequence[Mapping[str, Any]],
    *,
    bootstrap: str,
    topic: str = "users",
    create: bool = True,
    timeout: float = 30.0,
) -> int:
    """Publish the table (key = userid, JSON value) to a compacted topic; return delivered.

    Raises `ProducerError` if any record is not confirmed by the broker within `timeout`.
    """
    from fraudstream.errors import ProducerError

    admin = wait_for_broker(bootstrap, timeout=timeout)
    if create:
        create_topics(admin, [topic], partitions=1, config={"cleanup.policy": "compact"})
    conf = producer_config(bootstrap)
    conf["log_level"] = 3  # connection chatter is not useful here
    producer = Producer(conf)
    errors: list[str] = []
    delivered = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal delivered
        if err is None:
            delivered += 1
        else:
            errors.append(str(err))

    for i, user in enumerate(users):
        producer.produce(
            topic,
            key=str(user["userid"]).encode(),
            value=orjson.dumps(dict(user)),
            on_delivery=on_delivery,
        )
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    if errors or left:
        raise ProducerError(
            f"users: {len(errors) + left} of {len(users)} records not delivered to {topic}"
            + (f" (first error: {errors[0]})" if errors else "")
        )
    return delivered
