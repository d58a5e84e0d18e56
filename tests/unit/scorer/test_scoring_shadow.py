"""The challenger's shadow scores: every scorable row once, with the challenger's version
and threshold, never an alert; rows it cannot score get no shadow record."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fraudstream.model import load_model
from fraudstream.scorer.reload import canned_batch, prepare
from fraudstream.scorer.scoring import score_batch, score_shadow
from fraudstream.serde.ksql_records import RecordBatch
from fraudstream.testing.scorer import publish_pca_model


def _batch(n: int) -> RecordBatch:
    return RecordBatch(
        ids=list(range(100, 100 + n)),
        users=[f"u{i % 3}" for i in range(n)],
        labels=[-1] * n,
        event_ms=[1_700_000_000_000 + i for i in range(n)],
        numeric=canned_batch(n),
    )


def test_shadow_scores_every_row_with_the_challenger(tmp_path: Path) -> None:
    champion = prepare(load_model(tmp_path / publish_pca_model(tmp_path, seed=1)))
    challenger = prepare(load_model(tmp_path / publish_pca_model(tmp_path, seed=2)))
    scored = score_batch(_batch(40), champion, 3, b"")
    before = scored.outputs
    score_shadow(scored, challenger, 3, b"")
    assert scored.shadow_keys == [b"%d" % i for i in range(100, 140)]
    assert len(scored.shadow_bodies) == 40
    assert scored.outputs == before + 40, "the ledger waits for the shadow records too"
    assert all(challenger.version.encode() in b for b in scored.shadow_bodies)
    assert not any(champion.version.encode() in b for b in scored.shadow_bodies)


def test_rows_the_challenger_cannot_score_get_no_shadow_record(tmp_path: Path) -> None:
    champion = prepare(load_model(tmp_path / publish_pca_model(tmp_path, seed=1)))
    challenger = prepare(load_model(tmp_path / publish_pca_model(tmp_path, seed=2)))
    scored = score_batch(_batch(10), champion, 3, b"")
    good = scored.scores.copy()
    real = challenger.score

    def flaky(numeric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, fe = real(numeric)
        s = s.copy()
        s[[2, 5]] = np.nan
        return s, fe

    object.__setattr__(challenger, "score", flaky)
    score_shadow(scored, challenger, 3, b"")
    assert scored.shadow_keys == [b"%d" % i for i in range(100, 110) if i not in (102, 105)]
    assert len(scored.shadow_bodies) == 8
    assert np.array_equal(scored.scores, good) and not scored.batch.dead
