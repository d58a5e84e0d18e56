"""`models compare` joins both roles' scores with the labels through the monitor's own code:
its figures equal scikit-learn's on the same events, the overlap counts the four cases, and
the window bounds and bad options are refused in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from fraudstream.cli import ExitCode, run
from fraudstream.monitor.compare import compare_rows
from fraudstream.monitor.state import ScoreRow

T0 = 1_700_000_000_000


def _roles(n: int, seed: int) -> tuple[dict[str, dict[int, ScoreRow]], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    base = rng.normal(0, 1, n) + 2.0 * y
    champ = {i: ScoreRow("v1", float(base[i]), bool(base[i] > 1.5), T0 + i) for i in range(n)}
    other = base + rng.normal(0, 0.7, n)
    chall = {  # the challenger only saw the second half of the window
        i: ScoreRow("v2", float(other[i]), bool(other[i] > 1.2), T0 + i) for i in range(n // 2, n)
    }
    return {"champion": champ, "challenger": chall}, y


def test_quality_per_role_equals_sklearn_on_the_labelled_events() -> None:
    n = 2000
    roles, y = _roles(n, seed=4)
    labelled = list(range(0, n, 3))  # a third of the labels have arrived
    labels = [(i, int(y[i]), T0 + 10_000 + i) for i in labelled]
    labels.append((10**9, 1, T0))  # a label of an event outside the window: ignored
    models, overlap = compare_rows(roles, labels, T0, T0 + n, k=50, prevalence=0.002)
    assert [(m.role, m.version) for m in models] == [("champion", "v1"), ("challenger", "v2")]
    for m in models:
        rows = roles[m.role]
        ids = [i for i in labelled if i in rows]
        truth = [int(y[i]) for i in ids]
        pred = [rows[i].alert for i in ids]
        assert m.events == len(rows)
        assert m.labelled == len(ids)
        assert m.frauds == sum(truth)
        assert m.alerts == sum(r.alert for r in rows.values())
        assert m.alerts_per_1000 == pytest.approx(1000 * m.alerts / len(rows))
        assert m.precision == pytest.approx(precision_score(truth, pred))
        assert m.recall == pytest.approx(recall_score(truth, pred))
        assert m.roc_auc == pytest.approx(roc_auc_score(truth, [rows[i].score for i in ids]))
        assert m.label_delay_p50_s == pytest.approx(10.0, abs=0.01)
    assert overlap is not None
    champ, chall = roles["champion"], roles["challenger"]
    common = sorted(chall)
    assert overlap.common_events == len(common) == n // 2
    assert overlap.both == sum(champ[i].alert and chall[i].alert for i in common)
    assert overlap.champion_only == sum(champ[i].alert and not chall[i].alert for i in common)
    assert overlap.challenger_only == sum(chall[i].alert and not champ[i].alert for i in common)
    assert overlap.both + overlap.champion_only + overlap.challenger_only + overlap.neither == (
        len(common)
    )
    assert overlap.both > 0 and overlap.champion_only > 0 and overlap.challenger_only > 0


def test_without_a_challenger_or_labels() -> None:
    roles, _ = _roles(100, seed=1)
    models, overlap = compare_rows(
        {"champion": roles["champion"]}, [], T0, T0 + 100, k=5, prevalence=0.002
    )
    assert overlap is None
    (m,) = models
    assert m.labelled == 0 and math.isnan(m.precision) and math.isnan(m.recall)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "--since 1h"),
        (["--since", "soon"], "is not N followed by"),
        (["--since", "1h", "--from", "2026-01-01T00:00:00"], "not both"),
        (["--from", "2026-01-02T00:00:00", "--to", "2026-01-01T00:00:00"], "after --from"),
    ],
)
def test_bad_windows_are_refused_in_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models", "compare", *argv]) == ExitCode.USAGE
    assert needle in capsys.readouterr().err


def test_a_stopped_broker_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fraudstream.config import get_settings
    from fraudstream.local.procs import free_port

    monkeypatch.setenv("FRAUDSTREAM_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    try:
        assert run(["models", "compare", "--since", "1h"]) == ExitCode.UNAVAILABLE
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Kafka broker at 127.0.0.1:") and "\n" not in err
