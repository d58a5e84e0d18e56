"""The live view over a real scorer process: its counts equal what the scores topic holds,
precision/recall match a recount from the records, and it shows the serving model version."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from fraudstream.local.liveview import LiveView
from fraudstream.local.procs import free_port
from fraudstream.local.stack import Service, Supervisor, python_cli
from fraudstream.local.topics import wait_for_count
from fraudstream.testing.scorer import LiveProducer, make_events, publish_pca_model
from fraudstream.testing.verify import ValueDecoder, read_records

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
N = 3000


def test_liveview_counts_match_scores_topic(
    tmp_path: Path,
    kafka_bootstrap: str,
    schema_registry_url: str,
    topic_factory: Callable[..., str],
) -> None:
    sfx = uuid.uuid4().hex[:8]
    live, scores, source = topic_factory("live", 2), f"scores-{sfx}", f"src-{sfx}"
    models = tmp_path / "models"
    version = publish_pca_model(models)
    port = free_port()
    sup = Supervisor(tmp_path / "stack")
    env = {
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FRAUDSTREAM_REGISTRY_URL": schema_registry_url,
        "FRAUDSTREAM_MODEL_DIR": str(models),
        "FRAUDSTREAM_TOPIC_SCORES": scores,
        "FRAUDSTREAM_TOPIC_ALERTS": f"alerts-{sfx}",
        "FRAUDSTREAM_TOPIC_DLQ": f"dlq-{sfx}",
        "FRAUDSTREAM_METRICS_PORT": str(port),
    }
    prod = LiveProducer(kafka_bootstrap, schema_registry_url, live)
    sup.start(
        Service(
            name="scorer",
            argv=python_cli("score", "--topic", live, "--group", f"g-{sfx}"),
            env=env,
            port=port,
            ready_url=f"http://127.0.0.1:{port}/readyz",
            ready_timeout=120,
        )
    )
    try:
        events = make_events(N, seed=3)
        prod.send(events)
        wait_for_count(kafka_bootstrap, scores, N, timeout=120, settle_s=1.0)
        view = LiveView(
            kafka_bootstrap, schema_registry_url, f"http://127.0.0.1:{port}", scores, source
        )
        snap = view.run(6.0, threading.Event(), interactive=False, log_every=2.0)
    finally:
        sup.stop_all()
    recs = ValueDecoder(schema_registry_url)
    values = [recs(r.value) for r in read_records(kafka_bootstrap, scores)]
    tp = sum(1 for v in values if v["label"] == 1 and v["is_anomaly"])
    fp = sum(1 for v in values if v["label"] == 0 and v["is_anomaly"])
    fn = sum(1 for v in values if v["label"] == 1 and not v["is_anomaly"])
    assert snap.scored == len(values) == N
    assert snap.anomalies == sum(1 for v in values if v["is_anomaly"])
    assert snap.duplicates == 0 and snap.undecodable == 0
    if tp + fp:
        assert snap.precision == pytest.approx(tp / (tp + fp))
    if tp + fn:
        assert snap.recall == pytest.approx(tp / (tp + fn))
    assert snap.versions == {version: N}
    assert snap.metrics.up and snap.metrics.model_version == version
    assert snap.metrics.scored == N


def test_interactive_view_renders_and_stops(kafka_bootstrap: str) -> None:
    """The terminal (rich Live) path: renders, refreshes, stops on time with no scorer up."""
    import io

    from rich.console import Console

    out = io.StringIO()
    con = Console(file=out, force_terminal=True, width=110)
    port = free_port()
    view = LiveView(
        kafka_bootstrap, "http://127.0.0.1:1", f"http://127.0.0.1:{port}", "no-scores", "no-src"
    )
    t0 = time.monotonic()
    snap = view.run(3.0, threading.Event(), interactive=True, console=con)
    assert 2.5 < time.monotonic() - t0 < 30
    assert snap.scored == 0 and not snap.metrics.up
    text = out.getvalue()
    assert "fraudstream — live" in text and "NOT READY" in text
