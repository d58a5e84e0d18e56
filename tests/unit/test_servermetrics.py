"""Every server exports which build it runs and what its process costs (issue 19)."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.servermetrics import with_metrics
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
