"""`fraudstream models compare`: champion vs challenger over a time window, from the topics.

The champion's scores are `fraud_scores`, the challenger's (served in shadow) are
`fraud_scores_shadow`; both are read with the project's one reader (`kafka.reader`) and
joined with the delayed labels (`fraud_labels`) by the monitor's own join (`WindowState`)
and quality code (`quality.quality`), so a figure here is the figure the monitor exports
for the same events: one implementation of the metrics.

The window covers the events *scored* in [from, to) (the score record's `scored_at`), as
the monitor's windows do; their labels count whenever they arrived (up to now), and labels
published up to the monitor's label horizon before the window are read too (a label may
precede its score when the scorer lags). A record that cannot be decoded is counted in
`skipped` and reported, never dropped silently; an unreachable broker or registry is an
error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from confluent_kafka import Message

from fraudstream.kafka import wait_for_broker
from fraudstream.kafka.reader import read_topic
from fraudstream.monitor.errors import BadLabelError
from fraudstream.monitor.quality import Quality
from fraudstream.monitor.service import parse_label, score_row
from fraudstream.monitor.state import LabelDelays, ScoreRow, WindowState
from fraudstream.serde.avro import AvroDecoder
from fraudstream.serde.errors import SerdeFailure
from fraudstream.serde.registry_client import RegistryClient

__all__ = ["Comparison", "ModelRow", "Overlap", "compare", "compare_rows"]

ROLES = ("champion", "challenger")


@dataclass(frozen=True)
class ModelRow:
    """One model version of one role over the window: alerts and labelled quality."""

    role: str
    version: str
    events: int
    alerts: int
    alerts_per_1000: float
    labelled: int
    frauds: int
    precision: float
    recall: float
    precision_weighted: float
    precision_at_k: float
    roc_auc: float
    average_precision: float
    label_delay_p50_s: float


@dataclass(frozen=True)
class Overlap:
    """Alerts of the two roles on the events both scored in the window."""

    common_events: int
    both: int
    champion_only: int
    challenger_only: int
    neither: int


@dataclass
class Comparison:
    """The whole answer of `models compare` (what -o json/yaml print)."""

    from_ms: int
    to_ms: int
    models: list[ModelRow]
    overlap: Overlap | None
    skipped: dict[str, int] = field(default_factory=dict)


def compare_rows(
    scores: dict[str, dict[int, ScoreRow]],
    labels: list[tuple[int, int, int]],
    from_ms: int,
    to_ms: int,
    *,
    k: int,
    prevalence: float,
) -> tuple[list[ModelRow], Overlap | None]:
    """Per role and version: alerts and quality; and the overlap of the two roles' alerts.

    `scores`: role -> event id -> its score row (already restricted to the window);
    `labels`: (event id, label, label time ms)."""
    models: list[ModelRow] = []
    for role in ROLES:
        rows = scores.get(role, {})
        state = WindowState(retention_ms=max(to_ms - from_ms, 1), max_events=max(len(rows), 1))
        for event_id, row in rows.items():
            state.add_score(event_id, ScoreRow(row.version, row.score, row.alert, row.scored_ms))
        for event_id, label, label_ms in labels:
            if event_id in state:
                state.add_label(event_id, label, label_ms)
        window = state.window(to_ms, to_ms - from_ms, k=k, prevalence=prevalence)
        for version in sorted(window):
            q, d = window[version]
            models.append(_row(role, version, q, d, rows))
    champ, chall = scores.get("champion", {}), scores.get("challenger", {})
    common = champ.keys() & chall.keys()
    overlap = None
    if common:
        a = np.fromiter((champ[i].alert for i in common), np.bool_, len(common))
        b = np.fromiter((chall[i].alert for i in common), np.bool_, len(common))
        overlap = Overlap(
            common_events=len(common),
            both=int((a & b).sum()),
            champion_only=int((a & ~b).sum()),
            challenger_only=int((~a & b).sum()),
            neither=int((~a & ~b).sum()),
        )
    return models, overlap


def _row(
    role: str, version: str, q: Quality, d: LabelDelays, rows: dict[int, ScoreRow]
) -> ModelRow:
    alerts = sum(1 for r in rows.values() if r.version == version and r.alert)
    return ModelRow(
        role=role,
        version=version,
        events=q.events,
        alerts=alerts,
        alerts_per_1000=1000.0 * alerts / q.events if q.events else float("nan"),
        labelled=q.labelled,
        frauds=q.frauds,
        precision=q.precision,
        recall=q.recall,
        precision_weighted=q.precision_weighted,
        precision_at_k=q.precision_at_k,
        roc_auc=q.roc_auc,
        average_precision=q.average_precision,
        label_delay_p50_s=d.p50_s,
    )


def _read_scores(
    bootstrap: str, topic: str, decoder: AvroDecoder, from_ms: int, to_ms: int, slack_ms: int
) -> tuple[dict[int, ScoreRow], int]:
    """Score rows scored in [from, to) of `topic`, and how many records were undecodable.

    Records are located by their Kafka timestamp (`slack_ms` early: the record time is the
    produce time, within a batch of `scored_at`) and kept by `scored_at`."""
    out: dict[int, ScoreRow] = {}
    bad = 0
    msgs = read_topic(bootstrap, topic, since_ms=from_ms - slack_ms, missing_ok=True)
    for msg in msgs:
        try:
            event_id, row = score_row(decoder.decode(msg.value() or b""))
        except SerdeFailure:
            bad += 1
            continue
        if from_ms <= row.scored_ms < to_ms:
            out.setdefault(event_id, row)  # at-least-once: the first is kept, as the monitor
    return out, bad


def _read_labels(msgs: list[Message]) -> tuple[list[tuple[int, int, int]], int]:
    out: list[tuple[int, int, int]] = []
    bad = 0
    for msg in msgs:
        try:
            event_id, label = parse_label(msg.value())
        except BadLabelError:
            bad += 1
            continue
        out.append((event_id, label, msg.timestamp()[1]))
    return out, bad


def compare(
    *,
    bootstrap: str,
    registry_url: str,
    topic_scores: str,
    topic_shadow: str,
    topic_labels: str,
    from_ms: int,
    to_ms: int,
    label_horizon_ms: int,
    k: int,
    prevalence: float,
    slack_ms: int = 60_000,
) -> Comparison:
    """Read the three topics and compare (KafkaUnavailableError / RegistryUnavailableError
    when a server does not answer)."""
    if to_ms <= from_ms:
        raise ValueError("the window is empty: --to must be after --from")
    wait_for_broker(bootstrap, timeout=10.0)
    registry = RegistryClient(registry_url)
    try:
        decoder = AvroDecoder(registry, logical_types=False)
        champ, bad_champ = _read_scores(bootstrap, topic_scores, decoder, from_ms, to_ms, slack_ms)
        chall, bad_chall = _read_scores(bootstrap, topic_shadow, decoder, from_ms, to_ms, slack_ms)
    finally:
        registry.close()
    label_msgs = read_topic(
        bootstrap, topic_labels, since_ms=from_ms - label_horizon_ms, missing_ok=True
    )
    labels, bad_labels = _read_labels(label_msgs)
    models, overlap = compare_rows(
        {"champion": champ, "challenger": chall},
        labels,
        from_ms,
        to_ms,
        k=k,
        prevalence=prevalence,
    )
    skipped = {topic_scores: bad_champ, topic_shadow: bad_chall, topic_labels: bad_labels}
    return Comparison(from_ms, to_ms, models, overlap, {t: n for t, n in skipped.items() if n})


def as_data(c: Comparison) -> dict[str, Any]:
    """The comparison as plain data (times in ISO UTC) for -o json/yaml."""
    from datetime import UTC, datetime

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

    return {
        "from": iso(c.from_ms),
        "to": iso(c.to_ms),
        "models": c.models,
        "overlap": c.overlap,
        "skipped": c.skipped,
    }
