"""Live view pieces: wire decoding with the writer schema, running stats, /metrics parsing."""

from __future__ import annotations

import io
import json

import fastavro
import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from fraudstream.errors import SerdeError
from fraudstream.local.liveview import (
    ScoreStats,
    Snapshot,
    WireDecoder,
    parse_metrics,
    render,
)
from fraudstream.serde import wire
from fraudstream.serde.schemas import load_schema, parsed_schema


def _wire(schema_id: int, rec: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema("score"), rec)
    return wire.frame(schema_id, buf.getvalue())


def _score(i: int, label: int, anomalous: bool, version: str = "v1") -> dict[str, object]:
    return {
        "id": i,
        "user": "XXer_1",
        "amount": 1.0,
        "score": 2.0 if anomalous else 0.1,
        "threshold": 1.0,
        "is_anomaly": anomalous,
        "model_version": version,
        "label": label,
        "event_time": None,
        "scored_at": 1_700_000_000_000,
        "top_features": [{"feature": "V14", "share": 0.5}],
    }


def _decoder(calls: list[str]) -> WireDecoder:
    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        if req.url.path == "/schemas/ids/7":
            return httpx.Response(200, json={"schema": json.dumps(load_schema("score"))})
        return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})

    return WireDecoder(
        "http://registry", client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_decoder_uses_writer_schema_once_and_lowercases_keys() -> None:
    calls: list[str] = []
    dec = _decoder(calls)
    for i in range(3):
        rec = dec.decode(_wire(7, _score(i, 1, True)))
        assert rec["id"] == i and rec["is_anomaly"] is True
    assert calls == ["/schemas/ids/7"]


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"", "wire format"), (b'{"id": 1}', "wire format"), (None, "wire format")],
)
def test_decoder_rejects_non_wire_bytes(data: bytes | None, why: str) -> None:
    with pytest.raises(SerdeError, match=why):
        _decoder([]).decode(data)


def test_decoder_unknown_schema_id() -> None:
    with pytest.raises(SerdeError, match="schema id 9 is not in the registry"):
        _decoder([]).decode(_wire(9, _score(1, 0, False)))


def test_stats_confusion_duplicates_versions() -> None:
    st = ScoreStats()
    rows = [
        (1, 1, True),  # tp
        (2, 1, False),  # fn
        (3, 0, True),  # fp
        (4, 0, False),  # tn
        (5, 0, False),  # tn
        (6, -1, True),  # unlabelled anomaly
        (1, 1, True),  # duplicate of id 1 (at-least-once redelivery)
    ]
    for i, label, anom in rows:
        st.add(_score(i, label, anom, version="v2" if i == 6 else "v1"))
    assert (st.tp, st.fn, st.fp, st.tn, st.unlabelled) == (2, 1, 1, 2, 1)
    assert st.duplicates == 1
    assert st.precision == pytest.approx(2 / 3)
    assert st.recall == pytest.approx(2 / 3)
    assert st.anomalies == 4
    assert st.versions == {"v1": 6, "v2": 1}
    assert st.last_version == "v1"


def test_stats_rate_over_window() -> None:
    st = ScoreStats(window_s=5)
    assert st.tick(100.0) == 0.0
    for i in range(50):
        st.add(_score(i, 0, False))
    assert st.tick(102.0) == pytest.approx(25.0)
    assert st.tick(110.0) == pytest.approx(0.0)  # old points dropped, nothing new


def test_parse_metrics_contract_names() -> None:
    reg = CollectorRegistry()
    Counter("fraudstream_events_consumed", "", registry=reg).inc(120)
    Counter("fraudstream_events_scored", "", registry=reg).inc(100)
    Counter("fraudstream_events_anomalous", "", registry=reg).inc(3)
    dl = Counter("fraudstream_events_dead_lettered", "", ["reason"], registry=reg)
    dl.labels("decode_error").inc(15)
    dl.labels("invalid_value").inc(5)
    lag = Gauge("fraudstream_consumer_lag", "", ["topic", "partition"], registry=reg)
    lag.labels("t", "0").set(4)
    lag.labels("t", "1").set(6)
    info = Gauge("fraudstream_model_info", "", ["version"], registry=reg)
    info.labels("old").set(0)
    info.labels("20260101T000000Z-abcdef12").set(1)
    Gauge("fraudstream_model_threshold", "", registry=reg).set(2.5)
    rel = Counter("fraudstream_model_reloads", "", ["result"], registry=reg)
    rel.labels("ok").inc(2)
    rel.labels("failed").inc(1)
    Gauge("fraudstream_ready", "", registry=reg).set(1)
    m = parse_metrics(generate_latest(reg).decode())
    assert m.up and m.ready
    assert (m.consumed, m.scored, m.anomalous) == (120, 100, 3)
    assert m.dead_lettered == {"decode_error": 15, "invalid_value": 5}
    assert m.lag == 10
    assert m.model_version == "20260101T000000Z-abcdef12"
    assert m.threshold == 2.5
    assert (m.reloads_ok, m.reloads_failed) == (2, 1)


def test_snapshot_line_and_panel() -> None:
    m = parse_metrics('fraudstream_model_info{version="v9"} 1.0\n')
    snap = Snapshot(
        elapsed_s=12,
        events_in=1000,
        in_rate=100,
        scored=990,
        scored_rate=99,
        anomalies=12,
        precision=0.5,
        recall=None,
        labelled=10,
        duplicates=0,
        undecodable=0,
        versions={"v9": 990},
        last_version="v9",
        metrics=m,
    )
    line = snap.line()
    assert "scored=990" in line and "precision=0.500" in line and "recall=-" in line
    assert "model=v9" in line
    from rich.console import Console

    con = Console(record=True, width=120)
    con.print(render(snap))
    text = con.export_text()
    assert "990" in text and "v9" in text and "NOT READY" in text


def test_stats_rate_when_sampled_rarely() -> None:
    """Called every 10 s with a 5 s window: the previous point stays the baseline."""
    st = ScoreStats(window_s=5)
    st.tick(0.0)
    for i in range(100):
        st.add(_score(i, 0, False))
    assert st.tick(10.0) == pytest.approx(10.0)
    for i in range(100, 150):
        st.add(_score(i, 0, False))
    assert st.tick(20.0) == pytest.approx(5.0)


# -- honest figures (issue 19) and bounded memory (issue 21 item 10) ---------------------------


def test_recent_ids_are_bounded_and_catch_redeliveries_within_the_window() -> None:
    from fraudstream.local.liveview import RecentIds

    ids = RecentIds(capacity=1000)
    assert [ids.seen(i) for i in range(5000)] == [False] * 5000
    assert len(ids) == 1000 and len(ids._set) == 1000  # never more than the window
    assert ids.seen(4999) and ids.seen(4000)  # recent: a redelivery
    assert not ids.seen(10)  # long gone: counted as new, by design


def test_stats_memory_stays_flat_over_many_events() -> None:
    st = ScoreStats(id_window=500)
    for i in range(20_000):
        st.add(_score(i, i % 2, i % 3 == 0))
    assert len(st.recent) == 500 and st.duplicates == 0 and st.scored == 20_000


def test_trained_on_and_unseen_events_are_counted_apart() -> None:
    st = ScoreStats(in_training=lambda i: i < 100)
    for i, label, anom in [(1, 1, True), (2, 0, False), (3, 0, True),  # trained on
                           (101, 1, False), (102, 1, True), (103, 0, False)]:  # fmt: skip
        st.add(_score(i, label, anom))
    assert (st.trained.tp, st.trained.fp, st.trained.tn) == (1, 1, 1)
    assert (st.unseen.tp, st.unseen.fn, st.unseen.tn) == (1, 1, 1)
    assert st.total.labelled == 6 and st.precision == pytest.approx(2 / 3)
    assert st.unseen.recall == pytest.approx(0.5)
    assert st.total.prevalence == pytest.approx(3 / 6)


def test_the_view_says_what_precision_and_recall_are_computed_on() -> None:
    from rich.console import Console

    from fraudstream.local.liveview import Confusion

    snap = Snapshot(
        elapsed_s=12, events_in=1000, in_rate=100, scored=990, scored_rate=99, anomalies=12,
        precision=0.92, recall=0.81, labelled=900, duplicates=0, undecodable=0,
        versions={"v9": 990}, last_version="v9", metrics=parse_metrics(""),
        prevalence=0.09, labelled_trained=900, unseen=Confusion(), id_window=100_000,
    )  # fmt: skip
    assert snap.basis() == (
        "on the 900 labelled events scored this run, unweighted; 9.0% of them fraud "
        "(the replayed data's rate, not production's ~0.17%); 100% are rows the model was "
        "trained on"
    )
    assert "fraud share 0.090, trained-on 900, unweighted" in snap.line()
    con = Console(record=True, width=200)
    con.print(render(snap))
    text = con.export_text()
    assert "precision*" in text and "unweighted" in text and "last 100,000 ids" in text


def test_live_quality_comes_from_the_monitor_for_the_serving_model() -> None:
    from fraudstream.local.liveview import parse_quality

    text = "\n".join([
        'fraudstream_monitor_precision{model_version="v2",window="1h"} 0.25',
        'fraudstream_monitor_precision{model_version="v1",window="1h"} 0.9',
        'fraudstream_monitor_precision{model_version="v2",window="1d"} 0.5',
        'fraudstream_monitor_recall{model_version="v2",window="1h"} NaN',
        'fraudstream_monitor_precision_weighted{model_version="v2",window="1h"} 0.01',
        'fraudstream_monitor_labelled{model_version="v2",window="1h"} 40',
        'fraudstream_monitor_unlabelled{model_version="v2",window="1h"} 7',
        'fraudstream_monitor_label_delay_seconds{model_version="v2",quantile="0.5",window="1h"}'
        " 4.5",
    ]) + "\n"  # fmt: skip
    q = parse_quality(text, "v2", window="1h")
    assert q is not None
    assert (q.precision, q.recall, q.precision_weighted) == (0.25, None, 0.01)
    assert (q.labelled, q.unlabelled, q.label_delay_p50_s) == (40, 7, 4.5)
    assert parse_quality(text, "v3", window="1h") is None
    assert parse_quality(text, "v2") is None  # the default window is 15m
    snap_line = "live labels (1h): precision=0.250 recall=-"
    from fraudstream.local.liveview import MetricsSample, Snapshot

    s = Snapshot(
        elapsed_s=1, events_in=1, in_rate=1, scored=1, scored_rate=1, anomalies=0,
        precision=None, recall=None, labelled=0, duplicates=0, undecodable=0, versions={},
        last_version=None, metrics=MetricsSample(up=True), live=q,
    )  # fmt: skip
    assert snap_line in s.line()
