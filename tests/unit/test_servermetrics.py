"""Every server exports which build it runs and what its process costs (issue 19); the
servers with metrics of their own declare them through one `MetricSet`."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.servermetrics import MetricSet, with_metrics
from fraudstream.version import __version__, git_commit


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _check(text: str, component: str) -> None:
    samples = _samples(text)
    assert samples["fraudstream_build_info"] == [
        ({"component": component, "version": __version__, "commit": git_commit()}, 1.0)
    ]
    assert git_commit() != "unknown"  # the tests run from a checkout
    assert samples["process_resident_memory_bytes"][0][1] > 10 * 1024**2
    assert "process_cpu_seconds_total" in samples and "python_info" in samples


def test_with_metrics_serves_build_and_process_metrics_in_front_of_the_app() -> None:
    inner = Starlette(routes=[Route("/subjects", lambda _r: PlainTextResponse("[]"))])
    client = TestClient(with_metrics(inner, "registry"))
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    _check(resp.text, "registry")
    assert client.get("/subjects").text == "[]"  # everything else is the app's
    assert client.get("/nope").status_code == 404


def test_the_scorer_registry_has_them_too() -> None:
    _check(generate_latest(ScorerMetrics().registry).decode(), "scorer")


def test_metric_set_names_with_its_prefix_and_exports_known_label_values_at_zero() -> None:
    m = MetricSet(CollectorRegistry(), "fraudstream_x_")
    m.counter("refusals", "Refusals by limit.", ["limit"], values=("bytes", "depth"))
    m.counter("reads", "Reads.").inc(3)
    m.gauge("budget", "Not known until set.", nan=True)
    m.gauge("lag", "Per partition.", ["partition"])  # no series until a partition is set
    m.histogram("batch", "Sizes.", (1, 10)).observe(5)
    samples = _samples(generate_latest(m.registry).decode())
    assert samples["fraudstream_x_refusals_total"] == [
        ({"limit": "bytes"}, 0.0),
        ({"limit": "depth"}, 0.0),
    ]
    assert samples["fraudstream_x_reads_total"] == [({}, 3.0)]
    assert math.isnan(samples["fraudstream_x_budget"][0][1])
    assert "fraudstream_x_lag" not in samples
    buckets = {s[0]["le"]: s[1] for s in samples["fraudstream_x_batch_bucket"]}
    assert buckets == {"1.0": 0.0, "10.0": 1.0, "+Inf": 1.0}


def test_metric_set_refuses_label_values_without_exactly_one_label() -> None:
    m = MetricSet(CollectorRegistry(), "fraudstream_x_")
    with pytest.raises(ValueError, match="one label"):
        m.counter("pairs", "Two labels.", ["a", "b"], values=("v",))
    with pytest.raises(ValueError, match="one label"):
        m.counter("plain", "No label.", values=("v",))
    assert list(m.registry.collect()) == []  # refused before anything was registered
