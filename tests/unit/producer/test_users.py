"""Users table and the deterministic event -> user map."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fraudstream.producer.errors import SourceError
from fraudstream.producer.users import make_users, user_ids, user_index, user_indices


def test_users_are_unique_reproducible_and_some_premium() -> None:
    users = make_users(2000, seed=7)
    assert users == make_users(2000, seed=7)
    assert users != make_users(2000, seed=8)
    assert len({u["userid"] for u in users}) == 2000
    assert all(set(u) == {"userid", "name", "city"} for u in users)
    premium = sum(u["city"].startswith("Premium") for u in users)
    assert 150 < premium < 350  # ~12.5 %
    # The first two characters are the initials: KSQL's MASK_LEFT(User, 2) hides them.
    for u in users[:50]:
        first, last = u["name"].split(" ")
        assert u["userid"][:2] == (first[0] + last[0]).lower()


def test_make_users_rejects_empty_table() -> None:
    with pytest.raises(SourceError):
        make_users(0)


def test_user_ids_accepts_ids_dicts_or_count() -> None:
    users = make_users(5, seed=1)
    assert user_ids(users) == [u["userid"] for u in users]
    assert user_ids(["a", "b"]) == ["a", "b"]
    assert user_ids(5, seed=1) == [u["userid"] for u in users]
    with pytest.raises(SourceError):
        user_ids([])


def test_scalar_and_vector_user_maps_agree_and_are_skewed() -> None:
    ids = np.arange(0, 20_000, dtype=np.int64)
    vec = user_indices(ids, 100).tolist()
    assert vec == [user_index(i, 100) for i in range(20_000)]
    assert min(vec) == 0 and max(vec) == 99
    counts = Counter(vec)
    assert len(counts) == 100
    # Skewed: the busiest user has many more events than the quietest.
    assert counts.most_common(1)[0][1] > 5 * min(counts.values())
